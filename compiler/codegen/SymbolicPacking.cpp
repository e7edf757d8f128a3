//===- SymbolicPacking.cpp - __rnnc_pack: weights into the kernel layout ---===//
#include "compiler/codegen/SymbolicEmitter.h"

namespace rnnc::codegen::detail {

void SymbolicEmitter::emitPack() {
  auto *type = FunctionType::get(builder_.getVoidTy(), {e_.ptr(), e_.ptr()}, false);
  Function *f = Function::Create(type, Function::ExternalLinkage, "__rnnc_pack", module_);
  builder_.SetInsertPoint(BasicBlock::Create(module_.getContext(), "entry", f));
  Value *params = f->getArg(0), *packed = f->getArg(1);
  for (const plan::PackedParam &p : plan_.packed) {
    Value *src = e_.at(params, e_.c64(paramOffset(p.source)));
    Value *dst = e_.at(packed, e_.c64(p.offset));
    if (p.layout == plan::PackedParam::Layout::Transposed) {
      // dst[c * rows + r] = src[r * cols + c], in blocks of 16 columns: each
      // row's 16 reads are contiguous and the 16 write streams stay in L1.
      // (Column by column, every store touched a new cache line: packing
      // took 60 us of a 125 us batch-1 training step.)
      const int64_t block = 16, blocks = (p.cols + block - 1) / block;
      e_.loop(e_.c64(blocks), [&](Value *b) {
        Value *c0 = builder_.CreateMul(b, e_.c64(block));
        Value *width = builder_.CreateBinaryIntrinsic(Intrinsic::smin, e_.c64(block),
                                                      builder_.CreateSub(e_.c64(p.cols), c0));
        e_.loop(e_.c64(p.rows), [&](Value *r) {
          e_.loop(width, [&](Value *k) {
            Value *c = builder_.CreateAdd(c0, k);
            Value *v = e_.load(1, src, builder_.CreateAdd(builder_.CreateMul(r, e_.c64(p.cols)), c));
            e_.store(v, dst, builder_.CreateAdd(builder_.CreateMul(c, e_.c64(p.rows)), r));
          }, "c");
        }, "r");
      }, "block");
    } else {
      // dst[k] = b_ih[k] + (k < sumUpTo ? b_hh[k] : 0)
      Value *second = e_.at(params, e_.c64(paramOffset(p.second)));
      e_.loop(e_.c64(p.cols), [&](Value *k) {
        Value *v = e_.load(1, src, k);
        Value *extra = builder_.CreateSelect(builder_.CreateICmpSLT(k, e_.c64(p.sumUpTo)),
                                             e_.load(1, second, k), e_.cf(1, 0.0));
        e_.store(builder_.CreateFAdd(v, extra), dst, k);
      }, "k");
    }
  }
  builder_.CreateRetVoid();
}

int64_t SymbolicEmitter::paramOffset(ir::ValueId id) const {
  const Location &loc = plan_.locations[id];
  RNNC_ASSERT(loc.kind == Location::Kind::Param, "packed tensors come from parameters");
  return plan_.paramOffsets[loc.index];
}

} // namespace rnnc::codegen::detail
