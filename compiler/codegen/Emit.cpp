//===- Emit.cpp - Loop and vector-math emission helpers -------------------===//
#include "compiler/codegen/Emit.h"

#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsX86.h"

namespace rnnc::codegen {

using namespace llvm;

Value *Emitter::cf(unsigned w, double v) {
  Constant *c = ConstantFP::get(f32(), v);
  return w == 1 ? c : ConstantVector::getSplat(ElementCount::getFixed(w), c);
}

unsigned Emitter::lanes(Value *v) {
  if (auto *t = dyn_cast<FixedVectorType>(v->getType()))
    return t->getNumElements();
  return 1;
}

void Emitter::loop(Value *begin, Value *end, int64_t step, const std::function<void(Value *)> &body,
                   const char *name) {
  Function *f = b.GetInsertBlock()->getParent();
  LLVMContext &ctx = b.getContext();
  BasicBlock *pre = b.GetInsertBlock();
  BasicBlock *header = BasicBlock::Create(ctx, std::string(name) + ".head", f);
  BasicBlock *bodyBlock = BasicBlock::Create(ctx, std::string(name) + ".body", f);
  BasicBlock *exit = BasicBlock::Create(ctx, std::string(name) + ".exit", f);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  PHINode *i = b.CreatePHI(i64(), 2, name);
  i->addIncoming(begin, pre);
  b.CreateCondBr(b.CreateICmpSLT(i, end), bodyBlock, exit);
  b.SetInsertPoint(bodyBlock);
  body(i);
  Value *next = b.CreateAdd(i, c64(step), std::string(name) + ".next", /*HasNUW=*/true, /*HasNSW=*/true);
  i->addIncoming(next, b.GetInsertBlock());
  b.CreateBr(header);
  b.SetInsertPoint(exit);
}

void Emitter::vectorLoop(Value *n, const std::function<void(unsigned, Value *)> &body) {
  Value *vectorEnd = b.CreateMul(b.CreateSDiv(n, c64(width)), c64(width));
  loop(c64(0), vectorEnd, width, [&](Value *j) { body(width, j); }, "j");
  loop(vectorEnd, n, 1, [&](Value *j) { body(1, j); }, "jt");
}

void Emitter::vectorLoop(int64_t n, const std::function<void(unsigned, Value *)> &body) {
  const int64_t vectorEnd = n / width * width;
  if (vectorEnd > 0)
    loop(c64(0), c64(vectorEnd), width, [&](Value *j) { body(width, j); }, "j");
  if (vectorEnd < n)
    loop(c64(vectorEnd), c64(n), 1, [&](Value *j) { body(1, j); }, "jt");
}

Value *Emitter::at(Value *base, Value *index, Type *element) {
  return b.CreateInBoundsGEP(element ? element : f32(), base, index);
}

void Emitter::prefetch(Value *base, Value *index, bool write, int locality) {
  b.CreateIntrinsic(Intrinsic::prefetch, {b.getPtrTy()},
                    {b.CreateGEP(f32(), base, index), b.getInt32(write ? 1 : 0), b.getInt32(locality), b.getInt32(1)});
}

Value *Emitter::load(unsigned w, Value *base, Value *index) {
  return b.CreateAlignedLoad(vec(w), at(base, index), Align(4));
}

void Emitter::storeStreaming(Value *value, Value *base, Value *index) {
  if (lanes(value) * 4 != 64)
    return store(value, base, index);
  StoreInst *st = b.CreateAlignedStore(value, at(base, index), Align(64));
  st->setMetadata(LLVMContext::MD_nontemporal, MDNode::get(b.getContext(), ConstantAsMetadata::get(b.getInt32(1))));
}

void Emitter::storeFence() { b.CreateIntrinsic(Intrinsic::x86_sse_sfence, {}, {}); }

void Emitter::store(Value *value, Value *base, Value *index) {
  b.CreateAlignedStore(value, at(base, index), Align(4));
}

Value *Emitter::splat(unsigned w, Value *scalar) {
  return w == 1 ? scalar : b.CreateVectorSplat(w, scalar);
}

Value *Emitter::fma(Value *a, Value *x, Value *y) {
  return b.CreateIntrinsic(Intrinsic::fma, {a->getType()}, {a, x, y});
}

Value *Emitter::max(Value *a, Value *x) { return b.CreateIntrinsic(Intrinsic::maxnum, {a->getType()}, {a, x}); }
Value *Emitter::min(Value *a, Value *x) { return b.CreateIntrinsic(Intrinsic::minnum, {a->getType()}, {a, x}); }

// exp(x) = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2)/2; e^r by a
// degree-7 polynomial (truncation error below 6e-9 relative). x is clamped to
// [-87.3, 88.3] so that 2^n stays a normal float.
Value *Emitter::exp(Value *x) {
  const unsigned w = lanes(x);
  x = min(max(x, cf(w, -87.3)), cf(w, 88.3));
  Value *n = b.CreateIntrinsic(Intrinsic::floor, {x->getType()}, {fma(x, cf(w, 1.4426950408889634), cf(w, 0.5))});
  Value *r = fma(n, cf(w, -0.693145751953125), x);    // ln 2, high part (exact in float)
  r = fma(n, cf(w, -1.428606820309417e-06), r);       // ln 2, low part
  static const double coefficients[] = {1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0};
  Value *p = cf(w, coefficients[0]);
  for (int k = 1; k < 8; ++k)
    p = fma(p, r, cf(w, coefficients[k]));
  Type *intType = w == 1 ? static_cast<Type *>(i32()) : FixedVectorType::get(i32(), w);
  Value *exponent = b.CreateAdd(b.CreateFPToSI(n, intType), w == 1 ? static_cast<Value *>(b.getInt32(127))
                                                                     : b.CreateVectorSplat(w, b.getInt32(127)));
  Value *shift = w == 1 ? static_cast<Value *>(b.getInt32(23)) : b.CreateVectorSplat(w, b.getInt32(23));
  Value *scale = b.CreateBitCast(b.CreateShl(exponent, shift), x->getType());
  return b.CreateFMul(p, scale);
}

Value *Emitter::sigmoid(Value *x) {
  const unsigned w = lanes(x);
  return b.CreateFDiv(cf(w, 1.0), b.CreateFAdd(cf(w, 1.0), exp(b.CreateFNeg(x))));
}

// tanh(x) = 1 - 2 / (e^(2x) + 1): exact at the saturated ends, and its
// absolute error near 0 stays at float rounding.
Value *Emitter::tanh(Value *x) {
  const unsigned w = lanes(x);
  Value *e = exp(b.CreateFMul(x, cf(w, 2.0)));
  return b.CreateFSub(cf(w, 1.0), b.CreateFDiv(cf(w, 2.0), b.CreateFAdd(e, cf(w, 1.0))));
}

AllocaInst *Emitter::slot(Type *type, const char *name) {
  Function *f = b.GetInsertBlock()->getParent();
  IRBuilder<> entry(&f->getEntryBlock(), f->getEntryBlock().begin());
  return entry.CreateAlloca(type, nullptr, name);
}

Value *Emitter::dropoutUniform(Value *seed, Value *step, Value *stream, Value *index) {
  auto c = [&](uint64_t v) { return b.getInt64(v); };
  Value *z = b.CreateMul(seed, c(0x9E3779B97F4A7C15ull));
  z = b.CreateXor(z, b.CreateMul(b.CreateAdd(step, c(1)), c(0xC2B2AE3D27D4EB4Full)));
  z = b.CreateXor(z, b.CreateMul(b.CreateAdd(stream, c(1)), c(0x165667B19E3779F9ull)));
  z = b.CreateXor(z, b.CreateMul(index, c(0xD6E8FEB86659FD93ull)));
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 30)), c(0xBF58476D1CE4E5B9ull));
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 27)), c(0x94D049BB133111EBull));
  z = b.CreateXor(z, b.CreateLShr(z, 31));
  return b.CreateFMul(b.CreateUIToFP(b.CreateLShr(z, 40), f32()), ConstantFP::get(f32(), 1.0 / 16777216.0));
}

Value *Emitter::reduceAdd(Value *v) {
  if (lanes(v) == 1 && !isa<FixedVectorType>(v->getType()))
    return v;
  return b.CreateFAddReduce(ConstantFP::get(f32(), -0.0), v);
}

Value *Emitter::reduceMax(Value *v) {
  if (!isa<FixedVectorType>(v->getType()))
    return v;
  return b.CreateFPMaxReduce(v);
}

} // namespace rnnc::codegen
