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
  Value *x = f->getArg(0), *wT = f->getArg(1), *y = f->getArg(2), *rows = f->getArg(3), *k = f->getArg(4);
  // The symbolic plan's tiles (matmulStrided), with x read at a stride in k
  // too (xkStride: a weight gradient reads its left operand transposed) and
  // k a run-time value (the rows a weight gradient sums over).
  s.rowBlocks(s.e_.c64(0), rows, {kTileRows, 2, 1}, [&](Value *r0, int64_t rowsInTile) {
    s.columnBlocks(shape.n, [&](Value *j0, int64_t vectors, unsigned lanes) {
      auto yAt = [&](int64_t i, int64_t c) {
        return b.CreateAdd(b.CreateMul(b.CreateAdd(r0, s.e_.c64(i)), s.e_.c64(shape.yStride)),
                           b.CreateAdd(j0, s.e_.c64(c * lanes)));
      };
      s.registerTile(
          rowsInTile, vectors, lanes, k, x,
          [&](int64_t i, Value *kk) {
            return b.CreateAdd(b.CreateMul(b.CreateAdd(r0, s.e_.c64(i)), s.e_.c64(shape.xStride)),
                               b.CreateMul(kk, s.e_.c64(shape.xkStride)));
          },
          wT, [&](Value *kk, int64_t c) { return b.CreateAdd(b.CreateMul(kk, s.e_.c64(shape.wStride)), b.CreateAdd(j0, s.e_.c64(c * lanes))); },
          [&](int64_t, int64_t) { return s.e_.cf(lanes, 0.0); },
          [&](int64_t i, int64_t c, Value *v) { s.e_.store(v, y, yAt(i, c)); });
    });
  }, "r");
  b.CreateRetVoid();
  RNNC_ASSERT(!verifyFunction(*f, &errs()), "product function " + name + " is valid IR");
  return f;
}

} // namespace detail
} // namespace rnnc::codegen
