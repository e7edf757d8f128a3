//===- SymbolicCodegen.cpp - The whole forward graph as one program -------===//
//
// __rnnc_symbolic_forward(params, packed, arena, batch, inputs, outputs)
// calls one kernel per op, each specialized for the op's static shapes and
// reading weights in the packed layout. A recurrent layer is one fused
// kernel: the input projection of all time steps as one matrix product
// first, then per step and per chunk of hidden units the recurrent products,
// biases, gate activations and state update in one loop nest, in registers.
//===----------------------------------------------------------------------===//
#include "compiler/codegen/SymbolicEmitter.h"

namespace rnnc::codegen {

using detail::SymbolicEmitter;

void emitSymbolicPlan(const ir::Graph &graph, const plan::SymbolicPlan &plan, llvm::Module &module, unsigned width,
                      bool withPack) {
  SymbolicEmitter(graph, plan, module, width).run(withPack);
}

} // namespace rnnc::codegen
