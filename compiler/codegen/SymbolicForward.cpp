//===- SymbolicForward.cpp - Forward kernels of the symbolic plan ----------===//
#include "compiler/codegen/SymbolicEmitter.h"
#include "compiler/codegen/PoolSteps.h"

#include "rnnc/abi.h"

namespace rnnc::codegen::detail {

void SymbolicEmitter::elementwise(Function *f, const ir::Op &op) {
  Value *x = arg(f, 0), *y = arg(f, 1);
  Value *n = builder_.CreateMul(batchArg(f), e_.c64(plan::perSampleElements(op.type)));
  e_.vectorLoop(n, [&](unsigned w, Value *j) {
    Value *v = e_.load(w, x, j);
    Value *r = op.kind == OpKind::Relu   ? e_.max(v, e_.cf(w, 0.0))
               : op.kind == OpKind::Tanh ? e_.tanh(v)
                                         : e_.sigmoid(v);
    e_.store(r, y, j);
  });
  finish();
}

void SymbolicEmitter::softmax(Function *f, const ir::Op &op) {
  Value *x = arg(f, 0), *y = arg(f, 1);
  const int64_t width = op.type.dims.back().size;
  Value *rows = builder_.CreateMul(batchArg(f), e_.c64(plan::perSampleElements(op.type) / width));
  AllocaInst *m = e_.slot(e_.f32(), "max"), *sum = e_.slot(e_.f32(), "sum");
  e_.loop(rows, [&](Value *r) {
    Value *row = builder_.CreateMul(r, e_.c64(width));
    builder_.CreateStore(ConstantFP::getInfinity(e_.f32(), true), m);
    e_.loop(e_.c64(width), [&](Value *k) {
      builder_.CreateStore(e_.max(builder_.CreateLoad(e_.f32(), m), e_.load(1, x, builder_.CreateAdd(row, k))), m);
    }, "k");
    builder_.CreateStore(e_.cf(1, 0.0), sum);
    Value *mx = builder_.CreateLoad(e_.f32(), m);
    e_.loop(e_.c64(width), [&](Value *k) {
      Value *v = e_.exp(builder_.CreateFSub(e_.load(1, x, builder_.CreateAdd(row, k)), mx));
      e_.store(v, y, builder_.CreateAdd(row, k));
      builder_.CreateStore(builder_.CreateFAdd(builder_.CreateLoad(e_.f32(), sum), v), sum);
    }, "k");
    Value *inverse = builder_.CreateFDiv(e_.cf(1, 1.0), builder_.CreateLoad(e_.f32(), sum));
    e_.loop(e_.c64(width), [&](Value *k) {
      Value *at = builder_.CreateAdd(row, k);
      e_.store(builder_.CreateFMul(e_.load(1, y, at), inverse), y, at);
    }, "k");
  }, "r");
  finish();
}

void SymbolicEmitter::selectStep(Function *f, const ir::Op &op) {
  const ir::TensorType &x = graph_.op(op.operands[0]).type;
  const int64_t T = x.dims[1].size, F = x.dims[2].size, t = op.kind == OpKind::Last ? T - 1 : 0;
  const bool withLengths = ir::hasLengths(op); // last(h, lengths): step length-1 of each sample
  Value *src = arg(f, 0), *lengths = withLengths ? arg(f, 1) : nullptr, *dst = arg(f, withLengths ? 2 : 1);
  if (withLengths)
    checkLengths(f, lengths, T);
  e_.loop(batchArg(f), [&](Value *b) {
    Value *step = withLengths ? builder_.CreateSub(builder_.CreateSExt(builder_.CreateAlignedLoad(e_.i32(), e_.at(lengths, b, e_.i32()), Align(4)), e_.i64()), e_.c64(1))
                              : e_.c64(t);
    Value *from = builder_.CreateAdd(builder_.CreateMul(b, e_.c64(T * F)), builder_.CreateMul(step, e_.c64(F)));
    Value *to = builder_.CreateMul(b, e_.c64(F));
    e_.vectorLoop(F, [&](unsigned w, Value *j) {
      e_.store(e_.load(w, src, builder_.CreateAdd(from, j)), dst, builder_.CreateAdd(to, j));
    });
  }, "b");
  finish();
}

void SymbolicEmitter::poolSteps(Function *f, const ir::Op &op) {
  const ir::TensorType &x = graph_.op(op.operands[0]).type;
  const int64_t T = x.dims[1].size, F = x.dims[2].size;
  const bool withLengths = ir::hasLengths(op); // over steps 0..length-1 of each sample
  Value *src = arg(f, 0), *lengths = withLengths ? arg(f, 1) : nullptr, *dst = arg(f, withLengths ? 2 : 1);
  if (withLengths)
    checkLengths(f, lengths, T);
  e_.loop(batchArg(f), [&](Value *b) {
    Value *length = withLengths ? lengthAt(lengths, b) : e_.c64(T);
    emitPoolRow(e_, op.kind == OpKind::Max, src, dst, b, length, e_.c64(T), e_.c64(F));
  }, "b");
  finish();
}

void SymbolicEmitter::concat(Function *f, const ir::Op &op) {
  const int64_t axis = op.attrs.getInt("axis");
  int64_t rowsPerSample = 1;
  for (int64_t d = 1; d < axis; ++d)
    rowsPerSample *= op.type.dims[d].size;
  const int64_t outWidth = plan::perSampleElements(op.type) / rowsPerSample;
  const size_t parts = op.operands.size();
  Value *out = arg(f, static_cast<unsigned>(parts));
  Value *rows = builder_.CreateMul(batchArg(f), e_.c64(rowsPerSample));
  e_.loop(rows, [&](Value *r) {
    int64_t offset = 0;
    for (size_t k = 0; k < parts; ++k) {
      const int64_t width = plan::perSampleElements(graph_.op(op.operands[k]).type) / rowsPerSample;
      Value *src = arg(f, static_cast<unsigned>(k));
      Value *from = builder_.CreateMul(r, e_.c64(width));
      Value *to = builder_.CreateAdd(builder_.CreateMul(r, e_.c64(outWidth)), e_.c64(offset));
      e_.vectorLoop(width, [&](unsigned w, Value *j) {
        e_.store(e_.load(w, src, builder_.CreateAdd(from, j)), out, builder_.CreateAdd(to, j));
      });
      offset += width;
    }
  }, "r");
  finish();
}

void SymbolicEmitter::embedding(Function *f, const ir::Op &op) {
  const ir::TensorType &table = graph_.op(op.operands[1]).type;
  const int64_t vocab = table.dims[0].size, dim = table.dims[1].size;
  Value *ids = arg(f, 0), *weights = arg(f, 1), *out = arg(f, 2);
  Value *rows = builder_.CreateMul(batchArg(f), e_.c64(plan::perSampleElements(graph_.op(op.operands[0]).type)));
  LLVMContext &ctx = module_.getContext();
  BasicBlock *bad = BasicBlock::Create(ctx, "bad_token", f);
  e_.loop(rows, [&](Value *i) {
    Value *id = builder_.CreateSExt(builder_.CreateAlignedLoad(e_.i32(), e_.at(ids, i, e_.i32()), Align(4)), e_.i64());
    Value *outside = builder_.CreateICmpUGE(id, e_.c64(vocab)); // negative ids wrap to huge
    BasicBlock *ok = BasicBlock::Create(ctx, "token_ok", f);
    builder_.CreateCondBr(outside, bad, ok);
    builder_.SetInsertPoint(ok);
    Value *from = builder_.CreateMul(id, e_.c64(dim)), *to = builder_.CreateMul(i, e_.c64(dim));
    e_.vectorLoop(dim, [&](unsigned w, Value *j) {
      e_.store(e_.load(w, weights, builder_.CreateAdd(from, j)), out, builder_.CreateAdd(to, j));
    });
  }, "i");
  finish();
  builder_.SetInsertPoint(bad);
  builder_.CreateRet(builder_.getInt32(RNNC_ERR_TOKEN));
}

void SymbolicEmitter::dense(Function *f, const ir::Op &op) {
  const ir::TensorType &w = graph_.op(op.operands[1]).type;
  const int64_t units = w.dims[0].size, in = w.dims[1].size;
  const bool hasBias = op.operands.size() > 2;
  Value *x = arg(f, 0), *wt = arg(f, 1), *bias = hasBias ? arg(f, 2) : nullptr, *y = arg(f, hasBias ? 3 : 2);
  Value *rows = builder_.CreateMul(batchArg(f), e_.c64(plan::perSampleElements(op.type) / units));
  matmulPacked(x, wt, bias, y, rows, in, units);
  finish();
}

void SymbolicEmitter::keep(Value *ws, Value *row, Value *j, int64_t H, int64_t G, std::initializer_list<Value *> values) {
  if (!ws)
    return;
  Value *base = builder_.CreateAdd(builder_.CreateMul(row, e_.c64((G + 1) * H)), j);
  int64_t k = 0;
  for (Value *v : values)
    e_.store(v, ws, builder_.CreateAdd(base, e_.c64(k++ * H)));
}

Value *SymbolicEmitter::inside(Value *lengths, Value *bi, Value *t) {
  if (!lengths)
    return builder_.getTrue();
  Value *length = builder_.CreateSExt(builder_.CreateAlignedLoad(e_.i32(), e_.at(lengths, bi, e_.i32()), Align(4)), e_.i64());
  return builder_.CreateICmpSLT(t, length);
}

Value *SymbolicEmitter::masked(Value *valid, Value *v, double outside) {
  if (auto *c = dyn_cast<ConstantInt>(valid); c && c->isOne())
    return v;
  auto *vector = dyn_cast<FixedVectorType>(v->getType());
  return builder_.CreateSelect(valid, v, e_.cf(vector ? vector->getNumElements() : 1, outside));
}

Value *SymbolicEmitter::lengthAt(Value *lengths, Value *bi) {
  return builder_.CreateSExt(builder_.CreateAlignedLoad(e_.i32(), e_.at(lengths, bi, e_.i32()), Align(4)), e_.i64());
}

Value *SymbolicEmitter::runningRows(Value *lengths, Value *batch, Value *t) {
  IRBuilder<> &b = builder_;
  AllocaInst *count = e_.slot(e_.i64(), "active");
  b.CreateStore(e_.c64(0), count);
  e_.loop(batch, [&](Value *bi) {
    Value *running = b.CreateZExt(b.CreateICmpSGT(lengthAt(lengths, bi), t), e_.i64());
    b.CreateStore(b.CreateAdd(b.CreateLoad(e_.i64(), count), running), count);
  }, "count");
  return b.CreateLoad(e_.i64(), count);
}

Value *SymbolicEmitter::rowAt(Value *order, Value *r) {
  if (!order)
    return r;
  return builder_.CreateSExt(builder_.CreateAlignedLoad(e_.i32(), e_.at(order, r, e_.i32()), Align(4)), e_.i64());
}

void SymbolicEmitter::sortRowsByLength(Value *lengths, Value *order, int64_t T) {
  IRBuilder<> &b = builder_;
  AllocaInst *next = e_.slot(e_.i64(), "next");
  b.CreateStore(e_.c64(0), next);
  // A counting sort over the lengths T, T-1, ..., 1 (checked to be in [1, T]): O(B*T), once per batch.
  e_.loop(e_.c64(T), [&](Value *k) {
    Value *length = b.CreateSub(e_.c64(T), k);
    e_.loop(batchArg(b.GetInsertBlock()->getParent()), [&](Value *bi) {
      Value *l = b.CreateSExt(b.CreateAlignedLoad(e_.i32(), e_.at(lengths, bi, e_.i32()), Align(4)), e_.i64());
      Value *at = b.CreateLoad(e_.i64(), next);
      Value *hit = b.CreateICmpEQ(l, length);
      // Branch-free: write at `at` always, advance only on a hit (order has B slots and at < B until the last hit).
      Value *slot = b.CreateSelect(hit, at, b.CreateSub(batchArg(b.GetInsertBlock()->getParent()), e_.c64(1)));
      Value *prior = b.CreateAlignedLoad(e_.i32(), e_.at(order, slot, e_.i32()), Align(4));
      b.CreateAlignedStore(b.CreateSelect(hit, b.CreateTrunc(bi, e_.i32()), prior), e_.at(order, slot, e_.i32()), Align(4));
      b.CreateStore(b.CreateAdd(at, b.CreateZExt(hit, e_.i64())), next);
    }, "bi");
  }, "len");
}

void SymbolicEmitter::checkLengths(Function *f, Value *lengths, int64_t T) {
  LLVMContext &ctx = module_.getContext();
  BasicBlock *bad = BasicBlock::Create(ctx, "bad_length", f);
  e_.loop(batchArg(f), [&](Value *bi) {
    Value *length = builder_.CreateSExt(builder_.CreateAlignedLoad(e_.i32(), e_.at(lengths, bi, e_.i32()), Align(4)), e_.i64());
    BasicBlock *ok = BasicBlock::Create(ctx, "length_ok", f);
    builder_.CreateCondBr(builder_.CreateICmpUGE(builder_.CreateSub(length, e_.c64(1)), e_.c64(T)), bad, ok); // below 1 wraps to huge
    builder_.SetInsertPoint(ok);
  }, "check");
  BasicBlock *rest = builder_.GetInsertBlock();
  builder_.SetInsertPoint(bad);
  builder_.CreateRet(builder_.getInt32(RNNC_ERR_LENGTH));
  builder_.SetInsertPoint(rest);
}

void SymbolicEmitter::fusedRows(Value *b0, int64_t rows, Value *t, Value *tPrev, Value *tNext, Value *first, Value *kEnd, int64_t T, int64_t H,
                                int64_t G, bool lstm, Value *batch, Value *proj, Value *whhT, Value *bhh, Value *y, Value *cell, Value *ws,
                                Value *lengths, Value *order, Value *jLo, int64_t span, bool panelLayout) {
  IRBuilder<> &b = builder_;
  const int64_t GH = G * H;
  if (!jLo)
    jLo = e_.c64(0), span = H;
  // W_hh^T[k, g*H + j]: in the [H, G*H] matrix, or in this panel's block
  // (k, g, j - jLo) of G * span floats per k (PackedParam::indexOf).
  Value *panelBase = panelLayout ? e_.at(whhT, b.CreateMul(jLo, e_.c64(G * H))) : nullptr;
  auto weightAt = [&](Value *k, int64_t g, Value *j) {
    if (!panelLayout)
      return b.CreateAdd(b.CreateMul(k, e_.c64(GH)), b.CreateAdd(j, e_.c64(g * H)));
    return b.CreateAdd(b.CreateMul(k, e_.c64(G * span)), b.CreateAdd(b.CreateSub(j, jLo), e_.c64(g * span)));
  };
  Value *weights = panelLayout ? panelBase : whhT;
  // row: (batch row, step) in y, [B, T, H]; projRow: in the projection and
  // the workspace, laid out by step ([T, B, ...]); nextRow: the next step's.
  std::vector<Value *> row, prevRow, valid, projRow, nextRow;
  for (int64_t i = 0; i < rows; ++i) {
    Value *bi = rowAt(order, b.CreateAdd(b0, e_.c64(i)));
    valid.push_back(inside(lengths, bi, t));
    row.push_back(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t));
    projRow.push_back(b.CreateAdd(b.CreateMul(t, batch), bi));
    nextRow.push_back(b.CreateAdd(b.CreateMul(tNext, batch), bi));
    prevRow.push_back(b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), tPrev), e_.c64(H)));
  }
  // Hidden units j0 .. j0 + chunks * w.
  auto cells = [&](unsigned w, Value *j0, int64_t chunks) {
    std::vector<Value *> js;
    for (int64_t c = 0; c < chunks; ++c)
      js.push_back(b.CreateAdd(j0, e_.c64(c * w)));
    // acc[i][c][g]; GRU's hn[i][c] holds W_hn h + b_hn.
    std::vector<std::vector<std::vector<AllocaInst *>>> acc(rows, std::vector<std::vector<AllocaInst *>>(chunks));
    std::vector<std::vector<AllocaInst *>> hn(rows, std::vector<AllocaInst *>(chunks, nullptr));
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < chunks; ++c) {
        for (int64_t g = 0; g < G; ++g) {
          acc[i][c].push_back(e_.slot(e_.vec(w), "gate"));
          b.CreateStore(e_.load(w, proj, b.CreateAdd(b.CreateMul(projRow[i], e_.c64(GH)), b.CreateAdd(js[c], e_.c64(g * H)))),
                        acc[i][c][g]);
        }
        // The next step's projection of these units into L2: it lies
        // B * G * H floats on, a jump the hardware prefetcher does not take
        // (x86 prefetches do not fault, so the row past the last step needs
        // no guard).
        for (int64_t g = 0; g < G; ++g)
          e_.prefetch(proj, b.CreateAdd(b.CreateMul(nextRow[i], e_.c64(GH)), b.CreateAdd(js[c], e_.c64(g * H))), false, 2);
        if (!lstm) {
          hn[i][c] = e_.slot(e_.vec(w), "hn");
          b.CreateStore(e_.load(w, bhh, b.CreateAdd(js[c], e_.c64(2 * H))), hn[i][c]);
        }
      }
    e_.loop(e_.c64(0), kEnd, 1, [&](Value *k) {
      std::vector<std::vector<Value *>> wk(chunks);
      for (int64_t c = 0; c < chunks; ++c)
        for (int64_t g = 0; g < G; ++g)
          wk[c].push_back(e_.load(w, weights, weightAt(k, g, js[c])));
      for (int64_t i = 0; i < rows; ++i) {
        Value *hk = e_.splat(w, e_.load(1, y, b.CreateAdd(prevRow[i], k)));
        for (int64_t c = 0; c < chunks; ++c)
          for (int64_t g = 0; g < G; ++g) {
            AllocaInst *target = (!lstm && g == 2) ? hn[i][c] : acc[i][c][g];
            b.CreateStore(e_.fma(hk, wk[c][g], b.CreateLoad(e_.vec(w), target)), target);
          }
      }
    }, "k");
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < chunks; ++c) {
        Value *j = js[c];
        auto a = [&](int64_t g) { return b.CreateLoad(e_.vec(w), acc[i][c][g]); };
        Value *out = b.CreateAdd(b.CreateMul(row[i], e_.c64(H)), j);
        if (lstm) {
          Value *cIndex = b.CreateAdd(b.CreateMul(rowAt(order, b.CreateAdd(b0, e_.c64(i))), e_.c64(H)), j);
          Value *ig = e_.sigmoid(a(0)), *fg = e_.sigmoid(a(1)), *gg = e_.tanh(a(2)), *og = e_.sigmoid(a(3));
          Value *cOld = e_.load(w, cell, cIndex);
          Value *cNew = e_.fma(fg, cOld, b.CreateFMul(ig, gg));
          Value *v = valid[i];
          Value *cKept = lengths ? b.CreateSelect(v, cNew, cOld) : cNew;
          e_.store(cKept, cell, cIndex);
          e_.store(masked(v, b.CreateFMul(og, e_.tanh(cNew)), 0.0), y, out);
          keep(ws, projRow[i], j, H, G, {masked(v, ig, 0.0), masked(v, fg, 0.0), masked(v, gg, 0.0), masked(v, og, 0.0), cKept});
        } else {
          Value *r = e_.sigmoid(a(0)), *z = e_.sigmoid(a(1));
          Value *hnValue = b.CreateLoad(e_.vec(w), hn[i][c]);
          Value *n = e_.tanh(e_.fma(r, hnValue, a(2)));
          Value *hPrev = b.CreateSelect(first, e_.cf(w, 0.0), e_.load(w, y, b.CreateAdd(prevRow[i], j)));
          Value *v = valid[i];
          e_.store(masked(v, e_.fma(z, b.CreateFSub(hPrev, n), n), 0.0), y, out);
          keep(ws, projRow[i], j, H, G, {r, masked(v, z, 0.0), masked(v, n, 1.0), hnValue});
        }
      }
  };
  // Four live vectors per row and chunk; AVX-512 has room for 24, AVX2 for 8.
  // Hidden units jLo .. jLo + span.
  const int64_t w = e_.width, room = w >= 16 ? 24 : 8;
  const int64_t pairs = rows * 4 * 2 <= room ? span / (2 * w) * (2 * w) : 0;
  auto from = [&](int64_t offset) { return b.CreateAdd(jLo, e_.c64(offset)); };
  if (pairs > 0)
    e_.loop(from(0), from(pairs), 2 * w, [&](Value *j) { cells(w, j, 2); }, "j2");
  const int64_t vectorEnd = pairs + (span - pairs) / w * w;
  if (vectorEnd > pairs)
    e_.loop(from(pairs), from(vectorEnd), w, [&](Value *j) { cells(w, j, 1); }, "j");
  if (span > vectorEnd)
    e_.loop(from(vectorEnd), from(span), 1, [&](Value *j) { cells(1, j, 1); }, "jt");
}

void SymbolicEmitter::recurrent(Function *f, const ir::Op &op, const plan::Step &step) {
  const ir::RecurrentFacts facts = ir::recurrentFacts(op);
  const bool lstm = facts.lstm(), reverse = facts.reverse;
  const ir::TensorType &xt = graph_.op(op.operands[0]).type;
  const int64_t T = xt.dims[1].size, I = xt.dims[2].size, H = facts.hidden;
  const int64_t G = facts.gates(), GH = G * H;
  const bool hoist = plan_.options.hoistInputProjection, fuse = plan_.options.fuseCells;
  const bool withLengths = ir::hasLengths(op);
  Value *x = arg(f, 0), *wihT = arg(f, 1), *whhT = arg(f, 2), *bias = arg(f, 3), *bhh = arg(f, 4);
  Value *lengths = withLengths ? arg(f, 5) : nullptr, *y = arg(f, withLengths ? 6 : 5);
  Value *proj = scratchArg(f, step, plan::Scratch::Projection), *cell = scratchArg(f, step, plan::Scratch::CellState),
        *gatesBuf = scratchArg(f, step, plan::Scratch::Gates), *ws = scratchArg(f, step, plan::Scratch::Workspace);
  RNNC_ASSERT(hoist == (proj != nullptr) && lstm == (cell != nullptr) && !fuse == (gatesBuf != nullptr),
              "the plan made the scratch this kernel reads");
  Value *batch = batchArg(f);
  IRBuilder<> &b = builder_;

  // With lengths (fused and hoisted), the work follows the real tokens: the
  // rows are sorted by length once, and step t computes only the rows still
  // running (a prefix of the order); the others' outputs stay 0. Otherwise
  // every row runs every step and the rows past their length are masked.
  Value *order = scratchArg(f, step, plan::Scratch::RowOrder);
  RNNC_ASSERT(!order || (lengths && fuse && hoist), "rows are ordered by length only on the fused, hoisted path");
  Value *maskBy = order ? nullptr : lengths;
  auto lengthOf = [&](Value *bi) { return lengthAt(lengths, bi); };
  if (lengths)
    checkLengths(f, lengths, T);
  if (order) {
    sortRowsByLength(lengths, order, T);
    if (plan_.options.skipPadRows) // the pad steps' outputs 0: the recurrence writes every real one
      e_.loop(batch, [&](Value *bi) {
        Value *real = lengthOf(bi);
        b.CreateMemSet(e_.at(y, b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), real), e_.c64(H))), b.getInt8(0),
                       b.CreateMul(b.CreateSub(e_.c64(T), real), e_.c64(H * 4)), MaybeAlign(4));
      }, "pad");
    else
      e_.vectorLoop(b.CreateMul(batch, e_.c64(T * H)), [&](unsigned w, Value *j) { e_.store(e_.cf(w, 0.0), y, j); });
  }

  // 1. The input projection of every time step (with ordered rows: of each
  // sample's real steps only), laid out by step, [T, B, G*H]: a step reads
  // its rows from one contiguous block instead of rows T * G * H floats
  // apart. Per sample, its T rows of x go to rows B apart.
  if (hoist)
    e_.loop(batch, [&](Value *bi) {
      matmulStrided(e_.at(x, b.CreateMul(bi, e_.c64(T * I))), I, wihT, bias, e_.at(proj, b.CreateMul(bi, e_.c64(GH))),
                    b.CreateMul(batch, e_.c64(GH)), order ? lengthOf(bi) : e_.c64(T), I, GH, false);
    }, "sample");
  if (lstm)
    e_.vectorLoop(b.CreateMul(batch, e_.c64(H)), [&](unsigned w, Value *j) { e_.store(e_.cf(w, 0.0), cell, j); });

  // 2. The recurrence.
  e_.loop(e_.c64(T), [&](Value *s) {
    Value *t = reverse ? b.CreateSub(e_.c64(T - 1), s) : s;
    Value *first = b.CreateICmpEQ(s, e_.c64(0));
    Value *tPrev = b.CreateSelect(first, t, reverse ? b.CreateAdd(t, e_.c64(1)) : b.CreateSub(t, e_.c64(1)));
    Value *kEnd = b.CreateSelect(first, e_.c64(0), e_.c64(H)); // h_{-1} = 0: no recurrent product
    Value *tNext = reverse ? b.CreateSub(t, e_.c64(1)) : b.CreateAdd(t, e_.c64(1));
    // Fused and hoisted: blocks of rows share each loaded recurrent weight.
    // Four live vectors per row and chunk (LSTM: the gates; GRU: r, z, the
    // n gate's projection and W_hn h): AVX-512's 32 registers hold 6 rows
    // (24 accumulators) and the 4 weight vectors, AVX2's 16 hold 2 rows;
    // the rows left over go in smaller blocks, down to single rows.
    // With ordered rows: those whose length is above t.
    Value *active = order ? runningRows(lengths, batch, t) : batch;
    Value *firstSingle = e_.c64(0);
    const std::vector<int64_t> blockRows = e_.width >= 16 ? std::vector<int64_t>{6, 4, 2, 1} : std::vector<int64_t>{2, 1};
    // W_hh^T larger than L2 (H = 512: 4 MiB): every block of rows would
    // stream all of it from memory. Instead, per panel of hidden units (its
    // columns of W_hh^T, at most plan::kRecurrentPanelBytes, stay in L2)
    // every block of rows; h_{t-1}, read once per panel, is the smaller
    // matrix. With H a multiple of plan::kPanelAlign the panels are packed
    // contiguous (plan::PackedParam::panel); otherwise they are columns of
    // the [H, G*H] matrix. Each output element is computed by the same
    // operations either way.
    const int64_t packedPanel = plan_.packed[plan_.packedFor[op.operands[2]]].panel;
    const int64_t panel = packedPanel ? packedPanel : plan::recurrentPanel(H, G, e_.width);
    auto allRows = [&](Value *jLo, int64_t span) {
      return rowBlocks(e_.c64(0), active, blockRows, [&](Value *b0, int64_t rows) {
        fusedRows(b0, rows, t, tPrev, tNext, first, kEnd, T, H, G, lstm, batch, proj, whhT, bhh, y, cell, ws, maskBy, order, jLo, span,
                  packedPanel > 0);
      }, "bb");
    };
    if (fuse && hoist && panel > 0 && panel < H) {
      const int64_t whole = H / panel * panel;
      e_.loop(e_.c64(0), e_.c64(whole), panel, [&](Value *j0) { firstSingle = allRows(j0, panel); }, "panel");
      if (whole < H)
        firstSingle = allRows(e_.c64(whole), H - whole);
      firstSingle = active; // every row went through the blocks (the last block size is 1)
    } else if (fuse && hoist) {
      firstSingle = allRows(nullptr, H);
    }
    // The rows that have ended: output 0 (zeroed above), the cell kept, and
    // for the gradient a workspace that makes it 0 (see masked()); with
    // skipPadRows recurrent_grad reads nothing of the pad steps' workspace.
    if (order && ws && !plan_.options.skipPadRows)
      e_.loop(active, batch, 1, [&](Value *r) {
        Value *bi = rowAt(order, r);
        Value *row = b.CreateAdd(b.CreateMul(t, batch), bi); // the workspace's, by step
        e_.vectorLoop(H, [&](unsigned w, Value *j) {
          Value *zero = e_.cf(w, 0.0);
          if (lstm)
            keep(ws, row, j, H, G, {zero, zero, zero, zero, e_.load(w, cell, b.CreateAdd(b.CreateMul(bi, e_.c64(H)), j))});
          else
            keep(ws, row, j, H, G, {zero, zero, e_.cf(w, 1.0), zero});
        });
      }, "ended");
    e_.loop(firstSingle, active, 1, [&](Value *r) {
      Value *bi = rowAt(order, r);
      Value *row = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t);
      Value *prevRow = b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), tPrev), e_.c64(H));
      Value *valid = inside(maskBy, bi, t);
      Value *stepRow = b.CreateAdd(b.CreateMul(t, batch), bi); // in the projection and the workspace
      Value *projRow = hoist ? b.CreateMul(stepRow, e_.c64(GH)) : nullptr;
      Value *xRow = b.CreateMul(row, e_.c64(I));

      // Pre-activations of the gates for hidden units j..j+w: the input part
      // (hoisted or computed here), then the recurrent product.
      auto preActivations = [&](unsigned w, Value *j, std::vector<AllocaInst *> &acc, AllocaInst *&hn) {
        for (int64_t g = 0; g < G; ++g) {
          acc.push_back(e_.slot(e_.vec(w), "gate"));
          Value *col = b.CreateAdd(j, e_.c64(g * H));
          b.CreateStore(hoist ? e_.load(w, proj, b.CreateAdd(projRow, col)) : e_.load(w, bias, col), acc[g]);
        }
        if (!hoist) {
          e_.loop(e_.c64(I), [&](Value *k) {
            Value *xk = e_.splat(w, e_.load(1, x, b.CreateAdd(xRow, k)));
            for (int64_t g = 0; g < G; ++g) {
              Value *wk = e_.load(w, wihT, b.CreateAdd(b.CreateMul(k, e_.c64(GH)), b.CreateAdd(j, e_.c64(g * H))));
              b.CreateStore(e_.fma(xk, wk, b.CreateLoad(e_.vec(w), acc[g])), acc[g]);
            }
          }, "k");
        }
        if (!lstm) { // GRU: the n gate keeps W_hn h + b_hn apart
          hn = e_.slot(e_.vec(w), "hn");
          b.CreateStore(e_.load(w, bhh, b.CreateAdd(j, e_.c64(2 * H))), hn);
        }
        e_.loop(e_.c64(0), kEnd, 1, [&](Value *k) {
          Value *hk = e_.splat(w, e_.load(1, y, b.CreateAdd(prevRow, k)));
          Value *wRow = b.CreateMul(k, e_.c64(GH));
          for (int64_t g = 0; g < G; ++g) {
            AllocaInst *target = (!lstm && g == 2) ? hn : acc[g];
            Value *wk = e_.load(w, whhT, b.CreateAdd(wRow, b.CreateAdd(j, e_.c64(g * H))));
            b.CreateStore(e_.fma(hk, wk, b.CreateLoad(e_.vec(w), target)), target);
          }
        }, "k");
      };

      // The state update of hidden units j..j+w from the pre-activations.
      auto update = [&](unsigned w, Value *j, const std::vector<Value *> &a, Value *hnValue) {
        Value *out = b.CreateAdd(b.CreateMul(row, e_.c64(H)), j);
        if (lstm) {
          Value *cIndex = b.CreateAdd(b.CreateMul(bi, e_.c64(H)), j);
          Value *i = e_.sigmoid(a[0]), *fg = e_.sigmoid(a[1]), *g = e_.tanh(a[2]), *o = e_.sigmoid(a[3]);
          Value *cOld = e_.load(w, cell, cIndex);
          Value *c = e_.fma(fg, cOld, b.CreateFMul(i, g));
          Value *cKept = maskBy ? b.CreateSelect(valid, c, cOld) : c;
          e_.store(cKept, cell, cIndex);
          e_.store(masked(valid, b.CreateFMul(o, e_.tanh(c)), 0.0), y, out);
          keep(ws, stepRow, j, H, G, {masked(valid, i, 0.0), masked(valid, fg, 0.0), masked(valid, g, 0.0), masked(valid, o, 0.0), cKept});
        } else {
          Value *r = e_.sigmoid(a[0]), *z = e_.sigmoid(a[1]);
          Value *n = e_.tanh(e_.fma(r, hnValue, a[2]));
          Value *hPrev = b.CreateSelect(first, e_.cf(w, 0.0), e_.load(w, y, b.CreateAdd(prevRow, j)));
          e_.store(masked(valid, e_.fma(z, b.CreateFSub(hPrev, n), n), 0.0), y, out); // (1-z) n + z h
          keep(ws, stepRow, j, H, G, {r, masked(valid, z, 0.0), masked(valid, n, 1.0), hnValue});
        }
      };

      if (fuse) {
        e_.vectorLoop(H, [&](unsigned w, Value *j) {
          std::vector<AllocaInst *> acc;
          AllocaInst *hn = nullptr;
          preActivations(w, j, acc, hn);
          std::vector<Value *> a;
          for (AllocaInst *slot : acc)
            a.push_back(b.CreateLoad(e_.vec(w), slot));
          update(w, j, a, hn ? b.CreateLoad(e_.vec(w), hn) : nullptr);
        });
      } else {
        // Unfused: the pre-activations go to memory, a second loop reads them.
        const int64_t stride = (G + 1) * H;
        Value *gRow = b.CreateMul(bi, e_.c64(stride));
        e_.vectorLoop(H, [&](unsigned w, Value *j) {
          std::vector<AllocaInst *> acc;
          AllocaInst *hn = nullptr;
          preActivations(w, j, acc, hn);
          for (int64_t g = 0; g < G; ++g)
            e_.store(b.CreateLoad(e_.vec(w), acc[g]), gatesBuf, b.CreateAdd(gRow, b.CreateAdd(j, e_.c64(g * H))));
          if (hn)
            e_.store(b.CreateLoad(e_.vec(w), hn), gatesBuf, b.CreateAdd(gRow, b.CreateAdd(j, e_.c64(G * H))));
        });
        e_.vectorLoop(H, [&](unsigned w, Value *j) {
          std::vector<Value *> a;
          for (int64_t g = 0; g < G; ++g)
            a.push_back(e_.load(w, gatesBuf, b.CreateAdd(gRow, b.CreateAdd(j, e_.c64(g * H)))));
          update(w, j, a, lstm ? nullptr : e_.load(w, gatesBuf, b.CreateAdd(gRow, b.CreateAdd(j, e_.c64(G * H)))));
        });
      }
    }, "r");
  }, "s");
  finish();
}

} // namespace rnnc::codegen::detail
