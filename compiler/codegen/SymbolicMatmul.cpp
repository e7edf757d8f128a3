//===- SymbolicMatmul.cpp - The register-tiled product the kernels share ---===//
#include "compiler/codegen/SymbolicEmitter.h"

namespace rnnc::codegen::detail {

void SymbolicEmitter::matmulPacked(Value *x, Value *wT, Value *bias, Value *y, Value *rows, int64_t k, int64_t n) {
  matmulStrided(x, k, wT, bias, y, n, rows, k, n, false);
}

void SymbolicEmitter::matmulStrided(Value *x, int64_t xStride, Value *wT, Value *bias, Value *y, int64_t yStride, Value *rows,
                                    int64_t k, int64_t n, bool accumulate, int64_t wStride) {
  matmulTiled(x, xStride, 1, wT, wStride < 0 ? n : wStride, bias, y, yStride, rows, e_.c64(k), n, accumulate);
}

void SymbolicEmitter::matmulTiled(Value *x, int64_t xStride, int64_t xkStride, Value *wT, int64_t wStride, Value *bias, Value *y,
                                  int64_t yStride, Value *rows, Value *k, int64_t n, bool accumulate) {
  IRBuilder<> &b = builder_;
  // Register blocking: tiles of up to kRows rows times kColumns vectors of
  // accumulators, so that each loaded weight vector feeds kRows FMAs and
  // each broadcast input kColumns. AVX-512 (32 registers): 6 x 4 = 24
  // accumulators, 4 weight vectors, the broadcast folded into the FMA;
  // AVX2 and SSE (16 registers): 6 x 2 = 12, 2 weights, 1 broadcast. Two
  // FMA ports with a 4-cycle latency need at least 8 independent chains.
  // Every element still sums over k in order from its start value, so the
  // tile shape never changes a result.
  const int64_t w = e_.width, kRows = 6, kColumns = w >= 16 ? 4 : 2;
  auto tile = [&](Value *r0, int64_t rowsInTile, Value *j0, int64_t vectors, unsigned lanes) {
    std::vector<AllocaInst *> acc;
    for (int64_t i = 0; i < rowsInTile; ++i)
      for (int64_t c = 0; c < vectors; ++c) {
        acc.push_back(e_.slot(e_.vec(lanes), "acc"));
        Value *col = b.CreateAdd(j0, e_.c64(c * lanes));
        Value *start = accumulate ? e_.load(lanes, y, b.CreateAdd(b.CreateMul(b.CreateAdd(r0, e_.c64(i)), e_.c64(yStride)), col))
                       : bias     ? e_.load(lanes, bias, col)
                                  : e_.cf(lanes, 0.0);
        b.CreateStore(start, acc.back());
      }
    e_.loop(k, [&](Value *kk) {
      std::vector<Value *> weights;
      for (int64_t c = 0; c < vectors; ++c)
        weights.push_back(e_.load(lanes, wT, b.CreateAdd(b.CreateMul(kk, e_.c64(wStride)), b.CreateAdd(j0, e_.c64(c * lanes)))));
      for (int64_t i = 0; i < rowsInTile; ++i) {
        Value *xk = e_.splat(lanes, e_.load(1, x, b.CreateAdd(b.CreateMul(b.CreateAdd(r0, e_.c64(i)), e_.c64(xStride)),
                                                              b.CreateMul(kk, e_.c64(xkStride)))));
        for (int64_t c = 0; c < vectors; ++c) {
          AllocaInst *a = acc[i * vectors + c];
          b.CreateStore(e_.fma(xk, weights[c], b.CreateLoad(e_.vec(lanes), a)), a);
        }
      }
    }, "k");
    for (int64_t i = 0; i < rowsInTile; ++i)
      for (int64_t c = 0; c < vectors; ++c) {
        Value *at = b.CreateAdd(b.CreateMul(b.CreateAdd(r0, e_.c64(i)), e_.c64(yStride)), b.CreateAdd(j0, e_.c64(c * lanes)));
        e_.store(b.CreateLoad(e_.vec(lanes), acc[i * vectors + c]), y, at);
      }
  };
  // Columns: blocks of kColumns vectors, then of 2, then single vectors,
  // then scalars.
  auto rowTiles = [&](Value *r0, int64_t rowsInTile) {
    int64_t j = 0;
    for (int64_t vectors : {kColumns, int64_t(2), int64_t(1)}) {
      if (vectors > kColumns)
        continue;
      const int64_t span = vectors * w, end = j + (n - j) / span * span;
      if (end > j)
        e_.loop(e_.c64(j), e_.c64(end), span, [&](Value *j0) { tile(r0, rowsInTile, j0, vectors, w); }, "j");
      j = end;
    }
    if (n > j)
      e_.loop(e_.c64(j), e_.c64(n), 1, [&](Value *j0) { tile(r0, rowsInTile, j0, 1, 1); }, "jt");
  };
  // Rows: blocks of kRows, then of 2, then single rows.
  rowBlocks(e_.c64(0), rows, {kRows, 2, 1}, rowTiles, "r");
}

Value *SymbolicEmitter::rowBlocks(Value *begin, Value *end, const std::vector<int64_t> &sizes,
                                  const std::function<void(Value *, int64_t)> &body, const char *name) {
  IRBuilder<> &b = builder_;
  for (int64_t size : sizes) {
    Value *blockEnd = b.CreateAdd(begin, b.CreateMul(b.CreateSDiv(b.CreateSub(end, begin), e_.c64(size)), e_.c64(size)));
    e_.loop(begin, blockEnd, size, [&](Value *r0) { body(r0, size); }, name);
    begin = blockEnd;
  }
  return begin;
}

} // namespace rnnc::codegen::detail
