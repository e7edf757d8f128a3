//===- SymbolicTraining.cpp - Kernels of the gradient ops (symbolic plan) -===//
#include "compiler/codegen/SymbolicEmitter.h"
#include "compiler/codegen/PoolSteps.h"

namespace rnnc::codegen::detail {


// --- Training kernels ---------------------------------------------------------

/// The number of elements of a value in a kernel (fixed, or scaled by batch).
static Value *elementsOf(Emitter &e, IRBuilder<> &b, const ir::TensorType &type, Value *batch) {
  if (plan::isFixedSize(type))
    return e.c64(*type.elementCount());
  return b.CreateMul(batch, e.c64(plan::perSampleElements(type)));
}

bool SymbolicEmitter::emitTrainingKernel(Function *f, const ir::Op &op, const plan::Step &step) {
  IRBuilder<> &b = builder_;
  Value *batch = batchArg(f);
  auto zero = [&](Value *buffer, Value *n) { b.CreateMemSet(buffer, b.getInt8(0), b.CreateMul(n, e_.c64(4)), MaybeAlign(4)); };
  switch (op.kind) {
  case OpKind::Dropout:
  case OpKind::DropoutGrad: {
    const double p = op.attrs.getNumber("p");
    const int64_t stream = op.kind == OpKind::Dropout ? ir::dropoutStream(graph_, step.op) : op.attrs.getInt("stream");
    Value *x = arg(f, 0), *y = arg(f, 1);
    e_.loop(elementsOf(e_, b, op.type, batch), [&](Value *i) {
      Value *keep = b.CreateFCmpOGE(e_.dropoutUniform(seedArg(f), stepArg(f), e_.c64(stream), i), e_.cf(1, p));
      Value *scaled = b.CreateFMul(e_.load(1, x, i), e_.cf(1, 1.0 / (1.0 - p)));
      e_.store(b.CreateSelect(keep, scaled, e_.cf(1, 0.0)), y, i);
    });
    finish();
    return true;
  }
  case OpKind::Mse:
  case OpKind::Mae:
  case OpKind::BceWithLogits:
  case OpKind::SoftmaxCrossEntropy:
  case OpKind::LossGrad: {
    const OpKind loss = ir::lossKindOf(op);
    const bool grad = op.kind == OpKind::LossGrad;
    const ir::TensorType &predType = graph_.op(op.operands[0]).type;
    Value *pred = arg(f, 0), *target = arg(f, 1), *out = arg(f, 2);
    Type *f64 = b.getDoubleTy();
    AllocaInst *sum = e_.slot(f64, "sum");
    b.CreateStore(ConstantFP::get(f64, 0.0), sum);
    auto add = [&](Value *v) { b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, sum), b.CreateFPExt(v, f64)), sum); };
    auto logOf = [&](Value *v) { return b.CreateIntrinsic(Intrinsic::log, {v->getType()}, {v}); };
    if (loss == OpKind::SoftmaxCrossEntropy) {
      const int64_t classes = predType.dims[1].size;
      BasicBlock *bad = BasicBlock::Create(module_.getContext(), "bad_class", f);
      AllocaInst *m = e_.slot(e_.f32(), "max"), *denominator = e_.slot(e_.f32(), "sum_exp");
      e_.loop(batch, [&](Value *r) {
        Value *row = b.CreateMul(r, e_.c64(classes));
        Value *label = b.CreateSExt(b.CreateAlignedLoad(e_.i32(), e_.at(target, r, e_.i32()), Align(4)), e_.i64());
        BasicBlock *ok = BasicBlock::Create(module_.getContext(), "class_ok", f);
        b.CreateCondBr(b.CreateICmpUGE(label, e_.c64(classes)), bad, ok);
        b.SetInsertPoint(ok);
        b.CreateStore(ConstantFP::getInfinity(e_.f32(), true), m);
        e_.loop(e_.c64(classes), [&](Value *k) { b.CreateStore(e_.max(b.CreateLoad(e_.f32(), m), e_.load(1, pred, b.CreateAdd(row, k))), m); }, "k");
        b.CreateStore(e_.cf(1, 0.0), denominator);
        Value *mx = b.CreateLoad(e_.f32(), m);
        e_.loop(e_.c64(classes), [&](Value *k) {
          Value *v = e_.exp(b.CreateFSub(e_.load(1, pred, b.CreateAdd(row, k)), mx));
          b.CreateStore(b.CreateFAdd(b.CreateLoad(e_.f32(), denominator), v), denominator);
        }, "k");
        Value *total = b.CreateLoad(e_.f32(), denominator);
        if (grad) {
          Value *scale = b.CreateFDiv(e_.cf(1, 1.0), b.CreateFMul(total, b.CreateSIToFP(batch, e_.f32())));
          e_.loop(e_.c64(classes), [&](Value *k) {
            Value *softmax = b.CreateFMul(e_.exp(b.CreateFSub(e_.load(1, pred, b.CreateAdd(row, k)), mx)), scale);
            Value *hot = b.CreateSelect(b.CreateICmpEQ(k, label), b.CreateFDiv(e_.cf(1, 1.0), b.CreateSIToFP(batch, e_.f32())), e_.cf(1, 0.0));
            e_.store(b.CreateFSub(softmax, hot), out, b.CreateAdd(row, k));
          }, "k");
        } else {
          Value *lse = b.CreateFAdd(mx, logOf(total));
          add(b.CreateFSub(lse, e_.load(1, pred, b.CreateAdd(row, label))));
        }
      }, "r");
      if (!grad)
        e_.store(b.CreateFPTrunc(b.CreateFDiv(b.CreateLoad(f64, sum), b.CreateSIToFP(batch, f64)), e_.f32()), out, e_.c64(0));
      finish();
      b.SetInsertPoint(bad);
      b.CreateRet(b.getInt32(RNNC_ERR_TOKEN)); // a class id outside the classes
      return true;
    }
    Value *n = elementsOf(e_, b, predType, batch);
    Value *inverseN = b.CreateFDiv(e_.cf(1, 1.0), b.CreateSIToFP(n, e_.f32()));
    e_.loop(n, [&](Value *i) {
      Value *p = e_.load(1, pred, i), *t = e_.load(1, target, i), *d = b.CreateFSub(p, t);
      Value *v;
      if (loss == OpKind::Mse)
        v = grad ? b.CreateFMul(b.CreateFMul(d, e_.cf(1, 2.0)), inverseN) : b.CreateFMul(d, d);
      else if (loss == OpKind::Mae)
        v = grad ? b.CreateFMul(b.CreateSelect(b.CreateFCmpOGT(d, e_.cf(1, 0.0)), e_.cf(1, 1.0),
                                               b.CreateSelect(b.CreateFCmpOLT(d, e_.cf(1, 0.0)), e_.cf(1, -1.0), e_.cf(1, 0.0))),
                                inverseN)
                 : b.CreateIntrinsic(Intrinsic::fabs, {e_.f32()}, {d});
      else // binary cross-entropy on logits: max(p,0) - p t + log(1 + exp(-|p|))
        v = grad ? b.CreateFMul(b.CreateFSub(e_.sigmoid(p), t), inverseN)
                 : b.CreateFAdd(b.CreateFSub(e_.max(p, e_.cf(1, 0.0)), b.CreateFMul(p, t)),
                                logOf(b.CreateFAdd(e_.cf(1, 1.0), e_.exp(b.CreateFNeg(b.CreateIntrinsic(Intrinsic::fabs, {e_.f32()}, {p}))))));
      if (grad)
        e_.store(v, out, i);
      else
        add(v);
    });
    if (!grad)
      e_.store(b.CreateFPTrunc(b.CreateFDiv(b.CreateLoad(f64, sum), b.CreateSIToFP(n, f64)), e_.f32()), out, e_.c64(0));
    finish();
    return true;
  }
  case OpKind::DenseGradInput: { // dx[r, :] = sum_u dy[r, u] w[u, :]: w is already [U, I] row-major
    const ir::TensorType &w = graph_.op(op.operands[1]).type;
    const int64_t units = w.dims[0].size, width = w.dims[1].size;
    Value *dy = arg(f, 0), *lengths = step.rowLengths ? arg(f, 2) : nullptr, *dx = arg(f, lengths ? 3 : 2);
    if (lengths) { // per sample its real steps (a prefix of its T rows); the rest of dx is 0
      const int64_t T = op.type.dims[1].size;
      e_.loop(batch, [&](Value *bi) {
        Value *first = b.CreateMul(bi, e_.c64(T)), *real = lengthAt(lengths, bi);
        matmulStrided(e_.at(dy, b.CreateMul(first, e_.c64(units))), units, arg(f, 1), nullptr,
                      e_.at(dx, b.CreateMul(first, e_.c64(width))), e_.c64(width), real, units, width, false);
        zero(e_.at(dx, b.CreateMul(b.CreateAdd(first, real), e_.c64(width))), b.CreateMul(b.CreateSub(e_.c64(T), real), e_.c64(width)));
      }, "sample");
    } else {
      Value *rows = b.CreateUDiv(elementsOf(e_, b, op.type, batch), e_.c64(width));
      matmulStrided(dy, units, arg(f, 1), nullptr, dx, e_.c64(width), rows, units, width, false);
    }
    finish();
    return true;
  }
  case OpKind::DenseGradWeight: { // dW[u, :] = sum_r dy[r, u] x[r, :], over every row of the batch (and time)
    const int64_t units = op.type.dims[0].size, width = op.type.dims[1].size;
    Value *panels = scratchArg(f, step, plan::Scratch::Panels);
    RNNC_ASSERT(panels, "the plan made the panels of dense_grad_weight");
    Value *lengths = step.rowLengths ? arg(f, 2) : nullptr;
    Value *rows = b.CreateUDiv(elementsOf(e_, b, graph_.op(op.operands[0]).type, batch), e_.c64(units));
    matmulWeightGrad(arg(f, 0), units, arg(f, 1), width, arg(f, lengths ? 3 : 2), rows, panels, lengths,
                     lengths ? graph_.op(op.operands[0]).type.dims[1].size : 0);
    finish();
    return true;
  }
  case OpKind::SumRows: {
    const int64_t units = op.type.dims[0].size;
    Value *x = arg(f, 0), *lengths = step.rowLengths ? arg(f, 1) : nullptr, *out = arg(f, lengths ? 2 : 1);
    zero(out, e_.c64(units));
    auto addRows = [&](Value *begin, Value *end) {
      e_.loop(begin, end, 1, [&](Value *r) {
        Value *row = b.CreateMul(r, e_.c64(units));
        e_.vectorLoop(units, [&](unsigned lanes, Value *j) {
          e_.store(b.CreateFAdd(e_.load(lanes, out, j), e_.load(lanes, x, b.CreateAdd(row, j))), out, j);
        });
      }, "r");
    };
    if (lengths) { // the rows of the real steps, in order
      const int64_t T = graph_.op(op.operands[0]).type.dims[1].size;
      e_.loop(batch, [&](Value *bi) {
        Value *first = b.CreateMul(bi, e_.c64(T));
        addRows(first, b.CreateAdd(first, lengthAt(lengths, bi)));
      }, "sample");
    } else {
      addRows(e_.c64(0), b.CreateUDiv(elementsOf(e_, b, graph_.op(op.operands[0]).type, batch), e_.c64(units)));
    }
    finish();
    return true;
  }
  case OpKind::ShiftSteps: {
    const int64_t T = op.type.dims[1].size, H = op.type.dims[2].size;
    const bool reverse = op.attrs.getBool("reverse");
    Value *y = arg(f, 0), *out = arg(f, 1);
    e_.loop(batch, [&](Value *bi) {
      e_.loop(e_.c64(T), [&](Value *t) {
        Value *to = b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t), e_.c64(H));
        Value *edge = b.CreateICmpEQ(t, e_.c64(reverse ? T - 1 : 0));
        Value *from = b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), b.CreateSelect(edge, t, reverse ? b.CreateAdd(t, e_.c64(1)) : b.CreateSub(t, e_.c64(1)))), e_.c64(H));
        e_.vectorLoop(H, [&](unsigned lanes, Value *j) {
          Value *v = b.CreateSelect(edge, e_.cf(lanes, 0.0), e_.load(lanes, y, b.CreateAdd(from, j)));
          e_.store(v, out, b.CreateAdd(to, j));
        });
      }, "t");
    }, "b");
    finish();
    return true;
  }
  case OpKind::Slice: {
    const ir::TensorType &x = graph_.op(op.operands[0]).type;
    const int64_t axis = op.attrs.getInt("axis"), offset = op.attrs.getInt("offset"), width = op.attrs.getInt("width");
    int64_t outerPerSample = 1, inner = 1;
    for (int64_t d = 1; d < axis; ++d)
      outerPerSample *= x.dims[d].size;
    for (size_t d = axis + 1; d < x.rank(); ++d)
      inner *= x.dims[d].size;
    const int64_t along = x.dims[axis].size;
    Value *src = arg(f, 0), *out = arg(f, 1);
    e_.loop(b.CreateMul(batch, e_.c64(outerPerSample)), [&](Value *o) {
      Value *from = b.CreateMul(b.CreateAdd(b.CreateMul(o, e_.c64(along)), e_.c64(offset)), e_.c64(inner));
      Value *to = b.CreateMul(o, e_.c64(width * inner));
      e_.vectorLoop(width * inner, [&](unsigned lanes, Value *j) {
        e_.store(e_.load(lanes, src, b.CreateAdd(from, j)), out, b.CreateAdd(to, j));
      });
    }, "o");
    finish();
    return true;
  }
  case OpKind::StepGrad: {
    const int64_t T = op.attrs.getInt("steps"), index = op.attrs.getInt("index"), F = op.type.dims[2].size;
    const bool withLengths = ir::hasLengths(op); // at step length-1 of each sample
    Value *dy = arg(f, 0), *lengths = withLengths ? arg(f, 1) : nullptr, *out = arg(f, withLengths ? 2 : 1);
    if (withLengths)
      checkLengths(f, lengths, T);
    zero(out, elementsOf(e_, b, op.type, batch));
    e_.loop(batch, [&](Value *bi) {
      Value *step = withLengths ? b.CreateSub(b.CreateSExt(b.CreateAlignedLoad(e_.i32(), e_.at(lengths, bi, e_.i32()), Align(4)), e_.i64()), e_.c64(1))
                                : e_.c64(index);
      Value *to = b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), step), e_.c64(F));
      e_.vectorLoop(F, [&](unsigned lanes, Value *j) {
        e_.store(e_.load(lanes, dy, b.CreateAdd(b.CreateMul(bi, e_.c64(F)), j)), out, b.CreateAdd(to, j));
      });
    }, "b");
    finish();
    return true;
  }
  case OpKind::MeanGrad:
  case OpKind::MaxGrad: { // (dy, max_grad: x, then the lengths if any) -> [B,T,F]
    const int64_t T = op.type.dims[1].size, F = op.type.dims[2].size;
    const bool max = op.kind == OpKind::MaxGrad, withLengths = ir::hasLengths(op);
    const unsigned lengthsAt = max ? 2 : 1;
    Value *dy = arg(f, 0), *x = max ? arg(f, 1) : nullptr, *lengths = withLengths ? arg(f, lengthsAt) : nullptr;
    Value *out = arg(f, lengthsAt + (withLengths ? 1 : 0));
    if (withLengths)
      checkLengths(f, lengths, T);
    e_.loop(batch, [&](Value *bi) {
      emitPoolGradRow(e_, max, dy, x, out, bi, withLengths ? lengthAt(lengths, bi) : e_.c64(T), e_.c64(T), e_.c64(F));
    }, "b");
    finish();
    return true;
  }
  case OpKind::EmbeddingGrad: {
    const int64_t vocab = op.attrs.getInt("vocab"), dim = op.type.dims[1].size;
    Value *ids = arg(f, 0), *dy = arg(f, 1), *out = arg(f, 2);
    zero(out, e_.c64(vocab * dim));
    BasicBlock *bad = BasicBlock::Create(module_.getContext(), "bad_token", f);
    e_.loop(b.CreateUDiv(elementsOf(e_, b, graph_.op(op.operands[1]).type, batch), e_.c64(dim)), [&](Value *i) {
      Value *id = b.CreateSExt(b.CreateAlignedLoad(e_.i32(), e_.at(ids, i, e_.i32()), Align(4)), e_.i64());
      BasicBlock *ok = BasicBlock::Create(module_.getContext(), "token_ok", f);
      b.CreateCondBr(b.CreateICmpUGE(id, e_.c64(vocab)), bad, ok);
      b.SetInsertPoint(ok);
      Value *row = b.CreateMul(id, e_.c64(dim)), *from = b.CreateMul(i, e_.c64(dim));
      e_.vectorLoop(dim, [&](unsigned lanes, Value *j) {
        Value *at = b.CreateAdd(row, j);
        e_.store(b.CreateFAdd(e_.load(lanes, out, at), e_.load(lanes, dy, b.CreateAdd(from, j))), out, at);
      });
    }, "i");
    finish();
    b.SetInsertPoint(bad);
    b.CreateRet(b.getInt32(RNNC_ERR_TOKEN));
    return true;
  }
  case OpKind::ActivationGrad: {
    const std::string fn = op.attrs.getString("fn");
    Value *dy = arg(f, 0), *y = arg(f, 1), *dx = arg(f, 2);
    if (fn == "softmax") {
      const int64_t width = op.type.dims.back().size;
      AllocaInst *dot = e_.slot(e_.f32(), "dot");
      e_.loop(b.CreateUDiv(elementsOf(e_, b, op.type, batch), e_.c64(width)), [&](Value *r) {
        Value *row = b.CreateMul(r, e_.c64(width));
        b.CreateStore(e_.cf(1, 0.0), dot);
        e_.loop(e_.c64(width), [&](Value *k) {
          Value *at = b.CreateAdd(row, k);
          b.CreateStore(e_.fma(e_.load(1, dy, at), e_.load(1, y, at), b.CreateLoad(e_.f32(), dot)), dot);
        }, "k");
        Value *d = b.CreateLoad(e_.f32(), dot);
        e_.loop(e_.c64(width), [&](Value *k) {
          Value *at = b.CreateAdd(row, k);
          e_.store(b.CreateFMul(e_.load(1, y, at), b.CreateFSub(e_.load(1, dy, at), d)), dx, at);
        }, "k");
      }, "r");
    } else {
      e_.vectorLoop(elementsOf(e_, b, op.type, batch), [&](unsigned w, Value *j) {
        Value *g = e_.load(w, dy, j), *v = e_.load(w, y, j);
        Value *local = fn == "relu"   ? b.CreateSelect(b.CreateFCmpOGT(v, e_.cf(w, 0.0)), e_.cf(w, 1.0), e_.cf(w, 0.0))
                       : fn == "tanh" ? b.CreateFSub(e_.cf(w, 1.0), b.CreateFMul(v, v))
                                      : b.CreateFMul(v, b.CreateFSub(e_.cf(w, 1.0), v));
        e_.store(b.CreateFMul(g, local), dx, j);
      });
    }
    finish();
    return true;
  }
  case OpKind::Add: {
    Value *x = arg(f, 0), *y = arg(f, 1), *out = arg(f, 2);
    e_.vectorLoop(elementsOf(e_, b, op.type, batch), [&](unsigned w, Value *j) {
      e_.store(b.CreateFAdd(e_.load(w, x, j), e_.load(w, y, j)), out, j);
    });
    finish();
    return true;
  }
  case OpKind::RecurrentGrad: recurrentGrad(f, op, step); return true;
  default: return false;
  }
}

/// Back-propagation through time for one layer and direction. Arguments: x,
/// W_ih^T, W_hh^T, bias sum, b_hh, y, dy, W_hh, out [B,T,2*G*H]; scratch:
/// the workspace the layer's forward step kept (per step the gate
/// activations, LSTM: and the cell state; GRU: and W_hn h + b_hn), d h to the
/// previous step [B,H], for LSTM d c [B,H], and where the plan made them
/// the two halves of the result apart (then `out` is not written). Nothing of the forward pass
/// is recomputed but tanh(c). The backward recurrence runs fused per chunk
/// of hidden units, then d h_{t-1} = dz W_hh for all rows at once: the only
/// product inside the recurrence. The input-side products (dx, dW_ih, dW_hh
/// and the bias gradients) are the graph's dense_grad ops over all B*T rows
/// of `out`, after it.
void SymbolicEmitter::recurrentGrad(Function *f, const ir::Op &op, const plan::Step &step) {
  IRBuilder<> &b = builder_;
  const ir::RecurrentFacts facts = ir::recurrentFacts(op);
  const bool lstm = facts.lstm(), reverse = facts.reverse;
  const ir::TensorType &xt = graph_.op(op.operands[0]).type;
  const int64_t T = xt.dims[1].size, H = facts.hidden;
  const int64_t G = facts.gates(), GH = G * H, A = (G + 1) * H;
  const bool withLengths = ir::hasLengths(op);
  Value *y = arg(f, 5), *dy = arg(f, 6), *whh = arg(f, 7), *lengths = withLengths ? arg(f, 8) : nullptr,
        *out = arg(f, withLengths ? 9 : 8);
  // With lengths, step t runs only the rows whose length is above t (sorted
  // by length, a prefix of `order`); the others' gradients stay 0. Their
  // workspace would give 0 too (the forward step made it neutral), so this
  // only saves the work.
  Value *order = scratchArg(f, step, plan::Scratch::RowOrder),
        *dzRows = scratchArg(f, step, plan::Scratch::RunningGateGrad),
        *dhRows = scratchArg(f, step, plan::Scratch::RunningHiddenGrad);
  RNNC_ASSERT(dzRows && withLengths == (order && dhRows), "the plan made the scratch this kernel reads");
  Value *acts = scratchArg(f, step, plan::Scratch::Workspace), *dhNext = scratchArg(f, step, plan::Scratch::HiddenGrad),
        *dcNext = scratchArg(f, step, plan::Scratch::CellGrad);
  RNNC_ASSERT(acts && dhNext && lstm == (dcNext != nullptr), "the plan made the scratch this kernel reads");
  // The two halves of the result: in `out` ([B,T,2*G*H]), or straight in the
  // buffers of their slices ([B,T,G*H] each; LSTM: one buffer, as its halves
  // are equal).
  Value *ih = scratchArg(f, step, plan::Scratch::InputSideGrad), *hh = scratchArg(f, step, plan::Scratch::HiddenSideGrad);
  const bool split = ih != nullptr;
  const bool sameHalves =
      split && step.scratch[step.scratchIndex(plan::Scratch::InputSideGrad)].buffer ==
                   step.scratch[step.scratchIndex(plan::Scratch::HiddenSideGrad)].buffer;
  RNNC_ASSERT(!sameHalves || lstm, "only LSTM's halves are equal");
  const int64_t S = split ? GH : 2 * GH; // floats per (row, step) of a half
  if (!split)
    ih = out, hh = e_.at(out, e_.c64(GH));
  // Without lengths the step's hidden-side gradients also go to dzRows,
  // contiguous, which the dz W_hh product reads; then both halves of the
  // result are read only by the dense_grad ops after the whole recurrence
  // (B*T*G*H floats each, far more than the caches), so they go straight
  // to memory: streaming stores, no read for ownership (docs/bench.md,
  // "Issue 11, 2026-12-06" and "2026-12-07"). Full AVX-512 vectors only, at
  // multiples of 16 floats from buffers the plan puts at multiples of 16
  // floats in the 64-byte aligned arena. With lengths, rows run in length
  // order, the pad rows are zeroed by memset and the product gathers the
  // running rows from the hidden half.
  const bool stream = !order && e_.width == 16 && H % 16 == 0 && S % 16 == 0;
  Value *batch = batchArg(f);
  auto timeOf = [&](Value *s) { return reverse ? b.CreateSub(e_.c64(T - 1), s) : s; };
  auto previousTime = [&](Value *s, Value *t) {
    return b.CreateSelect(b.CreateICmpEQ(s, e_.c64(0)), t, reverse ? b.CreateAdd(t, e_.c64(1)) : b.CreateSub(t, e_.c64(1)));
  };

  auto lengthOf = [&](Value *bi) { return lengthAt(lengths, bi); };
  if (order) {
    checkLengths(f, lengths, T);
    sortRowsByLength(lengths, order, T);
    // The rows of the pad steps get gradient 0: with skipPadRows only they
    // are zeroed (the loop below writes every real row), else everything.
    auto zeroFloats = [&](Value *p, int64_t perRow) {
      if (!plan_.options.skipPadRows) {
        b.CreateMemSet(p, b.getInt8(0), b.CreateMul(batch, e_.c64(T * perRow * 4)), MaybeAlign(4));
        return;
      }
      e_.loop(batch, [&](Value *bi) {
        Value *real = lengthOf(bi);
        b.CreateMemSet(e_.at(p, b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), real), e_.c64(perRow))), b.getInt8(0),
                       b.CreateMul(b.CreateSub(e_.c64(T), real), e_.c64(perRow * 4)), MaybeAlign(4));
      }, "pad");
    };
    if (!split)
      zeroFloats(out, 2 * GH);
    else {
      zeroFloats(ih, GH);
      if (!sameHalves)
        zeroFloats(hh, GH);
    }
  }

  // Backwards through time.
  b.CreateMemSet(dhNext, b.getInt8(0), b.CreateMul(batch, e_.c64(H * 4)), MaybeAlign(4));
  if (lstm)
    b.CreateMemSet(dcNext, b.getInt8(0), b.CreateMul(batch, e_.c64(H * 4)), MaybeAlign(4));
  e_.loop(e_.c64(T), [&](Value *back) {
    Value *s = b.CreateSub(e_.c64(T - 1), back);
    Value *t = timeOf(s), *tPrev = previousTime(s, t), *firstStep = b.CreateICmpEQ(s, e_.c64(0));
    Value *active = order ? runningRows(lengths, batch, t) : batch;
    e_.loop(e_.c64(0), active, 1, [&](Value *r) {
      Value *bi = rowAt(order, r);
      Value *row = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t), *prev = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), tPrev);
      // Reverse with lengths: a sample's first step is t = length - 1, its
      // previous state 0 (with skipPadRows the forward step keeps nothing of
      // the pad steps, so their workspace is not read).
      Value *first = reverse && order && plan_.options.skipPadRows
                         ? b.CreateICmpEQ(b.CreateAdd(t, e_.c64(1)), lengthOf(bi))
                         : firstStep;
      // The workspace is laid out by step ([T,B,A], keep()).
      Value *outRow = b.CreateMul(row, e_.c64(S)), *actRow = b.CreateMul(b.CreateAdd(b.CreateMul(t, batch), bi), e_.c64(A));
      Value *stateRow = b.CreateMul(bi, e_.c64(H));
      e_.vectorLoop(H, [&](unsigned w, Value *j) {
        auto act = [&](int64_t k) { return e_.load(w, acts, b.CreateAdd(actRow, b.CreateAdd(j, e_.c64(k * H)))); };
        auto put = [&](int64_t half, int64_t g, Value *v) {
          Value *col = b.CreateAdd(j, e_.c64(g * H));
          if (half == 1 && !order)
            e_.store(v, dzRows, b.CreateAdd(b.CreateMul(bi, e_.c64(GH)), col));
          if (half == 1 && sameHalves)
            return;
          Value *index = b.CreateAdd(outRow, col);
          if (stream)
            e_.storeStreaming(v, half ? hh : ih, index);
          else
            e_.store(v, half ? hh : ih, index);
        };
        // Two rows on, the same units of dy (and, unless streamed, of the
        // hidden-side result): rows T steps apart, a jump the hardware prefetcher does
        // not take (x86 prefetches do not fault, so rows past the batch
        // need no guard).
        if (!order && w == e_.width) {
          Value *ahead = b.CreateAdd(row, e_.c64(2 * T));
          e_.prefetch(dy, b.CreateAdd(b.CreateMul(ahead, e_.c64(H)), j), false, 3);
          for (int64_t g = 0; g < G && !stream; ++g)
            e_.prefetch(hh, b.CreateAdd(b.CreateMul(ahead, e_.c64(S)), b.CreateAdd(j, e_.c64(g * H))), true, 3);
        }
        Value *one = e_.cf(w, 1.0);
        Value *dh = b.CreateFAdd(e_.load(w, dy, b.CreateAdd(b.CreateMul(row, e_.c64(H)), j)),
                                 e_.load(w, dhNext, b.CreateAdd(stateRow, j)));
        if (lstm) {
          Value *i = act(0), *fg = act(1), *g = act(2), *o = act(3), *c = act(4);
          Value *cPrev = b.CreateSelect(first, e_.cf(w, 0.0),
                                        e_.load(w, acts, b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(tPrev, batch), bi), e_.c64(A)),
                                                                        b.CreateAdd(j, e_.c64(4 * H)))));
          Value *tc = e_.tanh(c);
          Value *dc = e_.fma(b.CreateFMul(dh, o), b.CreateFSub(one, b.CreateFMul(tc, tc)),
                             e_.load(w, dcNext, b.CreateAdd(stateRow, j)));
          Value *dz[4] = {b.CreateFMul(b.CreateFMul(dc, g), b.CreateFMul(i, b.CreateFSub(one, i))),
                          b.CreateFMul(b.CreateFMul(dc, cPrev), b.CreateFMul(fg, b.CreateFSub(one, fg))),
                          b.CreateFMul(b.CreateFMul(dc, i), b.CreateFSub(one, b.CreateFMul(g, g))),
                          b.CreateFMul(b.CreateFMul(dh, tc), b.CreateFMul(o, b.CreateFSub(one, o)))};
          for (int64_t k = 0; k < 4; ++k)
            put(0, k, dz[k]), put(1, k, dz[k]);
          e_.store(b.CreateFMul(dc, fg), dcNext, b.CreateAdd(stateRow, j));
        } else {
          Value *r = act(0), *z = act(1), *n = act(2), *hn = act(3);
          Value *hPrev = b.CreateSelect(first, e_.cf(w, 0.0), e_.load(w, y, b.CreateAdd(b.CreateMul(prev, e_.c64(H)), j)));
          Value *dn = b.CreateFMul(b.CreateFMul(dh, b.CreateFSub(one, z)), b.CreateFSub(one, b.CreateFMul(n, n)));
          Value *dr = b.CreateFMul(b.CreateFMul(dn, hn), b.CreateFMul(r, b.CreateFSub(one, r)));
          Value *dzz = b.CreateFMul(b.CreateFMul(dh, b.CreateFSub(hPrev, n)), b.CreateFMul(z, b.CreateFSub(one, z)));
          put(0, 0, dr), put(0, 1, dzz), put(0, 2, dn);
          put(1, 0, dr), put(1, 1, dzz), put(1, 2, b.CreateFMul(dn, r));
          e_.store(b.CreateFMul(dh, z), dhNext, b.CreateAdd(stateRow, j)); // the direct part of d h_{t-1}
        }
      });
    }, "b");
    // d h_{t-1} (+)= dz_hidden W_hh for every row at once (GRU: on top of its
    // direct part); not after the first step, whose d h_{t-1} nobody reads.
    BasicBlock *product = BasicBlock::Create(module_.getContext(), "dh.product", f);
    BasicBlock *nextStep = BasicBlock::Create(module_.getContext(), "dh.done", f);
    b.CreateCondBr(firstStep, nextStep, product);
    b.SetInsertPoint(product);
    if (order) { // the running rows only: gathered, multiplied, scattered back
      e_.loop(active, [&](Value *r) {
        Value *bi = rowAt(order, r);
        Value *from = b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t), e_.c64(S));
        e_.vectorLoop(GH, [&](unsigned w, Value *j) {
          e_.store(e_.load(w, hh, b.CreateAdd(from, j)), dzRows, b.CreateAdd(b.CreateMul(r, e_.c64(GH)), j));
        });
        e_.vectorLoop(H, [&](unsigned w, Value *j) {
          e_.store(lstm ? e_.cf(w, 0.0) : e_.load(w, dhNext, b.CreateAdd(b.CreateMul(bi, e_.c64(H)), j)), dhRows,
                   b.CreateAdd(b.CreateMul(r, e_.c64(H)), j));
        });
      }, "gather");
      matmulStrided(dzRows, GH, whh, nullptr, dhRows, e_.c64(H), active, GH, H, true);
      e_.loop(active, [&](Value *r) {
        Value *bi = rowAt(order, r);
        e_.vectorLoop(H, [&](unsigned w, Value *j) {
          e_.store(e_.load(w, dhRows, b.CreateAdd(b.CreateMul(r, e_.c64(H)), j)), dhNext, b.CreateAdd(b.CreateMul(bi, e_.c64(H)), j));
        });
      }, "scatter");
    } else {
      if (lstm)
        b.CreateMemSet(dhNext, b.getInt8(0), b.CreateMul(batch, e_.c64(H * 4)), MaybeAlign(4));
      matmulStrided(dzRows, GH, whh, nullptr, dhNext, e_.c64(H), batch, GH, H, true);
    }
    b.CreateBr(nextStep);
    b.SetInsertPoint(nextStep);
  }, "back");
  // Streaming stores are weakly ordered: visible to the threads that run the
  // dense_grad ops before any later store (the barrier's) is.
  if (stream)
    e_.storeFence();
  finish();
}


} // namespace rnnc::codegen::detail
