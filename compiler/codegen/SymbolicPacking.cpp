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
    if (p.layout == plan::PackedParam::Layout::Transposed)
      transposeInto(src, dst, p.rows, p.cols, &p);
    else
      packBiasSum(params, packed, p);
  }
  builder_.CreateRetVoid();
}

void SymbolicEmitter::packBiasSum(Value *params, Value *packed, const plan::PackedParam &p) {
  // dst[k] = b_ih[k] + (k < sumUpTo ? b_hh[k] : 0.0): -0.0 packs as +0.0
  Value *src = e_.at(params, e_.c64(paramOffset(p.source))), *dst = e_.at(packed, e_.c64(p.offset));
  Value *second = e_.at(params, e_.c64(paramOffset(p.second)));
  e_.vectorLoop(p.sumUpTo, [&](unsigned w, Value *k) {
    e_.store(builder_.CreateFAdd(e_.load(w, src, k), e_.load(w, second, k)), dst, k);
  });
  Value *restFrom = e_.at(src, e_.c64(p.sumUpTo)), *restTo = e_.at(dst, e_.c64(p.sumUpTo));
  e_.vectorLoop(p.cols - p.sumUpTo, [&](unsigned w, Value *k) {
    e_.store(builder_.CreateFAdd(e_.load(w, restFrom, k), e_.cf(w, 0.0)), restTo, k);
  });
}

void SymbolicEmitter::transposeInto(Value *src, Value *dst, int64_t rows, int64_t cols, const plan::PackedParam *p) {
  IRBuilder<> &b = builder_;
  const int64_t w = e_.width;
  if (rows < w || cols < w) {
    RNNC_ASSERT(!p || !p->panel, "a weight packed in panels holds whole tiles");
    // dst[c * rows + r] = src[r * cols + c], element by element (a small
    // weight: a dense layer's single row or column).
    e_.loop(e_.c64(rows), [&](Value *r) {
      e_.loop(e_.c64(cols), [&](Value *c) {
        e_.store(e_.load(1, src, b.CreateAdd(b.CreateMul(r, e_.c64(cols)), c)), dst,
                 b.CreateAdd(b.CreateMul(c, e_.c64(rows)), r));
      }, "c");
    }, "r");
    return;
  }
  const int64_t rowTiles = (rows + w - 1) / w;
  e_.loop(e_.c64(rowTiles), [&](Value *tr) {
    transposeRowTile(src, dst, rows, cols, b.CreateBinaryIntrinsic(Intrinsic::smin, b.CreateMul(tr, e_.c64(w)), e_.c64(rows - w)),
                     p);
  }, "tr");
}

void SymbolicEmitter::transposeRowTile(Value *src, Value *dst, int64_t rows, int64_t cols, Value *r0,
                                       const plan::PackedParam *p) {
  // Tiles of w x w: w rows loaded as vectors, transposed in registers, stored
  // as w contiguous runs of a column. (Element by element, packing took 15 us
  // of a 36 us batch-1 training step on Zen 4.) The last tile of a row
  // starts at cols - w, overlapping the one before it: it writes the same
  // values again, so that no tile reads or writes past the tensor.
  IRBuilder<> &b = builder_;
  const int64_t w = e_.width;
  RNNC_ASSERT(rows >= w && cols >= w, "a tile fits in the weight");
  // Where column c of the tile's rows r0..r0+w-1 goes: c * rows + r0, or in
  // panels (PackedParam::indexOf; the w rows are one gate's units of one
  // panel: H and the panel width are multiples of w, and so is r0).
  Value *base = r0, *stride = e_.c64(rows);
  if (p && p->panel) {
    const int64_t H = cols, G = rows / cols, P = p->panel;
    RNNC_ASSERT(H % w == 0 && P % w == 0, "panels hold whole tiles");
    Value *g = b.CreateUDiv(r0, e_.c64(H)), *j = b.CreateURem(r0, e_.c64(H));
    Value *panel = b.CreateUDiv(j, e_.c64(P));
    Value *width = b.CreateSelect(b.CreateICmpULT(panel, e_.c64(H / P)), e_.c64(P), e_.c64(H - H / P * P));
    base = b.CreateAdd(b.CreateMul(panel, e_.c64(P * G * H)),
                       b.CreateAdd(b.CreateMul(g, width), b.CreateSub(j, b.CreateMul(panel, e_.c64(P)))));
    stride = b.CreateMul(width, e_.c64(G));
  }
  const int64_t colTiles = (cols + w - 1) / w;
  e_.loop(e_.c64(colTiles), [&](Value *tc) {
    Value *c0 = b.CreateBinaryIntrinsic(Intrinsic::smin, b.CreateMul(tc, e_.c64(w)), e_.c64(cols - w));
    std::vector<Value *> v;
    for (int64_t i = 0; i < w; ++i)
      v.push_back(e_.load(unsigned(w), src, b.CreateAdd(b.CreateMul(b.CreateAdd(r0, e_.c64(i)), e_.c64(cols)), c0)));
    // The block transpose as butterflies: for h = w/2, ..., 1 each pair of
    // rows (i, i + h) swaps its off-diagonal h x h blocks.
    for (int64_t h = w / 2; h >= 1; h /= 2)
      for (int64_t i = 0; i < w; ++i) {
        if (i & h)
          continue;
        SmallVector<int, 16> low, high;
        for (int64_t j = 0; j < w; ++j) {
          low.push_back(int((j & h) == 0 ? j : w + j - h));
          high.push_back(int((j & h) == 0 ? j + h : w + j));
        }
        Value *a = v[i], *c = v[i + h];
        v[i] = b.CreateShuffleVector(a, c, low);
        v[i + h] = b.CreateShuffleVector(a, c, high);
      }
    for (int64_t j = 0; j < w; ++j)
      e_.store(v[j], dst, b.CreateAdd(b.CreateMul(b.CreateAdd(c0, e_.c64(j)), stride), base));
  }, "tc");
}

void SymbolicEmitter::emitAdamUpdate() {
  IRBuilder<> &b = builder_;
  auto *type = FunctionType::get(b.getVoidTy(), {e_.ptr(), e_.ptr(), e_.ptr(), e_.ptr(), e_.ptr(), e_.ptr()}, false);
  Function *f = Function::Create(type, Function::ExternalLinkage, "__rnnc_adam_update", module_);
  f->addFnAttr(Attribute::NoUnwind);
  for (unsigned k = 0; k < 5; ++k)
    f->addParamAttr(k, Attribute::NoAlias);
  b.SetInsertPoint(BasicBlock::Create(module_.getContext(), "entry", f));
  Value *params = f->getArg(0), *packed = f->getArg(1), *grads = f->getArg(2), *m = f->getArg(3), *v = f->getArg(4),
        *coefficients = f->getArg(5);
  // b1, b2, eps, weight decay, step size lr / (1 - b1^t), sqrt(1 - b2^t)
  std::vector<Value *> k;
  for (int64_t i = 0; i < 6; ++i)
    k.push_back(e_.load(1, coefficients, e_.c64(i)));
  Value *oneMinusB1 = b.CreateFSub(e_.cf(1, 1.0), k[0]), *oneMinusB2 = b.CreateFSub(e_.cf(1, 1.0), k[1]);
  // 1 / sqrt(1 - b2^t) in double: the division by it is a product in double
  // rounded once to float, the same float as the quotient (docs/training.md,
  // "Adam"), and off the divider.
  Type *f64 = b.getDoubleTy();
  Value *inverseRoot = b.CreateFDiv(ConstantFP::get(f64, 1.0), b.CreateFPExt(k[5], f64));
  // The runtime's Adam (runtime/modelrt/optimizer.c), operation for
  // operation, over [from, from + n): the same bits.
  auto adam = [&](Value *from, Value *n) {
    Value *p = e_.at(params, from), *g = e_.at(grads, from), *mm = e_.at(m, from), *vv = e_.at(v, from);
    e_.vectorLoop(n, [&](unsigned w, Value *j) {
      auto s = [&](Value *x) { return e_.splat(w, x); };
      Value *pj = e_.load(w, p, j);
      Value *grad = b.CreateFAdd(e_.load(w, g, j), b.CreateFMul(s(k[3]), pj));
      Value *mj = b.CreateFAdd(b.CreateFMul(s(k[0]), e_.load(w, mm, j)), b.CreateFMul(s(oneMinusB1), grad));
      Value *vj = b.CreateFAdd(b.CreateFMul(s(k[1]), e_.load(w, vv, j)), b.CreateFMul(b.CreateFMul(s(oneMinusB2), grad), grad));
      Value *root = b.CreateUnaryIntrinsic(Intrinsic::sqrt, vj);
      Type *wide = w == 1 ? f64 : static_cast<Type *>(FixedVectorType::get(f64, w));
      Value *scaled = b.CreateFPTrunc(b.CreateFMul(b.CreateFPExt(root, wide), s(inverseRoot)), root->getType());
      Value *denominator = b.CreateFAdd(scaled, s(k[2]));
      e_.store(mj, mm, j);
      e_.store(vj, vv, j);
      e_.store(b.CreateFSub(pj, b.CreateFDiv(b.CreateFMul(s(k[4]), mj), denominator)), p, j);
    });
  };
  const int64_t w = e_.width;
  for (size_t i = 0; i < plan_.params.size(); ++i) {
    const ir::ValueId id = plan_.params[i];
    const int64_t offset = plan_.paramOffsets[i], n = *graph_.op(id).type.elementCount();
    const int packedIndex = plan_.packedFor[id];
    const plan::PackedParam *p = packedIndex >= 0 ? &plan_.packed[packedIndex] : nullptr;
    if (!p || p->layout != plan::PackedParam::Layout::Transposed || p->rows < w || p->cols < w) {
      adam(e_.c64(offset), e_.c64(n));
      if (p && p->layout == plan::PackedParam::Layout::Transposed)
        transposeInto(e_.at(params, e_.c64(offset)), e_.at(packed, e_.c64(p->offset)), p->rows, p->cols, p);
      continue;
    }
    // Per block of w rows: the update of its rows, then their tiles packed
    // while they are in L1. The last block packs rows - w.. (the rows before
    // it are updated already: packed again, they give the same values).
    const int64_t rows = p->rows, cols = p->cols, blocks = (rows + w - 1) / w;
    e_.loop(e_.c64(blocks), [&](Value *blk) {
      Value *first = b.CreateMul(blk, e_.c64(w));
      Value *count = b.CreateBinaryIntrinsic(Intrinsic::smin, e_.c64(w), b.CreateSub(e_.c64(rows), first));
      adam(b.CreateAdd(e_.c64(offset), b.CreateMul(first, e_.c64(cols))), b.CreateMul(count, e_.c64(cols)));
      transposeRowTile(e_.at(params, e_.c64(offset)), e_.at(packed, e_.c64(p->offset)), rows, cols,
                       b.CreateBinaryIntrinsic(Intrinsic::smin, first, e_.c64(rows - w)), p);
    }, "rows");
  }
  for (const plan::PackedParam &p : plan_.packed)
    if (p.layout == plan::PackedParam::Layout::BiasSum)
      packBiasSum(params, packed, p);
  b.CreateRetVoid();
}

int64_t SymbolicEmitter::paramOffset(ir::ValueId id) const {
  const Location &loc = plan_.locations[id];
  RNNC_ASSERT(loc.kind == Location::Kind::Param, "packed tensors come from parameters");
  return plan_.paramOffsets[loc.index];
}

} // namespace rnnc::codegen::detail
