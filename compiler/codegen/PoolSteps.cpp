//===- PoolSteps.cpp - mean / max over time steps, one batch row ----------===//
#include "compiler/codegen/PoolSteps.h"

namespace rnnc::codegen {

using namespace llvm;

void emitPoolRow(Emitter &e, bool max, Value *seq, Value *out, Value *r, Value *length, Value *T, Value *F) {
  IRBuilder<> &b = e.b;
  Value *first = b.CreateMul(b.CreateMul(r, T), F), *row = b.CreateMul(r, F);
  // Step 0 (every sample has it), then the others folded in.
  e.vectorLoop(F, [&](unsigned w, Value *j) { e.store(e.load(w, seq, b.CreateAdd(first, j)), out, b.CreateAdd(row, j)); });
  e.loop(e.c64(1), length, 1, [&](Value *t) {
    Value *from = b.CreateAdd(first, b.CreateMul(t, F));
    e.vectorLoop(F, [&](unsigned w, Value *j) {
      Value *v = e.load(w, seq, b.CreateAdd(from, j)), *acc = e.load(w, out, b.CreateAdd(row, j));
      e.store(max ? e.max(acc, v) : b.CreateFAdd(acc, v), out, b.CreateAdd(row, j));
    });
  }, "t");
  if (max)
    return;
  Value *inverse = b.CreateFDiv(e.cf(1, 1.0), b.CreateSIToFP(length, e.f32()));
  e.vectorLoop(F, [&](unsigned w, Value *j) {
    Value *at = b.CreateAdd(row, j);
    e.store(b.CreateFMul(e.load(w, out, at), e.splat(w, inverse)), out, at);
  });
}

void emitPoolGradRow(Emitter &e, bool max, Value *dy, Value *x, Value *out, Value *r, Value *length, Value *T,
                     Value *F) {
  IRBuilder<> &b = e.b;
  Value *first = b.CreateMul(b.CreateMul(r, T), F), *row = b.CreateMul(r, F);
  if (!max) {
    Value *inverse = b.CreateFDiv(e.cf(1, 1.0), b.CreateSIToFP(length, e.f32()));
    e.loop(T, [&](Value *t) {
      Value *scale = b.CreateSelect(b.CreateICmpSLT(t, length), inverse, e.cf(1, 0.0));
      Value *to = b.CreateAdd(first, b.CreateMul(t, F));
      e.vectorLoop(F, [&](unsigned w, Value *j) {
        e.store(b.CreateFMul(e.load(w, dy, b.CreateAdd(row, j)), e.splat(w, scale)), out, b.CreateAdd(to, j));
      });
    }, "t");
    return;
  }
  e.vectorLoop(b.CreateMul(T, F), [&](unsigned w, Value *j) { e.store(e.cf(w, 0.0), out, b.CreateAdd(first, j)); });
  AllocaInst *best = e.slot(e.f32(), "best"), *bestStep = e.slot(e.i64(), "best_step");
  e.loop(F, [&](Value *j) {
    b.CreateStore(e.load(1, x, b.CreateAdd(first, j)), best);
    b.CreateStore(e.c64(0), bestStep);
    e.loop(e.c64(1), length, 1, [&](Value *t) {
      Value *v = e.load(1, x, b.CreateAdd(b.CreateAdd(first, b.CreateMul(t, F)), j));
      Value *above = b.CreateFCmpOGT(v, b.CreateLoad(e.f32(), best)); // strictly: the first step on ties
      b.CreateStore(b.CreateSelect(above, v, b.CreateLoad(e.f32(), best)), best);
      b.CreateStore(b.CreateSelect(above, t, b.CreateLoad(e.i64(), bestStep)), bestStep);
    }, "t");
    Value *to = b.CreateAdd(b.CreateAdd(first, b.CreateMul(b.CreateLoad(e.i64(), bestStep), F)), j);
    e.store(e.load(1, dy, b.CreateAdd(row, j)), out, to);
  }, "k");
}

} // namespace rnnc::codegen
