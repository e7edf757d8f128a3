//===- ImperativeCodegen.cpp - Eager kernels and the dispatched op list ---===//
//
// One compiled kernel per primitive (matmul, add, sigmoid, ...), generic in
// its sizes like an eager framework's, and the op list as constant data:
// the runtime (runtime/modelrt) walks it, allocating every output afresh.
//===----------------------------------------------------------------------===//
#include "compiler/codegen/Codegen.h"
#include "compiler/codegen/Emit.h"

#include "compiler/support/Diagnostics.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/Verifier.h"

namespace rnnc::codegen {
namespace {

using namespace llvm;
using plan::Kernel;

/// { out, in[4], batch, p[6] }: rnnc_kernel_args in runtime/include/rnnc/plan.h.
StructType *argsType(LLVMContext &ctx) {
  Type *ptr = PointerType::getUnqual(ctx), *i64 = Type::getInt64Ty(ctx);
  return StructType::get(ctx, {ptr, ArrayType::get(ptr, 4), i64, ArrayType::get(i64, 6)});
}

std::string kernelSymbol(Kernel k) { return std::string("rnnc_k_") + plan::kernelName(k); }

class KernelEmitter {
public:
  KernelEmitter(Module &module, unsigned width) : module_(module), b_(module.getContext()), e_(b_, width) {}

  void run() {
    for (int k = 0; k < plan::kNumKernels; ++k)
      if (static_cast<Kernel>(k) != Kernel::Zeros)
        emit(static_cast<Kernel>(k));
  }

private:
  Value *out() { return b_.CreateAlignedLoad(e_.ptr(), b_.CreateStructGEP(args_t_, args_, 0), Align(8), "out"); }
  Value *in(int k) {
    Value *slot = b_.CreateInBoundsGEP(args_t_, args_, {b_.getInt32(0), b_.getInt32(1), b_.getInt32(k)});
    return b_.CreateAlignedLoad(e_.ptr(), slot, Align(8), "in");
  }
  Value *batch() { return b_.CreateAlignedLoad(e_.i64(), b_.CreateStructGEP(args_t_, args_, 2), Align(8), "batch"); }
  Value *p(int k) {
    Value *slot = b_.CreateInBoundsGEP(args_t_, args_, {b_.getInt32(0), b_.getInt32(3), b_.getInt32(k)});
    return b_.CreateAlignedLoad(e_.i64(), slot, Align(8), "p");
  }

  void emit(Kernel k) {
    LLVMContext &ctx = module_.getContext();
    args_t_ = argsType(ctx);
    auto *type = FunctionType::get(e_.i32(), {e_.ptr()}, false);
    Function *f = Function::Create(type, Function::InternalLinkage, kernelSymbol(k), module_);
    f->addFnAttr(Attribute::NoInline);
    f->addFnAttr(Attribute::NoUnwind);
    b_.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
    args_ = f->getArg(0);
    Value *o = out(), *a = in(0), *bb = in(1), *n = b_.CreateMul(batch(), p(0));
    switch (k) {
    case Kernel::MatMulNT: { // out[m, j] = sum_k a[m, k] b[j, k]
      Value *N = p(1), *K = p(2);
      AllocaInst *acc = e_.slot(e_.vec(e_.width), "acc"), *tail = e_.slot(e_.f32(), "tail");
      e_.loop(n, [&](Value *m) {
        e_.loop(N, [&](Value *j) {
          b_.CreateStore(e_.cf(e_.width, 0.0), acc);
          b_.CreateStore(e_.cf(1, 0.0), tail);
          Value *aRow = b_.CreateMul(m, K), *bRow = b_.CreateMul(j, K);
          e_.vectorLoop(K, [&](unsigned w, Value *kk) {
            AllocaInst *target = w == 1 ? tail : acc;
            Value *prod = e_.fma(e_.load(w, a, b_.CreateAdd(aRow, kk)), e_.load(w, bb, b_.CreateAdd(bRow, kk)),
                                 b_.CreateLoad(e_.vec(w), target));
            b_.CreateStore(prod, target);
          });
          Value *sum = b_.CreateFAdd(e_.reduceAdd(b_.CreateLoad(e_.vec(e_.width), acc)), b_.CreateLoad(e_.f32(), tail));
          e_.store(sum, o, b_.CreateAdd(b_.CreateMul(m, N), j));
        }, "j");
      }, "m");
      break;
    }
    case Kernel::AddBias: {
      Value *N = p(1);
      e_.loop(n, [&](Value *r) {
        Value *row = b_.CreateMul(r, N);
        e_.vectorLoop(N, [&](unsigned w, Value *j) {
          Value *at = b_.CreateAdd(row, j);
          e_.store(b_.CreateFAdd(e_.load(w, a, at), e_.load(w, bb, j)), o, at);
        });
      }, "r");
      break;
    }
    case Kernel::Add:
    case Kernel::Sub:
    case Kernel::Mul:
      e_.vectorLoop(n, [&](unsigned w, Value *j) {
        Value *x = e_.load(w, a, j), *y = e_.load(w, bb, j);
        Value *r = k == Kernel::Add ? b_.CreateFAdd(x, y) : k == Kernel::Sub ? b_.CreateFSub(x, y) : b_.CreateFMul(x, y);
        e_.store(r, o, j);
      });
      break;
    case Kernel::Sigmoid:
    case Kernel::Tanh:
    case Kernel::Relu:
    case Kernel::Copy:
      e_.vectorLoop(n, [&](unsigned w, Value *j) {
        Value *x = e_.load(w, a, j);
        Value *r = k == Kernel::Sigmoid ? e_.sigmoid(x)
                   : k == Kernel::Tanh  ? e_.tanh(x)
                   : k == Kernel::Relu  ? e_.max(x, e_.cf(w, 0.0))
                                        : x;
        e_.store(r, o, j);
      });
      break;
    case Kernel::Softmax: {
      Value *width = p(1);
      AllocaInst *m = e_.slot(e_.f32(), "max"), *sum = e_.slot(e_.f32(), "sum");
      e_.loop(n, [&](Value *r) {
        Value *row = b_.CreateMul(r, width);
        b_.CreateStore(ConstantFP::getInfinity(e_.f32(), true), m);
        e_.loop(width, [&](Value *j) {
          b_.CreateStore(e_.max(b_.CreateLoad(e_.f32(), m), e_.load(1, a, b_.CreateAdd(row, j))), m);
        }, "j");
        b_.CreateStore(e_.cf(1, 0.0), sum);
        Value *mx = b_.CreateLoad(e_.f32(), m);
        e_.loop(width, [&](Value *j) {
          Value *v = e_.exp(b_.CreateFSub(e_.load(1, a, b_.CreateAdd(row, j)), mx));
          e_.store(v, o, b_.CreateAdd(row, j));
          b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(e_.f32(), sum), v), sum);
        }, "j");
        Value *inverse = b_.CreateFDiv(e_.cf(1, 1.0), b_.CreateLoad(e_.f32(), sum));
        e_.loop(width, [&](Value *j) {
          Value *at = b_.CreateAdd(row, j);
          e_.store(b_.CreateFMul(e_.load(1, o, at), inverse), o, at);
        }, "j");
      }, "r");
      break;
    }
    case Kernel::SliceCols: { // out[r, 0:p3] = a[r, p2:p2+p3]
      Value *aw = p(1), *off = p(2), *w3 = p(3);
      e_.loop(n, [&](Value *r) {
        Value *from = b_.CreateAdd(b_.CreateMul(r, aw), off), *to = b_.CreateMul(r, w3);
        e_.vectorLoop(w3, [&](unsigned w, Value *j) {
          e_.store(e_.load(w, a, b_.CreateAdd(from, j)), o, b_.CreateAdd(to, j));
        });
      }, "r");
      break;
    }
    case Kernel::SelectStep:
    case Kernel::WriteStep: { // seq is [batch, p0, p1]; step p2
      Value *T = p(0), *F = p(1), *t = p(2);
      Value *rows = batch();
      e_.loop(rows, [&](Value *r) {
        Value *seqAt = b_.CreateMul(b_.CreateAdd(b_.CreateMul(r, T), t), F), *rowAt = b_.CreateMul(r, F);
        e_.vectorLoop(F, [&](unsigned w, Value *j) {
          if (k == Kernel::SelectStep)
            e_.store(e_.load(w, a, b_.CreateAdd(seqAt, j)), o, b_.CreateAdd(rowAt, j));
          else
            e_.store(e_.load(w, bb, b_.CreateAdd(rowAt, j)), o, b_.CreateAdd(seqAt, j));
        });
      }, "r");
      break;
    }
    case Kernel::Concat2: {
      Value *wa = p(1), *wb = p(2), *wo = b_.CreateAdd(wa, wb);
      e_.loop(n, [&](Value *r) {
        Value *to = b_.CreateMul(r, wo), *fromA = b_.CreateMul(r, wa), *fromB = b_.CreateMul(r, wb);
        e_.vectorLoop(wa, [&](unsigned w, Value *j) { e_.store(e_.load(w, a, b_.CreateAdd(fromA, j)), o, b_.CreateAdd(to, j)); });
        Value *toB = b_.CreateAdd(to, wa);
        e_.vectorLoop(wb, [&](unsigned w, Value *j) { e_.store(e_.load(w, bb, b_.CreateAdd(fromB, j)), o, b_.CreateAdd(toB, j)); });
      }, "r");
      break;
    }
    case Kernel::Embedding: {
      Value *dim = p(1), *vocab = p(2);
      BasicBlock *bad = BasicBlock::Create(ctx, "bad_token", f);
      e_.loop(n, [&](Value *i) {
        Value *id = b_.CreateSExt(b_.CreateAlignedLoad(e_.i32(), e_.at(a, i, e_.i32()), Align(4)), e_.i64());
        BasicBlock *ok = BasicBlock::Create(ctx, "token_ok", f);
        b_.CreateCondBr(b_.CreateICmpUGE(id, vocab), bad, ok);
        b_.SetInsertPoint(ok);
        Value *from = b_.CreateMul(id, dim), *to = b_.CreateMul(i, dim);
        e_.vectorLoop(dim, [&](unsigned w, Value *j) { e_.store(e_.load(w, bb, b_.CreateAdd(from, j)), o, b_.CreateAdd(to, j)); });
      }, "i");
      b_.CreateRet(b_.getInt32(0));
      b_.SetInsertPoint(bad);
      b_.CreateRet(b_.getInt32(2)); // RNNC_ERR_TOKEN
      RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
      return;
    }
    case Kernel::Zeros: break;
    }
    b_.CreateRet(b_.getInt32(0));
    RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
  }

  Module &module_;
  IRBuilder<> b_;
  Emitter e_;
  StructType *args_t_ = nullptr;
  Value *args_ = nullptr;
};

} // namespace

void emitImperativeKernels(Module &module, unsigned width) { KernelEmitter(module, width).run(); }

void emitImperativePlan(const plan::ImperativePlan &plan, Module &module) {
  LLVMContext &ctx = module.getContext();
  Type *ptr = PointerType::getUnqual(ctx), *i32 = Type::getInt32Ty(ctx), *i64 = Type::getInt64Ty(ctx);
  // rnnc_op: { kernel, num_in, in[4], out, flags, out_per_sample, p[6], num_free, free_slots[5] }
  StructType *opType = StructType::get(ctx, {ptr, i32, ArrayType::get(i32, 4), i32, i32, i64,
                                             ArrayType::get(i64, 6), i32, ArrayType::get(i32, 5)});
  auto ints = [&](Type *type, const std::vector<int64_t> &values, unsigned n) {
    std::vector<Constant *> items;
    for (unsigned k = 0; k < n; ++k)
      items.push_back(ConstantInt::get(type, k < values.size() ? values[k] : 0));
    return ConstantArray::get(ArrayType::get(type, n), items);
  };
  std::vector<Constant *> ops;
  for (const plan::PrimOp &op : plan.ops) {
    Constant *kernel = op.kernel == Kernel::Zeros ? ConstantPointerNull::get(PointerType::getUnqual(ctx))
                                                  : static_cast<Constant *>(module.getFunction(kernelSymbol(op.kernel)));
    RNNC_ASSERT(kernel, "every primitive has a compiled kernel");
    RNNC_ASSERT(op.in.size() <= 4 && op.frees.size() <= 5, "an op has at most 4 operands and frees at most 5 slots");
    const int flags = (op.inPlace ? 1 : 0) | (op.kernel == Kernel::Zeros ? 4 : 0);
    std::vector<int64_t> in(op.in.begin(), op.in.end()), frees(op.frees.begin(), op.frees.end());
    std::vector<int64_t> p(op.p.begin(), op.p.end());
    ops.push_back(ConstantStruct::get(
        opType, {kernel, ConstantInt::get(i32, op.in.size()), ints(i32, in, 4), ConstantInt::get(i32, op.out),
                 ConstantInt::get(i32, flags), ConstantInt::get(i64, op.outPerSample), ints(i64, p, 6),
                 ConstantInt::get(i32, op.frees.size()), ints(i32, frees, 5)}));
  }
  auto *opsArray = ArrayType::get(opType, ops.size());
  auto *opsGlobal = new GlobalVariable(module, opsArray, true, GlobalValue::InternalLinkage,
                                       ConstantArray::get(opsArray, ops), "__rnnc_ops");
  auto *outputs = new GlobalVariable(module, ArrayType::get(i32, 1), true, GlobalValue::InternalLinkage,
                                     ints(i32, {plan.outputSlot}, 1), "__rnnc_output_slots");
  // rnnc_imperative_plan: { num_ops, num_slots, ops, num_outputs, output_slots }
  StructType *planType = StructType::get(ctx, {i32, i32, ptr, i32, ptr});
  new GlobalVariable(module, planType, true, GlobalValue::ExternalLinkage,
                     ConstantStruct::get(planType, {ConstantInt::get(i32, ops.size()), ConstantInt::get(i32, plan.numSlots),
                                                    opsGlobal, ConstantInt::get(i32, 1), outputs}),
                     "__rnnc_imperative_plan");
}

} // namespace rnnc::codegen
