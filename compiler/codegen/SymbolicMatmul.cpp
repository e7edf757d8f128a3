//===- SymbolicMatmul.cpp - The register-tiled products the kernels share -===//
#include "compiler/codegen/SymbolicEmitter.h"

namespace rnnc::codegen::detail {

void SymbolicEmitter::matmulPacked(Value *x, Value *wT, Value *bias, Value *y, Value *rows, int64_t k, int64_t n) {
  matmulStrided(x, k, wT, bias, y, e_.c64(n), rows, k, n, false);
}

void SymbolicEmitter::registerTile(int64_t rowsInTile, int64_t vectors, unsigned lanes, Value *k, Value *x,
                                   const std::function<Value *(int64_t, Value *)> &xAt, Value *w,
                                   const std::function<Value *(Value *, int64_t)> &wAt,
                                   const std::function<Value *(int64_t, int64_t)> &start,
                                   const std::function<void(int64_t, int64_t, Value *)> &done) {
  IRBuilder<> &b = builder_;
  std::vector<AllocaInst *> acc;
  for (int64_t i = 0; i < rowsInTile; ++i)
    for (int64_t c = 0; c < vectors; ++c) {
      acc.push_back(e_.slot(e_.vec(lanes), "acc"));
      b.CreateStore(start(i, c), acc.back());
    }
  e_.loop(k, [&](Value *kk) {
    std::vector<Value *> weights;
    for (int64_t c = 0; c < vectors; ++c)
      weights.push_back(e_.load(lanes, w, wAt(kk, c)));
    for (int64_t i = 0; i < rowsInTile; ++i) {
      Value *xk = e_.splat(lanes, e_.load(1, x, xAt(i, kk)));
      for (int64_t c = 0; c < vectors; ++c) {
        AllocaInst *a = acc[i * vectors + c];
        b.CreateStore(e_.fma(xk, weights[c], b.CreateLoad(e_.vec(lanes), a)), a);
      }
    }
  }, "k");
  for (int64_t i = 0; i < rowsInTile; ++i)
    for (int64_t c = 0; c < vectors; ++c)
      done(i, c, b.CreateLoad(e_.vec(lanes), acc[i * vectors + c]));
}

void SymbolicEmitter::columnBlocks(int64_t n, const std::function<void(Value *, int64_t, unsigned)> &body) {
  const int64_t w = e_.width, kColumns = tileColumns();
  int64_t j = 0;
  for (int64_t vectors : {kColumns, int64_t(2), int64_t(1)}) {
    if (vectors > kColumns)
      continue;
    const int64_t span = vectors * w, end = j + (n - j) / span * span;
    if (end > j)
      e_.loop(e_.c64(j), e_.c64(end), span, [&](Value *j0) { body(j0, vectors, w); }, "j");
    j = end;
  }
  if (n > j)
    e_.loop(e_.c64(j), e_.c64(n), 1, [&](Value *j0) { body(j0, 1, 1); }, "jt");
}

void SymbolicEmitter::matmulStrided(Value *x, int64_t xStride, Value *wT, Value *bias, Value *y, Value *yStride, Value *rows,
                                    int64_t k, int64_t n, bool accumulate, int64_t wStride) {
  IRBuilder<> &b = builder_;
  if (wStride < 0)
    wStride = n;
  // Register blocking: tiles of up to kTileRows rows times tileColumns()
  // vectors of accumulators, so that each loaded weight vector feeds
  // kTileRows FMAs and each broadcast input tileColumns(). AVX-512 (32
  // registers): 6 x 4 = 24 accumulators, 4 weight vectors, the broadcast
  // folded into the FMA; AVX2 and SSE (16 registers): 6 x 2 = 12, 2
  // weights, 1 broadcast. Two FMA ports with a 4-cycle latency need at
  // least 8 independent chains. Every element still sums over k in order
  // from its start value, so the tile shape never changes a result.
  auto rowTiles = [&](Value *r0, int64_t rowsInTile) {
    columnBlocks(n, [&](Value *j0, int64_t vectors, unsigned lanes) {
      auto yAt = [&](int64_t i, int64_t c) {
        return b.CreateAdd(b.CreateMul(b.CreateAdd(r0, e_.c64(i)), yStride), b.CreateAdd(j0, e_.c64(c * lanes)));
      };
      registerTile(
          rowsInTile, vectors, lanes, e_.c64(k), x,
          [&](int64_t i, Value *kk) { return b.CreateAdd(b.CreateMul(b.CreateAdd(r0, e_.c64(i)), e_.c64(xStride)), kk); },
          wT, [&](Value *kk, int64_t c) { return b.CreateAdd(b.CreateMul(kk, e_.c64(wStride)), b.CreateAdd(j0, e_.c64(c * lanes))); },
          [&](int64_t i, int64_t c) -> Value * {
            return accumulate ? e_.load(lanes, y, yAt(i, c))
                   : bias     ? e_.load(lanes, bias, b.CreateAdd(j0, e_.c64(c * lanes)))
                              : e_.cf(lanes, 0.0);
          },
          [&](int64_t i, int64_t c, Value *v) { e_.store(v, y, yAt(i, c)); });
    });
  };
  // Rows: blocks of kTileRows, then of 2, then single rows.
  rowBlocks(e_.c64(0), rows, {kTileRows, 2, 1}, rowTiles, "r");
}

void SymbolicEmitter::matmulWeightGrad(Value *dy, int64_t units, Value *x, int64_t width, Value *dw, Value *rows, Value *panels,
                                       Value *lengths, int64_t T) {
  IRBuilder<> &b = builder_;
  const int64_t kc = plan::kWeightGradRowBlock, span = tileColumns() * e_.width;
  RNNC_ASSERT(span <= plan::kWeightGradPanelColumns, "the plan's panels hold a column panel of the widest tile");
  // panels: [0, kc * units) the block of dy rows, per register tile of u0..u0+m
  // at u0 * kc as [kk][m] (the m broadcasts of one k side by side); then the
  // block of x rows of one column panel as [kk][span].
  Value *dyPanel = panels, *xPanel = e_.at(panels, e_.c64(kc * units));
  const std::vector<int64_t> tileRows = {kTileRows, 2, 1};
  // The first block of rows starts every element from 0 (so dW is not zeroed
  // first: that was a pass over the whole weight for nothing at batch 1);
  // with no rows at all, dW is zeroed.
  b.CreateMemSet(dw, b.getInt8(0),
                 b.CreateSelect(b.CreateICmpSGT(rows, e_.c64(0)), e_.c64(0), e_.c64(units * width * 4)), MaybeAlign(4));
  // Copies m floats from `from` to `to` in pieces of 16, 8, 4, 2 and 1
  // (no masked moves: masked stores are slow on some cores, Zen 4 among them).
  auto copy = [&](Value *from, Value *to, int64_t m) {
    int64_t done = 0;
    for (int64_t piece : {16, 8, 4, 2, 1})
      for (; m - done >= piece; done += piece) {
        Type *type = piece == 1 ? e_.f32() : piece == 2 ? static_cast<Type *>(b.getInt64Ty()) : e_.vec(unsigned(piece));
        b.CreateAlignedStore(b.CreateAlignedLoad(type, e_.at(from, e_.c64(done)), Align(4)), e_.at(to, e_.c64(done)), Align(4));
      }
  };
  auto block = [&](Value *r0, Value *end) {
    Value *count = b.CreateBinaryIntrinsic(Intrinsic::smin, e_.c64(kc), b.CreateSub(end, r0));
    Value *dyBlock = e_.at(dy, b.CreateMul(r0, e_.c64(units))), *xBlock = e_.at(x, b.CreateMul(r0, e_.c64(width)));
    // 1. dy's block, rearranged per register tile: the tile's m broadcasts of
    //    one row are contiguous, and its whole panel is read in order.
    //    Row by row, so that dy is read in order.
    e_.loop(count, [&](Value *kk) {
      Value *from = e_.at(dyBlock, b.CreateMul(kk, e_.c64(units)));
      rowBlocks(e_.c64(0), e_.c64(units), tileRows, [&](Value *u0, int64_t m) {
        copy(e_.at(from, u0), e_.at(dyPanel, b.CreateAdd(b.CreateMul(u0, e_.c64(kc)), b.CreateMul(kk, e_.c64(m)))), m);
      }, "pack");
    }, "kk");
    // 2. Per column panel of x (copied to contiguous rows unless it already
    //    is), every register tile of dW over the block's rows; each element
    //    still sums the rows in order from its previous value.
    //    Meanwhile the next block's rows of dy and x (far outside the caches:
    //    B*T rows) come into L2, a share of them before each register tile
    //    of the full column panels, so that their reading from memory
    //    overlaps the products instead of stalling step 1 and the x copies.
    //    (After the last block, and with lengths at a sample's end, the
    //    "next" rows lie past the data: x86 prefetches do not fault, and
    //    the addresses are plain GEPs, see Emitter::prefetch.)
    Value *nextRow = b.CreateAdd(r0, e_.c64(kc));
    Value *nextDy = b.CreateGEP(e_.f32(), dy, b.CreateMul(nextRow, e_.c64(units)));
    Value *nextX = b.CreateGEP(e_.f32(), x, b.CreateMul(nextRow, e_.c64(width)));
    const int64_t fullPanels = width / span, shares = fullPanels * units;
    auto prefetchShare = [&](Value *base, int64_t total, Value *q, int64_t m) {
      Value *from = b.CreateUDiv(b.CreateMul(q, e_.c64(total)), e_.c64(shares));
      Value *to = b.CreateUDiv(b.CreateMul(b.CreateAdd(q, e_.c64(m)), e_.c64(total)), e_.c64(shares));
      e_.loop(from, to, e_.width, [&](Value *at) { e_.prefetch(base, at, false, 2); }, "pf");
    };
    columnBlocks(width, [&](Value *j0, int64_t vectors, unsigned lanes) {
      const bool full = vectors == tileColumns() && lanes == unsigned(e_.width);
      Value *wBase = e_.at(xBlock, j0);
      int64_t wStride = width;
      if (lanes > 1 && vectors * lanes != width) {
        e_.loop(count, [&](Value *kk) {
          for (int64_t c = 0; c < vectors; ++c)
            copy(e_.at(wBase, b.CreateAdd(b.CreateMul(kk, e_.c64(width)), e_.c64(c * lanes))),
                 e_.at(xPanel, b.CreateAdd(b.CreateMul(kk, e_.c64(vectors * lanes)), e_.c64(c * lanes))), lanes);
        }, "kk");
        wBase = xPanel, wStride = vectors * lanes;
      }
      rowBlocks(e_.c64(0), e_.c64(units), tileRows, [&](Value *u0, int64_t m) {
        if (full) { // share q of the full panels' tiles, in units of dW rows
          Value *q = b.CreateAdd(b.CreateMul(b.CreateUDiv(j0, e_.c64(span)), e_.c64(units)), u0);
          prefetchShare(nextDy, kc * units, q, m);
          prefetchShare(nextX, kc * width, q, m);
        }
        Value *panel = e_.at(dyPanel, b.CreateMul(u0, e_.c64(kc)));
        auto yAt = [&](int64_t i, int64_t c) {
          return b.CreateAdd(b.CreateMul(b.CreateAdd(u0, e_.c64(i)), e_.c64(width)), b.CreateAdd(j0, e_.c64(c * lanes)));
        };
        registerTile(
            m, vectors, lanes, count, panel, [&](int64_t i, Value *kk) { return b.CreateAdd(b.CreateMul(kk, e_.c64(m)), e_.c64(i)); },
            wBase, [&](Value *kk, int64_t c) { return b.CreateAdd(b.CreateMul(kk, e_.c64(wStride)), e_.c64(c * lanes)); },
            [&](int64_t i, int64_t c) {
              return b.CreateSelect(b.CreateICmpEQ(r0, e_.c64(0)), e_.cf(lanes, 0.0), e_.load(lanes, dw, yAt(i, c)));
            },
            [&](int64_t i, int64_t c, Value *v) { e_.store(v, dw, yAt(i, c)); });
      }, "u");
    });
  };
  if (lengths) // per sample its real steps: rows [b*T, b*T + length), blocks inside them
    e_.loop(b.CreateUDiv(rows, e_.c64(T)), [&](Value *bi) {
      Value *first = b.CreateMul(bi, e_.c64(T)), *end = b.CreateAdd(first, lengthAt(lengths, bi));
      e_.loop(first, end, kc, [&](Value *r0) { block(r0, end); }, "block");
    }, "sample");
  else
    e_.loop(e_.c64(0), rows, kc, [&](Value *r0) { block(r0, rows); }, "block");
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
