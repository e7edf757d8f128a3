//===- Emit.h - Loops, vectors and fast math on an IRBuilder ----*- C++ -*-===//
//
// The small vocabulary every kernel is written in: counted loops, a vector
// loop with a scalar tail, vector loads and stores of floats, FMA, and the
// fast vectorized exp / sigmoid / tanh (max absolute error documented in
// docs/codegen.md and checked by test/unit/codegen).
#pragma once

#include "llvm/IR/IRBuilder.h"

#include <functional>

namespace rnnc::codegen {

class Emitter {
public:
  /// `width` is the vector width in floats (8 for AVX2, 16 for AVX-512).
  Emitter(llvm::IRBuilder<> &builder, unsigned width) : b(builder), width(width) {}

  llvm::IRBuilder<> &b;
  const unsigned width;

  llvm::Type *f32() { return b.getFloatTy(); }
  llvm::Type *i32() { return b.getInt32Ty(); }
  llvm::Type *i64() { return b.getInt64Ty(); }
  llvm::Type *ptr() { return b.getPtrTy(); }
  llvm::Type *vec(unsigned w) { return w == 1 ? f32() : llvm::FixedVectorType::get(f32(), w); }
  llvm::Value *c64(int64_t v) { return b.getInt64(static_cast<uint64_t>(v)); }
  llvm::Value *cf(unsigned w, double v);

  /// for (i = begin; i < end; i += step) body(i)
  void loop(llvm::Value *begin, llvm::Value *end, int64_t step,
            const std::function<void(llvm::Value *)> &body, const char *name = "i");
  void loop(llvm::Value *end, const std::function<void(llvm::Value *)> &body, const char *name = "i") {
    loop(c64(0), end, 1, body, name);
  }
  /// Covers [0, n) in chunks of `width`, then one by one: body(w, j) with
  /// w = width or 1.
  void vectorLoop(llvm::Value *n, const std::function<void(unsigned, llvm::Value *)> &body);
  /// The same, for a trip count known at compile time (no dead tail loop).
  void vectorLoop(int64_t n, const std::function<void(unsigned, llvm::Value *)> &body);

  /// &base[index] for a float (or i32) array.
  llvm::Value *at(llvm::Value *base, llvm::Value *index, llvm::Type *element = nullptr);
  llvm::Value *load(unsigned w, llvm::Value *base, llvm::Value *index);
  /// Software prefetch of the float at base[index] (llvm.prefetch: write
  /// intent or not, locality 0-3). The address may lie past the buffer (x86
  /// prefetches do not fault), so it is a plain GEP, not an inbounds one.
  void prefetch(llvm::Value *base, llvm::Value *index, bool write, int locality);
  void store(llvm::Value *value, llvm::Value *base, llvm::Value *index);
  /// A store that goes straight to memory (no read for ownership, not kept
  /// in the caches) when `value` is a full 64-byte vector, whose address
  /// must then be 64-byte aligned; other values get a plain store. Streaming
  /// stores are weakly ordered: a kernel that made them ends with
  /// storeFence(), before other threads may read what it wrote.
  void storeStreaming(llvm::Value *value, llvm::Value *base, llvm::Value *index);
  void storeFence();
  llvm::Value *splat(unsigned w, llvm::Value *scalar);
  llvm::Value *fma(llvm::Value *a, llvm::Value *x, llvm::Value *y); ///< a*x + y
  llvm::Value *max(llvm::Value *a, llvm::Value *x);
  llvm::Value *min(llvm::Value *a, llvm::Value *x);
  llvm::Value *exp(llvm::Value *x);
  llvm::Value *sigmoid(llvm::Value *x);
  llvm::Value *tanh(llvm::Value *x);
  /// A stack slot in the function's entry block (promoted to a register by
  /// the optimizer).
  llvm::AllocaInst *slot(llvm::Type *type, const char *name);
  /// rnnc_dropout_uniform (runtime/include/rnnc/plan.h) in IR: the uniform
  /// number in [0, 1) that decides whether dropout keeps an element.
  llvm::Value *dropoutUniform(llvm::Value *seed, llvm::Value *step, llvm::Value *stream, llvm::Value *index);
  /// Sum of the lanes of a vector.
  llvm::Value *reduceAdd(llvm::Value *v);
  llvm::Value *reduceMax(llvm::Value *v);

private:
  unsigned lanes(llvm::Value *v);
};

} // namespace rnnc::codegen
