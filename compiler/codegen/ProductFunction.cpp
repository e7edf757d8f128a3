//===- ProductFunction.cpp - The shared tiled product for other callers ---===//
//
// The imperative plan's matrix products go through the same register-tiled
// generator as the symbolic plan's (SymbolicEmitter::matmulTiled), so that
// the two plans differ in how they run the graph, not in kernel quality.
// The product reads only the builder and the vector width: the emitter is
// made with an empty graph and plan.
//===----------------------------------------------------------------------===//
#include "compiler/codegen/SymbolicEmitter.h"

#include "llvm/IR/Verifier.h"

namespace rnnc::codegen {

llvm::Function *emitProductFunction(llvm::Module &module, unsigned width, const std::string &name,
                                    const ProductShape &shape) {
  return detail::SymbolicEmitter::productFunction(module, width, name, shape);
}

namespace detail {

Function *SymbolicEmitter::productFunction(Module &module, unsigned width, const std::string &name,
                                           const ProductShape &shape) {
  RNNC_ASSERT(shape.n > 0 && shape.wStride >= shape.n && shape.yStride >= shape.n, "a product shape with columns");
  static const ir::Graph noGraph{};
  static const plan::SymbolicPlan noPlan{};
  SymbolicEmitter s(noGraph, noPlan, module, width);
  IRBuilder<> &b = s.builder_;
  Type *ptr = b.getPtrTy(), *i64 = b.getInt64Ty();
  auto *type = FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr, i64, i64}, false);
  Function *f = Function::Create(type, Function::InternalLinkage, name, module);
  f->addFnAttr(Attribute::NoUnwind);
  for (unsigned k = 0; k < 3; ++k)
    f->addParamAttr(k, Attribute::NoAlias);
  b.SetInsertPoint(BasicBlock::Create(module.getContext(), "entry", f));
  s.matmulTiled(f->getArg(0), shape.xStride, shape.xkStride, f->getArg(1), shape.wStride, nullptr, f->getArg(2),
                shape.yStride, f->getArg(3), f->getArg(4), shape.n, false);
  b.CreateRetVoid();
  RNNC_ASSERT(!verifyFunction(*f, &errs()), "product function " + name + " is valid IR");
  return f;
}

} // namespace detail
} // namespace rnnc::codegen
