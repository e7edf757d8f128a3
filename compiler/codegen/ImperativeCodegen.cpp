//===- ImperativeCodegen.cpp - Eager kernels and the dispatched op list ---===//
//
// One compiled kernel per primitive (add, sigmoid, slice, ...), generic in
// its sizes like an eager framework's; one kernel per distinct matrix
// product shape, from the register-tiled product generator the symbolic
// plan uses (as an eager framework calls a tuned BLAS per op); and the op
// list as constant data: the runtime (runtime/modelrt) walks it, allocating
// every output afresh.
//===----------------------------------------------------------------------===//
#include "compiler/codegen/Codegen.h"
#include "compiler/codegen/AbiTypes.h"
#include "compiler/codegen/Emit.h"
#include "compiler/codegen/PoolSteps.h"

#include "compiler/support/Diagnostics.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Verifier.h"

namespace rnnc::codegen {
namespace {

using namespace llvm;
using plan::Kernel;

std::string kernelSymbol(Kernel k) { return std::string("rnnc_k_") + plan::kernelName(k); }

bool isProduct(Kernel k) { return k == Kernel::MatMulNN || k == Kernel::MatMulTN; }

/// The kernel an op calls: the generic one of its primitive, or for a
/// product the one of its shape (K = p1, N = p2).
std::string kernelSymbol(const plan::PrimOp &op) {
  if (!isProduct(op.kernel))
    return kernelSymbol(op.kernel);
  return kernelSymbol(op.kernel) + "_" + std::to_string(op.p[1]) + "x" + std::to_string(op.p[2]);
}

class KernelEmitter {
public:
  KernelEmitter(Module &module, unsigned width) : module_(module), b_(module.getContext()), e_(b_, width) {}

  void run(const plan::ImperativePlan &plan) {
    for (int k = 0; k < plan::kNumKernels; ++k)
      if (static_cast<Kernel>(k) != Kernel::Zeros && !isProduct(static_cast<Kernel>(k)))
        emit(static_cast<Kernel>(k));
    for (const std::vector<plan::PrimOp> *list : {&plan.ops, &plan.trainOps})
      for (const plan::PrimOp &op : *list)
        if (isProduct(op.kernel) && !module_.getFunction(kernelSymbol(op)))
          emitProduct(op);
    if (!plan.packed.empty())
      emitPack(plan);
  }

private:
  Value *field(abi::KernelArgsField f) { return b_.CreateStructGEP(args_t_, args_, f); }
  Value *element(abi::KernelArgsField f, int k) {
    return b_.CreateInBoundsGEP(args_t_, args_, {b_.getInt32(0), b_.getInt32(f), b_.getInt32(k)});
  }
  Value *out() { return b_.CreateAlignedLoad(e_.ptr(), field(abi::kArgOut), Align(8), "out"); }
  Value *in(int k) { return b_.CreateAlignedLoad(e_.ptr(), element(abi::kArgIn, k), Align(8), "in"); }
  Value *batch() { return b_.CreateAlignedLoad(e_.i64(), field(abi::kArgBatch), Align(8), "batch"); }
  Value *seed() { return b_.CreateAlignedLoad(e_.i64(), field(abi::kArgSeed), Align(8), "seed"); }
  Value *stepCount() { return b_.CreateAlignedLoad(e_.i64(), field(abi::kArgStep), Align(8), "step"); }
  Value *p(int k) { return b_.CreateAlignedLoad(e_.i64(), element(abi::kArgP, k), Align(8), "p"); }

  void emit(Kernel k) {
    LLVMContext &ctx = module_.getContext();
    args_t_ = abi::kernelArgsType(ctx);
    auto *type = FunctionType::get(e_.i32(), {e_.ptr()}, false);
    Function *f = Function::Create(type, Function::InternalLinkage, kernelSymbol(k), module_);
    f->addFnAttr(Attribute::NoInline);
    f->addFnAttr(Attribute::NoUnwind);
    b_.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
    args_ = f->getArg(0);
    Value *o = out(), *a = in(0), *bb = in(1), *n = b_.CreateMul(batch(), p(0));
    Value *count = b_.CreateAdd(n, p(5)); // element-wise kernels: per-sample and fixed elements
    switch (k) {
    case Kernel::Transpose: { // out[j, i] = a[i, j] for a [p1, p2]
      Value *M = p(1), *N = p(2);
      e_.loop(M, [&](Value *i) {
        e_.loop(N, [&](Value *j) {
          e_.store(e_.load(1, a, b_.CreateAdd(b_.CreateMul(i, N), j)), o, b_.CreateAdd(b_.CreateMul(j, M), i));
        }, "j");
      }, "i");
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
    case Kernel::ReluGrad:
      e_.vectorLoop(count, [&](unsigned w, Value *j) {
        Value *x = e_.load(w, a, j), *y = e_.load(w, bb, j);
        Value *r = k == Kernel::Add   ? b_.CreateFAdd(x, y)
                   : k == Kernel::Sub ? b_.CreateFSub(x, y)
                   : k == Kernel::Mul ? b_.CreateFMul(x, y)
                                      : b_.CreateSelect(b_.CreateFCmpOGT(y, e_.cf(w, 0.0)), x, e_.cf(w, 0.0));
        e_.store(r, o, j);
      });
      break;
    case Kernel::Sigmoid:
    case Kernel::Tanh:
    case Kernel::Relu:
    case Kernel::Copy:
    case Kernel::OneMinus:
      e_.vectorLoop(count, [&](unsigned w, Value *j) {
        Value *x = e_.load(w, a, j);
        Value *r = k == Kernel::Sigmoid   ? e_.sigmoid(x)
                   : k == Kernel::Tanh    ? e_.tanh(x)
                   : k == Kernel::Relu    ? e_.max(x, e_.cf(w, 0.0))
                   : k == Kernel::OneMinus ? b_.CreateFSub(e_.cf(w, 1.0), x)
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
    case Kernel::SelectStep: { // out[b, :] = seq[b, p2, :]; seq is [batch, p0, p1]
      Value *T = p(0), *F = p(1), *t = p(2);
      e_.loop(batch(), [&](Value *r) {
        Value *seqAt = b_.CreateMul(b_.CreateAdd(b_.CreateMul(r, T), t), F), *rowAt = b_.CreateMul(r, F);
        e_.vectorLoop(F, [&](unsigned w, Value *j) {
          e_.store(e_.load(w, a, b_.CreateAdd(seqAt, j)), o, b_.CreateAdd(rowAt, j));
        });
      }, "r");
      break;
    }
    case Kernel::WriteStep: { // seq[b, p2, p3:p3+p4] = h[b, :]; seq is [batch, p0, p1]
      Value *T = p(0), *F = p(1), *t = p(2), *offset = p(3), *width = p(4);
      e_.loop(batch(), [&](Value *r) {
        Value *seqAt = b_.CreateAdd(b_.CreateMul(b_.CreateAdd(b_.CreateMul(r, T), t), F), offset);
        Value *rowAt = b_.CreateMul(r, width);
        e_.vectorLoop(width, [&](unsigned w, Value *j) {
          e_.store(e_.load(w, bb, b_.CreateAdd(rowAt, j)), o, b_.CreateAdd(seqAt, j));
        });
      }, "r");
      break;
    }
    case Kernel::SumRows: { // out[N] = sum_r a[r, N]
      Value *N = p(1);
      b_.CreateMemSet(o, b_.getInt8(0), b_.CreateMul(N, e_.c64(4)), MaybeAlign(4));
      e_.loop(n, [&](Value *r) {
        e_.vectorLoop(N, [&](unsigned w, Value *j) {
          e_.store(b_.CreateFAdd(e_.load(w, a, b_.CreateAdd(b_.CreateMul(r, N), j)), e_.load(w, o, j)), o, j);
        });
      }, "r");
      break;
    }
    case Kernel::Dropout: {
      Value *probability = b_.CreateBitCast(b_.CreateTrunc(p(1), e_.i32()), e_.f32());
      Value *scale = b_.CreateFDiv(e_.cf(1, 1.0), b_.CreateFSub(e_.cf(1, 1.0), probability));
      Value *s = seed(), *st = stepCount(), *stream = p(2);
      e_.loop(count, [&](Value *i) {
        Value *u = e_.dropoutUniform(s, st, stream, i);
        Value *keep = b_.CreateFCmpOGE(u, probability);
        e_.store(b_.CreateSelect(keep, b_.CreateFMul(e_.load(1, a, i), scale), e_.cf(1, 0.0)), o, i);
      });
      break;
    }
    case Kernel::ShiftSteps: { // out[b,t] = y[b,t-1] (reverse: t+1), zeros at the edge
      Value *T = p(0), *H = p(1), *reverse = b_.CreateICmpNE(p(2), e_.c64(0));
      e_.loop(batch(), [&](Value *r) {
        e_.loop(T, [&](Value *t) {
          Value *edge = b_.CreateSelect(reverse, b_.CreateICmpEQ(t, b_.CreateSub(T, e_.c64(1))), b_.CreateICmpEQ(t, e_.c64(0)));
          Value *from = b_.CreateSelect(edge, t, b_.CreateSelect(reverse, b_.CreateAdd(t, e_.c64(1)), b_.CreateSub(t, e_.c64(1))));
          Value *to = b_.CreateMul(b_.CreateAdd(b_.CreateMul(r, T), t), H);
          Value *src = b_.CreateMul(b_.CreateAdd(b_.CreateMul(r, T), from), H);
          e_.vectorLoop(H, [&](unsigned w, Value *j) {
            e_.store(b_.CreateSelect(edge, e_.cf(w, 0.0), e_.load(w, a, b_.CreateAdd(src, j))), o, b_.CreateAdd(to, j));
          });
        }, "t");
      }, "r");
      break;
    }
    case Kernel::SoftmaxGrad: { // per row: y * (dy - sum(dy * y))
      Value *width = p(1);
      AllocaInst *dot = e_.slot(e_.f32(), "dot");
      e_.loop(n, [&](Value *r) {
        Value *row = b_.CreateMul(r, width);
        b_.CreateStore(e_.cf(1, 0.0), dot);
        e_.loop(width, [&](Value *j) {
          Value *at = b_.CreateAdd(row, j);
          b_.CreateStore(e_.fma(e_.load(1, a, at), e_.load(1, bb, at), b_.CreateLoad(e_.f32(), dot)), dot);
        }, "j");
        Value *d = b_.CreateLoad(e_.f32(), dot);
        e_.loop(width, [&](Value *j) {
          Value *at = b_.CreateAdd(row, j);
          e_.store(b_.CreateFMul(e_.load(1, bb, at), b_.CreateFSub(e_.load(1, a, at), d)), o, at);
        }, "j");
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
    case Kernel::EmbeddingGrad: { // out[ids[i], :] += dy[i, :]
      Value *dim = p(1), *vocab = p(2);
      b_.CreateMemSet(o, b_.getInt8(0), b_.CreateMul(b_.CreateMul(vocab, dim), e_.c64(4)), MaybeAlign(4));
      forEachToken(f, a, n, vocab, [&](Value *i, Value *id) {
        Value *row = b_.CreateMul(id, dim), *from = b_.CreateMul(i, dim);
        e_.vectorLoop(dim, [&](unsigned w, Value *j) {
          Value *at = b_.CreateAdd(row, j);
          e_.store(b_.CreateFAdd(e_.load(w, o, at), e_.load(w, bb, b_.CreateAdd(from, j))), o, at);
        });
      });
      RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
      return;
    }
    case Kernel::Loss:
    case Kernel::LossGrad:
      emitLoss(f, k == Kernel::LossGrad);
      return;
    case Kernel::Embedding: { // out[i, :] = table[ids[i], :]
      Value *dim = p(1), *vocab = p(2);
      forEachToken(f, a, n, vocab, [&](Value *i, Value *id) {
        Value *from = b_.CreateMul(id, dim), *to = b_.CreateMul(i, dim);
        e_.vectorLoop(dim, [&](unsigned w, Value *j) { e_.store(e_.load(w, bb, b_.CreateAdd(from, j)), o, b_.CreateAdd(to, j)); });
      });
      RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
      return;
    }
    case Kernel::MaskStep: { // out[b,:] = t < lengths[b] ? a[b,:] : alt[b,:]
      Value *width = p(0), *t = p(1), *alt = bb;
      forEachLength(f, in(2), p(2), [&](Value *r, Value *length) {
        Value *row = b_.CreateMul(r, width);
        Value *src = b_.CreateSelect(b_.CreateICmpSLT(t, length), a, alt);
        e_.vectorLoop(width, [&](unsigned w, Value *j) {
          Value *at = b_.CreateAdd(row, j);
          e_.store(e_.load(w, src, at), o, at);
        });
      });
      RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
      return;
    }
    case Kernel::SelectLast:   // out[b,:] = seq[b, lengths[b]-1, :]
    case Kernel::WriteLast: {  // seq[b, lengths[b]-1, :] = h[b,:]
      Value *T = p(0), *F = p(1);
      const bool write = k == Kernel::WriteLast;
      forEachLength(f, write ? in(2) : bb, T, [&](Value *r, Value *length) {
        Value *seqAt = b_.CreateMul(b_.CreateAdd(b_.CreateMul(r, T), b_.CreateSub(length, e_.c64(1))), F);
        Value *rowAt = b_.CreateMul(r, F);
        e_.vectorLoop(F, [&](unsigned w, Value *j) {
          if (write)
            e_.store(e_.load(w, bb, b_.CreateAdd(rowAt, j)), o, b_.CreateAdd(seqAt, j));
          else
            e_.store(e_.load(w, a, b_.CreateAdd(seqAt, j)), o, b_.CreateAdd(rowAt, j));
        });
      });
      RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
      return;
    }
    case Kernel::MeanSteps:
    case Kernel::MaxSteps:
    case Kernel::MeanStepsGrad:
    case Kernel::MaxStepsGrad: {
      const bool max = k == Kernel::MaxSteps || k == Kernel::MaxStepsGrad;
      const bool grad = k == Kernel::MeanStepsGrad || k == Kernel::MaxStepsGrad;
      Value *T = p(0), *F = p(1), *lengths = in(k == Kernel::MaxStepsGrad ? 2 : 1);
      auto row = [&](Value *r, Value *length) {
        if (grad)
          emitPoolGradRow(e_, max, a, bb, o, r, length, T, F);
        else
          emitPoolRow(e_, max, a, o, r, length, T, F);
      };
      LLVMContext &ctx = module_.getContext();
      BasicBlock *withLengths = BasicBlock::Create(ctx, "with_lengths", f), *all = BasicBlock::Create(ctx, "all_steps", f);
      b_.CreateCondBr(b_.CreateICmpNE(p(2), e_.c64(0)), withLengths, all);
      b_.SetInsertPoint(all);
      e_.loop(batch(), [&](Value *r) { row(r, T); }, "r");
      b_.CreateRet(b_.getInt32(RNNC_OK));
      b_.SetInsertPoint(withLengths);
      forEachLength(f, lengths, T, row);
      RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
      return;
    }
    case Kernel::MatMulNN:
    case Kernel::MatMulTN:
    case Kernel::Zeros: break;
    }
    b_.CreateRet(b_.getInt32(RNNC_OK));
    RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + kernelSymbol(k) + " is valid IR");
  }

  /// The kernel of one product shape: the rnnc_kernel_args wrapper around
  /// the shared tiled product (emitProductFunction), with K and N fixed and
  /// the rows (MatMulNN) or the summed rows (MatMulTN) from the batch.
  ///   MatMulNN: out[m, :] = sum_k a[m, k] b[k, :]  for m < batch*p0
  ///   MatMulTN: out[k, :] = sum_r a[r, k] b[r, :]  for r < batch*p0
  void emitProduct(const plan::PrimOp &op) {
    const std::string name = kernelSymbol(op);
    const int64_t K = op.p[1], N = op.p[2];
    const bool nn = op.kernel == Kernel::MatMulNN;
    ProductShape shape;
    shape.xStride = nn ? K : 1;
    shape.xkStride = nn ? 1 : K;
    shape.wStride = shape.yStride = shape.n = N;
    Function *product = emitProductFunction(module_, e_.width, name + ".tiles", shape);
    LLVMContext &ctx = module_.getContext();
    args_t_ = abi::kernelArgsType(ctx);
    Function *f = Function::Create(FunctionType::get(e_.i32(), {e_.ptr()}, false), Function::InternalLinkage, name, module_);
    f->addFnAttr(Attribute::NoInline);
    f->addFnAttr(Attribute::NoUnwind);
    b_.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
    args_ = f->getArg(0);
    Value *summed = b_.CreateMul(batch(), p(0));
    b_.CreateCall(product, {in(0), in(1), out(), nn ? summed : e_.c64(K), nn ? e_.c64(K) : summed});
    b_.CreateRet(b_.getInt32(0));
    RNNC_ASSERT(!verifyFunction(*f, &errs()), "kernel " + name + " is valid IR");
  }

  /// __rnnc_pack(params, packed): every packed weight W [units, width] as
  /// W^T [width, units] at its offset. The runtime calls it whenever the
  /// parameters change (rnnc_params_changed: init, load, every update).
  void emitPack(const plan::ImperativePlan &plan) {
    LLVMContext &ctx = module_.getContext();
    Function *f = Function::Create(FunctionType::get(b_.getVoidTy(), {e_.ptr(), e_.ptr()}, false),
                                   Function::ExternalLinkage, "__rnnc_pack", module_);
    f->addFnAttr(Attribute::NoUnwind);
    b_.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
    Value *params = f->getArg(0), *packed = f->getArg(1);
    for (const plan::PackedWeight &w : plan.packed) {
      Value *from = e_.at(params, e_.c64(plan.paramOffsets[w.param])), *to = e_.at(packed, e_.c64(w.offset));
      e_.loop(e_.c64(w.units), [&](Value *i) {
        e_.loop(e_.c64(w.width), [&](Value *j) {
          e_.store(e_.load(1, from, b_.CreateAdd(b_.CreateMul(i, e_.c64(w.width)), j)), to,
                   b_.CreateAdd(b_.CreateMul(j, e_.c64(w.units)), i));
        }, "j");
      }, "i");
    }
    b_.CreateRetVoid();
    RNNC_ASSERT(!verifyFunction(*f, &errs()), "__rnnc_pack is valid IR");
  }

  /// For each of the n token ids: body(i, id) with id checked to be in
  /// [0, vocab); an id outside returns RNNC_ERR_TOKEN. Ends the function.
  void forEachToken(Function *f, Value *ids, Value *n, Value *vocab, const std::function<void(Value *, Value *)> &body) {
    LLVMContext &ctx = module_.getContext();
    BasicBlock *bad = BasicBlock::Create(ctx, "bad_token", f);
    e_.loop(n, [&](Value *i) {
      Value *id = b_.CreateSExt(b_.CreateAlignedLoad(e_.i32(), e_.at(ids, i, e_.i32()), Align(4)), e_.i64());
      BasicBlock *ok = BasicBlock::Create(ctx, "token_ok", f);
      b_.CreateCondBr(b_.CreateICmpUGE(id, vocab), bad, ok); // negative ids wrap to huge
      b_.SetInsertPoint(ok);
      body(i, id);
    }, "i");
    b_.CreateRet(b_.getInt32(RNNC_OK));
    b_.SetInsertPoint(bad);
    b_.CreateRet(b_.getInt32(RNNC_ERR_TOKEN));
  }

  /// For each row r of the batch: body(r, length) with lengths[r] checked to
  /// be in [1, T]; a length outside returns RNNC_ERR_LENGTH. Ends the function.
  void forEachLength(Function *f, Value *lengths, Value *T, const std::function<void(Value *, Value *)> &body) {
    LLVMContext &ctx = module_.getContext();
    BasicBlock *bad = BasicBlock::Create(ctx, "bad_length", f);
    e_.loop(batch(), [&](Value *r) {
      Value *length = b_.CreateSExt(b_.CreateAlignedLoad(e_.i32(), e_.at(lengths, r, e_.i32()), Align(4)), e_.i64());
      BasicBlock *ok = BasicBlock::Create(ctx, "length_ok", f);
      // length - 1 in [0, T): lengths below 1 wrap to huge
      b_.CreateCondBr(b_.CreateICmpUGE(b_.CreateSub(length, e_.c64(1)), T), bad, ok);
      b_.SetInsertPoint(ok);
      body(r, length);
    }, "r");
    b_.CreateRet(b_.getInt32(0));
    b_.SetInsertPoint(bad);
    b_.CreateRet(b_.getInt32(RNNC_ERR_LENGTH));
  }

  /// Loss (p3: 0 mse, 1 mae, 2 bce with logits, 3 softmax cross-entropy) or
  /// its gradient: pred has batch*p0 elements, rows of p1 classes.
  void emitLoss(Function *f, bool grad) {
    LLVMContext &ctx = module_.getContext();
    Value *o = out(), *pred = in(0), *target = in(1), *kind = p(3), *classes = p(1);
    Value *n = b_.CreateMul(batch(), p(0));
    Type *f64 = b_.getDoubleTy();
    AllocaInst *sum = e_.slot(f64, "sum"), *m = e_.slot(e_.f32(), "max"), *den = e_.slot(e_.f32(), "den");
    b_.CreateStore(ConstantFP::get(f64, 0.0), sum);
    auto logOf = [&](Value *v) { return b_.CreateIntrinsic(Intrinsic::log, {v->getType()}, {v}); };
    BasicBlock *sce = BasicBlock::Create(ctx, "softmax_ce", f), *other = BasicBlock::Create(ctx, "elementwise", f);
    BasicBlock *bad = BasicBlock::Create(ctx, "bad_class", f);
    b_.CreateCondBr(b_.CreateICmpEQ(kind, e_.c64(3)), sce, other);

    b_.SetInsertPoint(sce);
    Value *rows = batch(), *inverseB = b_.CreateFDiv(e_.cf(1, 1.0), b_.CreateSIToFP(rows, e_.f32()));
    e_.loop(rows, [&](Value *r) {
      Value *row = b_.CreateMul(r, classes);
      Value *label = b_.CreateSExt(b_.CreateAlignedLoad(e_.i32(), e_.at(target, r, e_.i32()), Align(4)), e_.i64());
      BasicBlock *ok = BasicBlock::Create(ctx, "class_ok", f);
      b_.CreateCondBr(b_.CreateICmpUGE(label, classes), bad, ok);
      b_.SetInsertPoint(ok);
      b_.CreateStore(ConstantFP::getInfinity(e_.f32(), true), m);
      e_.loop(classes, [&](Value *k) { b_.CreateStore(e_.max(b_.CreateLoad(e_.f32(), m), e_.load(1, pred, b_.CreateAdd(row, k))), m); }, "k");
      Value *mx = b_.CreateLoad(e_.f32(), m);
      b_.CreateStore(e_.cf(1, 0.0), den);
      e_.loop(classes, [&](Value *k) {
        b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(e_.f32(), den), e_.exp(b_.CreateFSub(e_.load(1, pred, b_.CreateAdd(row, k)), mx))), den);
      }, "k");
      Value *total = b_.CreateLoad(e_.f32(), den);
      if (grad) {
        e_.loop(classes, [&](Value *k) {
          Value *softmax = b_.CreateFDiv(e_.exp(b_.CreateFSub(e_.load(1, pred, b_.CreateAdd(row, k)), mx)), total);
          Value *hot = b_.CreateSelect(b_.CreateICmpEQ(k, label), e_.cf(1, 1.0), e_.cf(1, 0.0));
          e_.store(b_.CreateFMul(b_.CreateFSub(softmax, hot), inverseB), o, b_.CreateAdd(row, k));
        }, "k");
      } else {
        Value *lse = b_.CreateFAdd(mx, logOf(total));
        b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(f64, sum), b_.CreateFPExt(b_.CreateFSub(lse, e_.load(1, pred, b_.CreateAdd(row, label))), f64)), sum);
      }
    }, "r");
    if (!grad)
      e_.store(b_.CreateFPTrunc(b_.CreateFDiv(b_.CreateLoad(f64, sum), b_.CreateSIToFP(rows, f64)), e_.f32()), o, e_.c64(0));
    b_.CreateRet(b_.getInt32(RNNC_OK));

    b_.SetInsertPoint(other);
    Value *inverseN = b_.CreateFDiv(e_.cf(1, 1.0), b_.CreateSIToFP(n, e_.f32()));
    e_.loop(n, [&](Value *i) {
      Value *pv = e_.load(1, pred, i), *t = e_.load(1, target, i), *d = b_.CreateFSub(pv, t);
      Value *absD = b_.CreateIntrinsic(Intrinsic::fabs, {e_.f32()}, {d});
      Value *sign = b_.CreateSelect(b_.CreateFCmpOGT(d, e_.cf(1, 0.0)), e_.cf(1, 1.0),
                                    b_.CreateSelect(b_.CreateFCmpOLT(d, e_.cf(1, 0.0)), e_.cf(1, -1.0), e_.cf(1, 0.0)));
      Value *isMse = b_.CreateICmpEQ(kind, e_.c64(0)), *isMae = b_.CreateICmpEQ(kind, e_.c64(1));
      if (grad) {
        Value *v = b_.CreateSelect(isMse, b_.CreateFMul(d, e_.cf(1, 2.0)),
                                   b_.CreateSelect(isMae, sign, b_.CreateFSub(e_.sigmoid(pv), t)));
        e_.store(b_.CreateFMul(v, inverseN), o, i);
      } else {
        Value *bce = b_.CreateFAdd(b_.CreateFSub(e_.max(pv, e_.cf(1, 0.0)), b_.CreateFMul(pv, t)),
                                   logOf(b_.CreateFAdd(e_.cf(1, 1.0), e_.exp(b_.CreateFNeg(b_.CreateIntrinsic(Intrinsic::fabs, {e_.f32()}, {pv}))))));
        Value *v = b_.CreateSelect(isMse, b_.CreateFMul(d, d), b_.CreateSelect(isMae, absD, bce));
        b_.CreateStore(b_.CreateFAdd(b_.CreateLoad(f64, sum), b_.CreateFPExt(v, f64)), sum);
      }
    });
    if (!grad)
      e_.store(b_.CreateFPTrunc(b_.CreateFDiv(b_.CreateLoad(f64, sum), b_.CreateSIToFP(n, f64)), e_.f32()), o, e_.c64(0));
    b_.CreateRet(b_.getInt32(RNNC_OK));
    b_.SetInsertPoint(bad);
    b_.CreateRet(b_.getInt32(RNNC_ERR_TOKEN));
    RNNC_ASSERT(!verifyFunction(*f, &errs()), "loss kernel is valid IR");
  }

  Module &module_;
  IRBuilder<> b_;
  Emitter e_;
  StructType *args_t_ = nullptr;
  Value *args_ = nullptr;
};

} // namespace

void emitImperativeKernels(const plan::ImperativePlan &plan, Module &module, unsigned width) {
  KernelEmitter(module, width).run(plan);
}

namespace {

/// The op list as constant data (rnnc_op).
Constant *opList(const std::vector<plan::PrimOp> &list, Module &module, const char *name) {
  LLVMContext &ctx = module.getContext();
  Type *i32 = Type::getInt32Ty(ctx), *i64 = Type::getInt64Ty(ctx);
  StructType *opType = abi::opType(ctx);
  const unsigned maxIn = cast<ArrayType>(opType->getElementType(2))->getNumElements(),
                 numP = cast<ArrayType>(opType->getElementType(7))->getNumElements(),
                 maxFree = cast<ArrayType>(opType->getElementType(9))->getNumElements();
  auto ints = [&](Type *type, const std::vector<int64_t> &values, unsigned n) {
    std::vector<Constant *> items;
    for (unsigned k = 0; k < n; ++k)
      items.push_back(ConstantInt::get(type, k < values.size() ? values[k] : 0));
    return ConstantArray::get(ArrayType::get(type, n), items);
  };
  std::vector<Constant *> ops;
  for (const plan::PrimOp &op : list) {
    Constant *kernel = op.kernel == Kernel::Zeros ? ConstantPointerNull::get(PointerType::getUnqual(ctx))
                                                  : static_cast<Constant *>(module.getFunction(kernelSymbol(op)));
    RNNC_ASSERT(kernel, "every primitive has a compiled kernel");
    RNNC_ASSERT(op.in.size() <= maxIn && op.frees.size() <= maxFree && op.p.size() <= numP,
                "an op fits rnnc_op (operands, sizes, slots freed)");
    const int flags = (op.inPlace ? RNNC_OP_IN_PLACE : 0) | (op.kernel == Kernel::Zeros ? RNNC_OP_ALLOC_ONLY : 0);
    std::vector<int64_t> in(op.in.begin(), op.in.end()), frees(op.frees.begin(), op.frees.end());
    std::vector<int64_t> p(op.p.begin(), op.p.end());
    ops.push_back(ConstantStruct::get(
        opType, {kernel, ConstantInt::get(i32, op.in.size()), ints(i32, in, maxIn), ConstantInt::get(i32, op.out),
                 ConstantInt::get(i32, flags), ConstantInt::get(i64, op.outPerSample), ConstantInt::get(i64, op.outFixed),
                 ints(i64, p, numP), ConstantInt::get(i32, op.frees.size()), ints(i32, frees, maxFree)}));
  }
  auto *array = ArrayType::get(opType, ops.size());
  return new GlobalVariable(module, array, true, GlobalValue::InternalLinkage, ConstantArray::get(array, ops), name);
}

Constant *intTable(Module &module, const std::vector<int64_t> &values, const char *name, unsigned bits = 32) {
  Type *i32 = Type::getIntNTy(module.getContext(), bits);
  std::vector<Constant *> items;
  for (int64_t v : values)
    items.push_back(ConstantInt::get(i32, v));
  auto *array = ArrayType::get(i32, items.size());
  return new GlobalVariable(module, array, true, GlobalValue::InternalLinkage, ConstantArray::get(array, items), name);
}

} // namespace

void emitImperativePlan(const plan::ImperativePlan &plan, Module &module) {
  LLVMContext &ctx = module.getContext();
  Type *i32 = Type::getInt32Ty(ctx);
  std::vector<int64_t> gradSlots, gradParams;
  for (const auto &[param, slot] : plan.gradients) {
    gradParams.push_back(param);
    gradSlots.push_back(slot);
  }
  std::vector<int64_t> packedOffsets;
  for (const plan::PackedWeight &w : plan.packed)
    packedOffsets.push_back(w.offset);
  StructType *planType = abi::imperativePlanType(ctx);
  new GlobalVariable(
      module, planType, true, GlobalValue::ExternalLinkage,
      ConstantStruct::get(planType, {ConstantInt::get(i32, plan.ops.size()), ConstantInt::get(i32, plan.numSlots),
                                     opList(plan.ops, module, "__rnnc_ops"), ConstantInt::get(i32, 1),
                                     intTable(module, {plan.outputSlot}, "__rnnc_output_slots"),
                                     ConstantInt::get(i32, plan.trainOps.size()), ConstantInt::get(i32, plan.trainNumSlots),
                                     opList(plan.trainOps, module, "__rnnc_train_ops"), ConstantInt::get(i32, plan.lossSlot),
                                     ConstantInt::get(i32, plan.gradients.size()),
                                     intTable(module, gradSlots, "__rnnc_grad_slots"),
                                     intTable(module, gradParams, "__rnnc_grad_params"),
                                     ConstantInt::get(i32, plan.packed.size()),
                                     intTable(module, packedOffsets, "__rnnc_packed_offsets", 64),
                                     intTable(module, std::vector<int64_t>(plan.packedSlots.begin(), plan.packedSlots.end()),
                                              "__rnnc_packed_slots"),
                                     intTable(module,
                                              std::vector<int64_t>(plan.trainPackedSlots.begin(), plan.trainPackedSlots.end()),
                                              "__rnnc_train_packed_slots")}),
      "__rnnc_imperative_plan");
}

} // namespace rnnc::codegen
