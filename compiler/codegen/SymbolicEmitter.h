//===- SymbolicEmitter.h - The symbolic plan's emitter (internal) -*- C++ -*-===//
//
// The emitter of one symbolic plan: packing, the entry points and the forward
// kernels are defined here; the kernels of the gradient ops in
// SymbolicTraining.cpp. Only SymbolicCodegen.cpp and SymbolicTraining.cpp
// include this header.
#pragma once

#include "compiler/codegen/Codegen.h"
#include "compiler/codegen/Emit.h"
#include "compiler/ir/OpFacts.h"
#include "compiler/support/Diagnostics.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Verifier.h"

namespace rnnc::codegen::detail {

using namespace llvm;
using ir::OpKind;
using plan::Location;

/// Emits the kernels of one symbolic plan into a module.
class SymbolicEmitter {
public:
  SymbolicEmitter(const ir::Graph &graph, const plan::SymbolicPlan &plan, Module &module, unsigned width)
      : graph_(graph), plan_(plan), module_(module), builder_(module.getContext()), e_(builder_, width),
        prefix_(plan.training ? "rnnc.train." : "rnnc.") {}

  /// The packing function serves both entry points: emit it once.
  void run(bool withPack) {
    if (withPack)
      emitPack();
    emitEntry();
  }

private:
  /// A kernel function: (ptr x N, i64 batch, i64 seed, i64 step) -> i32 status.
  /// Only dropout kernels read the seed and step.
  Function *kernel(const std::string &name, unsigned pointers) {
    std::vector<Type *> params(pointers, e_.ptr());
    params.insert(params.end(), {e_.i64(), e_.i64(), e_.i64()});
    auto *type = FunctionType::get(e_.i32(), params, false);
    Function *f = Function::Create(type, Function::InternalLinkage, name, module_);
    f->addFnAttr(Attribute::NoInline); // one call per layer: keep kernels visible in the IR
    f->addFnAttr(Attribute::NoUnwind);
    for (unsigned k = 0; k < pointers; ++k)
      f->addParamAttr(k, Attribute::NoAlias);
    builder_.SetInsertPoint(BasicBlock::Create(module_.getContext(), "entry", f));
    return f;
  }
  Value *arg(Function *f, unsigned k) { return f->getArg(k); }
  Value *batchArg(Function *f) { return f->getArg(f->arg_size() - 3); }
  Value *seedArg(Function *f) { return f->getArg(f->arg_size() - 2); }
  Value *stepArg(Function *f) { return f->getArg(f->arg_size() - 1); }

  // --- Packing: PyTorch layout -> kernel layout, once per parameter change ---

  void emitPack() {
    auto *type = FunctionType::get(builder_.getVoidTy(), {e_.ptr(), e_.ptr()}, false);
    Function *f = Function::Create(type, Function::ExternalLinkage, "__rnnc_pack", module_);
    builder_.SetInsertPoint(BasicBlock::Create(module_.getContext(), "entry", f));
    Value *params = f->getArg(0), *packed = f->getArg(1);
    for (const plan::PackedParam &p : plan_.packed) {
      Value *src = e_.at(params, e_.c64(paramOffset(p.source)));
      Value *dst = e_.at(packed, e_.c64(p.offset));
      if (p.layout == plan::PackedParam::Layout::Transposed) {
        // dst[c * rows + r] = src[r * cols + c], in blocks of 16 columns: each
        // row's 16 reads are contiguous and the 16 write streams stay in L1.
        // (Column by column, every store touched a new cache line: packing
        // took 60 us of a 125 us batch-1 training step.)
        const int64_t block = 16, blocks = (p.cols + block - 1) / block;
        e_.loop(e_.c64(blocks), [&](Value *b) {
          Value *c0 = builder_.CreateMul(b, e_.c64(block));
          Value *width = builder_.CreateBinaryIntrinsic(Intrinsic::smin, e_.c64(block),
                                                        builder_.CreateSub(e_.c64(p.cols), c0));
          e_.loop(e_.c64(p.rows), [&](Value *r) {
            e_.loop(width, [&](Value *k) {
              Value *c = builder_.CreateAdd(c0, k);
              Value *v = e_.load(1, src, builder_.CreateAdd(builder_.CreateMul(r, e_.c64(p.cols)), c));
              e_.store(v, dst, builder_.CreateAdd(builder_.CreateMul(c, e_.c64(p.rows)), r));
            }, "c");
          }, "r");
        }, "block");
      } else {
        // dst[k] = b_ih[k] + (k < sumUpTo ? b_hh[k] : 0)
        Value *second = e_.at(params, e_.c64(paramOffset(p.second)));
        e_.loop(e_.c64(p.cols), [&](Value *k) {
          Value *v = e_.load(1, src, k);
          Value *extra = builder_.CreateSelect(builder_.CreateICmpSLT(k, e_.c64(p.sumUpTo)),
                                               e_.load(1, second, k), e_.cf(1, 0.0));
          e_.store(builder_.CreateFAdd(v, extra), dst, k);
        }, "k");
      }
    }
    builder_.CreateRetVoid();
  }

  int64_t paramOffset(ir::ValueId id) const {
    const Location &loc = plan_.locations[id];
    RNNC_ASSERT(loc.kind == Location::Kind::Param, "packed tensors come from parameters");
    return plan_.paramOffsets[loc.index];
  }

  // --- The entry point -------------------------------------------------------

  /// __rnnc_symbolic_forward(params, packed, arena, batch, inputs, outputs), or
  /// __rnnc_symbolic_train(params, packed, arena, batch, inputs, targets,
  /// grads, loss, seed, step): one call per step, stopping at the first
  /// kernel that reports an error.
  void emitEntry() {
    const bool training = plan_.training;
    std::vector<Type *> params = {e_.ptr(), e_.ptr(), e_.ptr(), e_.i64(), e_.ptr(), e_.ptr()};
    if (training)
      params.insert(params.end(), {e_.ptr(), e_.ptr(), e_.i64(), e_.i64()});
    auto *type = FunctionType::get(e_.i32(), params, false);
    Function *f = Function::Create(type, Function::ExternalLinkage,
                                   training ? "__rnnc_symbolic_train" : "__rnnc_symbolic_forward", module_);
    f->addFnAttr(Attribute::NoUnwind);
    params_ = f->getArg(0);
    packed_ = f->getArg(1);
    arena_ = f->getArg(2);
    batch_ = f->getArg(3);
    inputs_ = f->getArg(4);
    targets_ = training ? f->getArg(5) : nullptr;
    Value *seed = training ? f->getArg(8) : e_.c64(0), *stepCount = training ? f->getArg(9) : e_.c64(0);
    LLVMContext &ctx = module_.getContext();
    BasicBlock *entry = BasicBlock::Create(ctx, "entry", f);
    BasicBlock *failed = BasicBlock::Create(ctx, "failed", f);
    builder_.SetInsertPoint(failed);
    PHINode *status = builder_.CreatePHI(e_.i32(), 0, "status");
    builder_.CreateRet(status);
    builder_.SetInsertPoint(entry);
    current_ = entry;

    for (const plan::Step &step : plan_.steps) {
      std::vector<Value *> args = stepArguments(step);
      Function *k = emitKernel(step); // moves the insert point into the kernel
      builder_.SetInsertPoint(current_);
      args.insert(args.end(), {batch_, seed, stepCount});
      Value *result = builder_.CreateCall(k, args);
      BasicBlock *next = BasicBlock::Create(ctx, "after." + graph_.op(step.op).name, f);
      builder_.CreateCondBr(builder_.CreateICmpEQ(result, builder_.getInt32(0)), next, failed);
      status->addIncoming(result, builder_.GetInsertBlock());
      builder_.SetInsertPoint(next);
      current_ = next;
    }
    builder_.SetInsertPoint(current_);
    if (training) {
      // The loss, then every gradient into the parameter layout (zeros where
      // a parameter does not reach the loss).
      Value *grads = f->getArg(6), *lossOut = f->getArg(7);
      e_.store(e_.load(1, location(plan_.output), e_.c64(0)), lossOut, e_.c64(0));
      builder_.CreateMemSet(grads, builder_.getInt8(0), e_.c64(plan_.paramElements * 4), MaybeAlign(4));
      for (const auto &[param, grad] : graph_.gradients) {
        Value *src = location(grad), *dst = e_.at(grads, e_.c64(paramOffset(param)));
        e_.vectorLoop(*graph_.op(param).type.elementCount(),
                      [&](unsigned w, Value *j) { e_.store(e_.load(w, src, j), dst, j); });
      }
    } else {
      // Copy the output to the caller's buffer.
      const ir::Op &out = graph_.op(plan_.output);
      Value *src = location(plan_.output);
      Value *dst = builder_.CreateAlignedLoad(e_.ptr(), f->getArg(5), Align(8));
      Value *n = builder_.CreateMul(batch_, e_.c64(plan::perSampleElements(out.type)));
      e_.vectorLoop(n, [&](unsigned w, Value *j) { e_.store(e_.load(w, src, j), dst, j); });
    }
    builder_.CreateRet(builder_.getInt32(0));
    if (status->getNumIncomingValues() == 0) // no kernel can fail
      failed->eraseFromParent();
  }

  /// Where a value is, inside the entry function.
  Value *location(ir::ValueId id) {
    const Location &loc = plan_.locations[id];
    switch (loc.kind) {
    case Location::Kind::Input:
      return builder_.CreateAlignedLoad(e_.ptr(), e_.at(inputs_, e_.c64(loc.index), e_.ptr()), Align(8));
    case Location::Kind::Target:
      return builder_.CreateAlignedLoad(e_.ptr(), e_.at(targets_, e_.c64(loc.index), e_.ptr()), Align(8));
    case Location::Kind::Param:
      return e_.at(params_, e_.c64(plan_.paramOffsets[loc.index]));
    case Location::Kind::Arena:
      return arenaBuffer(loc.index);
    case Location::Kind::None: break;
    }
    RNNC_ASSERT(false, "every value the forward program reads has a location");
    return nullptr;
  }
  /// Fixed-size buffers first, then the per-sample region scaled by the batch.
  Value *arenaBuffer(int buffer) {
    const plan::Buffer &b = plan_.buffers[buffer];
    if (b.fixed)
      return e_.at(arena_, e_.c64(b.offset));
    return e_.at(arena_, builder_.CreateAdd(e_.c64(plan_.arenaFixed), builder_.CreateMul(e_.c64(b.offset), batch_)));
  }
  Value *packedOf(ir::ValueId id) { return e_.at(packed_, e_.c64(plan_.packed[plan_.packedFor[id]].offset)); }

  /// The pointers a step's kernel takes, in the kernel's order.
  std::vector<Value *> stepArguments(const plan::Step &step) {
    if (!current_)
      current_ = builder_.GetInsertBlock();
    builder_.SetInsertPoint(current_);
    const ir::Op &op = graph_.op(step.op);
    std::vector<Value *> args;
    switch (op.kind) {
    case OpKind::Lstm:
    case OpKind::Gru:
      args = {location(op.operands[0]), packedOf(op.operands[1]), packedOf(op.operands[2]),
              packedOf(op.operands[3]), location(op.operands[4])};
      break;
    case OpKind::Dense:
      args = {location(op.operands[0]), packedOf(op.operands[1])};
      if (op.operands.size() > 2)
        args.push_back(location(op.operands[2]));
      break;
    case OpKind::RecurrentGrad: // x, W_ih^T, W_hh^T, bias sum, b_hh, y, dy, W_hh
      args = {location(op.operands[0]), packedOf(op.operands[1]), packedOf(op.operands[2]),
              packedOf(op.operands[3]), location(op.operands[4]), location(op.operands[5]),
              location(op.operands[6]), location(op.operands[2])};
      break;
    default:
      for (ir::ValueId operand : op.operands)
        args.push_back(location(operand));
    }
    args.push_back(arenaBuffer(plan_.resultBuffer[step.op]));
    for (const plan::Step::Buffer &s : step.scratch)
      args.push_back(arenaBuffer(s.buffer));
    return args;
  }

  // --- Kernels ----------------------------------------------------------------

  Function *emitKernel(const plan::Step &step) {
    const ir::Op &op = graph_.op(step.op);
    const std::string name = prefix_ + ir::opInfo(op.kind).mnemonic + "." + op.name;
    const unsigned pointers = static_cast<unsigned>(stepArgumentCount(step));
    Function *f = kernel(name, pointers);
    switch (op.kind) {
    case OpKind::Lstm:
    case OpKind::Gru: recurrent(f, op, step); break;
    case OpKind::Dense: dense(f, op); break;
    case OpKind::Embedding: embedding(f, op); break;
    case OpKind::Concat: concat(f, op); break;
    case OpKind::First:
    case OpKind::Last: selectStep(f, op); break;
    case OpKind::Softmax: softmax(f, op); break;
    case OpKind::Relu:
    case OpKind::Tanh:
    case OpKind::Sigmoid: elementwise(f, op); break;
    default:
      if (emitTrainingKernel(f, op, step))
        break;
      RNNC_ASSERT(false, std::string("the symbolic plan has a kernel for ") + ir::opInfo(op.kind).mnemonic);
    }
    RNNC_ASSERT(!verifyFunction(*f, &errs()), "generated kernel " + name + " is valid IR");
    return f;
  }

  size_t stepArgumentCount(const plan::Step &step) {
    const ir::Op &op = graph_.op(step.op);
    size_t operands = op.operands.size() + (op.kind == OpKind::RecurrentGrad ? 1 : 0);
    return operands + 1 + step.scratch.size();
  }

  /// The kernel argument holding the step's scratch buffer `role` (they
  /// follow the operands and the result), or null if the plan made none.
  Value *scratchArg(Function *f, const plan::Step &step, plan::Scratch role) {
    const int k = step.scratchIndex(role);
    return k < 0 ? nullptr : arg(f, static_cast<unsigned>(stepArgumentCount(step) - step.scratch.size() + k));
  }

  bool emitTrainingKernel(Function *f, const ir::Op &op, const plan::Step &step);
  void recurrentGrad(Function *f, const ir::Op &op, const plan::Step &step);

  void finish() { builder_.CreateRet(builder_.getInt32(0)); }

  void elementwise(Function *f, const ir::Op &op) {
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

  void softmax(Function *f, const ir::Op &op) {
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

  void selectStep(Function *f, const ir::Op &op) {
    const ir::TensorType &x = graph_.op(op.operands[0]).type;
    const int64_t T = x.dims[1].size, F = x.dims[2].size, t = op.kind == OpKind::Last ? T - 1 : 0;
    Value *src = arg(f, 0), *dst = arg(f, 1);
    e_.loop(batchArg(f), [&](Value *b) {
      Value *from = builder_.CreateAdd(builder_.CreateMul(b, e_.c64(T * F)), e_.c64(t * F));
      Value *to = builder_.CreateMul(b, e_.c64(F));
      e_.vectorLoop(F, [&](unsigned w, Value *j) {
        e_.store(e_.load(w, src, builder_.CreateAdd(from, j)), dst, builder_.CreateAdd(to, j));
      });
    }, "b");
    finish();
  }

  void concat(Function *f, const ir::Op &op) {
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

  void embedding(Function *f, const ir::Op &op) {
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
    builder_.CreateRet(builder_.getInt32(2)); // RNNC_ERR_TOKEN
  }

  /// y[r, :] = x[r, :] W^T + b with W^T packed as [in, units].
  void dense(Function *f, const ir::Op &op) {
    const ir::TensorType &w = graph_.op(op.operands[1]).type;
    const int64_t units = w.dims[0].size, in = w.dims[1].size;
    const bool hasBias = op.operands.size() > 2;
    Value *x = arg(f, 0), *wt = arg(f, 1), *bias = hasBias ? arg(f, 2) : nullptr, *y = arg(f, hasBias ? 3 : 2);
    Value *rows = builder_.CreateMul(batchArg(f), e_.c64(plan::perSampleElements(op.type) / units));
    matmulPacked(x, wt, bias, y, rows, in, units);
    finish();
  }

  /// y[r, 0:n] = x[r, 0:k] wT[k, n] (+ bias[n]) for r < rows: wT is a packed,
  /// transposed weight, so the inner loop reads rows of it as vectors.
  void matmulPacked(Value *x, Value *wT, Value *bias, Value *y, Value *rows, int64_t k, int64_t n) {
    matmulStrided(x, k, wT, bias, y, n, rows, k, n, false);
  }

  /// y[r*yStride + j] (+)= sum_kk x[r*xStride + kk] wT[kk*n + j] (+ bias[j]);
  /// with `accumulate` the tile starts from y instead of the bias.
  /// wStride: the row stride of wT (default n: a whole matrix; larger for a
  /// block of its columns).
  void matmulStrided(Value *x, int64_t xStride, Value *wT, Value *bias, Value *y, int64_t yStride, Value *rows,
                     int64_t k, int64_t n, bool accumulate, int64_t wStride = -1) {
    IRBuilder<> &b = builder_;
    if (wStride < 0)
      wStride = n;
    // Register blocking: kRows rows times kColumns vectors of accumulators,
    // so that each loaded weight vector feeds kRows FMAs and each broadcast
    // input kColumns.
    const int64_t kRows = 4, kColumns = 2, w = e_.width;
    Value *mainRows = b.CreateMul(b.CreateSDiv(rows, e_.c64(kRows)), e_.c64(kRows));
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
      e_.loop(e_.c64(k), [&](Value *kk) {
        std::vector<Value *> weights;
        for (int64_t c = 0; c < vectors; ++c)
          weights.push_back(e_.load(lanes, wT, b.CreateAdd(b.CreateMul(kk, e_.c64(wStride)), b.CreateAdd(j0, e_.c64(c * lanes)))));
        for (int64_t i = 0; i < rowsInTile; ++i) {
          Value *xk = e_.splat(lanes, e_.load(1, x, b.CreateAdd(b.CreateMul(b.CreateAdd(r0, e_.c64(i)), e_.c64(xStride)), kk)));
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
    // Columns: blocks of kColumns vectors, then single vectors, then scalars.
    const int64_t wideEnd = n / (kColumns * w) * (kColumns * w), vectorEnd = n / w * w;
    auto rowTiles = [&](Value *r0, int64_t rowsInTile) {
      if (wideEnd > 0)
        e_.loop(e_.c64(0), e_.c64(wideEnd), kColumns * w, [&](Value *j) { tile(r0, rowsInTile, j, kColumns, w); }, "j");
      if (vectorEnd > wideEnd)
        e_.loop(e_.c64(wideEnd), e_.c64(vectorEnd), w, [&](Value *j) { tile(r0, rowsInTile, j, 1, w); }, "jv");
      if (n > vectorEnd)
        e_.loop(e_.c64(vectorEnd), e_.c64(n), 1, [&](Value *j) { tile(r0, rowsInTile, j, 1, 1); }, "jt");
    };
    e_.loop(e_.c64(0), mainRows, kRows, [&](Value *r) { rowTiles(r, kRows); }, "r");
    e_.loop(mainRows, rows, 1, [&](Value *r) { rowTiles(r, 1); }, "rt");
  }

  /// The fused cell for `rows` batch rows at once (hoisted projection): per
  /// chunk of hidden units, the G * rows accumulators stay in registers and
  /// each loaded W_hh^T vector feeds `rows` FMAs.
  void fusedRows(Value *b0, int64_t rows, Value *t, Value *tPrev, Value *first, Value *kEnd, int64_t T, int64_t H,
                 int64_t G, bool lstm, Value *proj, Value *whhT, Value *bhh, Value *y, Value *cell) {
    IRBuilder<> &b = builder_;
    const int64_t GH = G * H;
    std::vector<Value *> row, prevRow;
    for (int64_t i = 0; i < rows; ++i) {
      Value *bi = b.CreateAdd(b0, e_.c64(i));
      row.push_back(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t));
      prevRow.push_back(b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), tPrev), e_.c64(H)));
    }
    e_.vectorLoop(H, [&](unsigned w, Value *j) {
      std::vector<std::vector<AllocaInst *>> acc(rows);
      std::vector<AllocaInst *> hn(rows, nullptr);
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t g = 0; g < G; ++g) {
          acc[i].push_back(e_.slot(e_.vec(w), "gate"));
          b.CreateStore(e_.load(w, proj, b.CreateAdd(b.CreateMul(row[i], e_.c64(GH)), b.CreateAdd(j, e_.c64(g * H)))), acc[i][g]);
        }
        if (!lstm) {
          hn[i] = e_.slot(e_.vec(w), "hn");
          b.CreateStore(e_.load(w, bhh, b.CreateAdd(j, e_.c64(2 * H))), hn[i]);
        }
      }
      e_.loop(e_.c64(0), kEnd, 1, [&](Value *k) {
        std::vector<Value *> wk;
        for (int64_t g = 0; g < G; ++g)
          wk.push_back(e_.load(w, whhT, b.CreateAdd(b.CreateMul(k, e_.c64(GH)), b.CreateAdd(j, e_.c64(g * H)))));
        for (int64_t i = 0; i < rows; ++i) {
          Value *hk = e_.splat(w, e_.load(1, y, b.CreateAdd(prevRow[i], k)));
          for (int64_t g = 0; g < G; ++g) {
            AllocaInst *target = (!lstm && g == 2) ? hn[i] : acc[i][g];
            b.CreateStore(e_.fma(hk, wk[g], b.CreateLoad(e_.vec(w), target)), target);
          }
        }
      }, "k");
      for (int64_t i = 0; i < rows; ++i) {
        auto a = [&](int64_t g) { return b.CreateLoad(e_.vec(w), acc[i][g]); };
        Value *out = b.CreateAdd(b.CreateMul(row[i], e_.c64(H)), j);
        if (lstm) {
          Value *cIndex = b.CreateAdd(b.CreateMul(b.CreateAdd(b0, e_.c64(i)), e_.c64(H)), j);
          Value *ig = e_.sigmoid(a(0)), *fg = e_.sigmoid(a(1)), *gg = e_.tanh(a(2)), *og = e_.sigmoid(a(3));
          Value *c = e_.fma(fg, e_.load(w, cell, cIndex), b.CreateFMul(ig, gg));
          e_.store(c, cell, cIndex);
          e_.store(b.CreateFMul(og, e_.tanh(c)), y, out);
        } else {
          Value *r = e_.sigmoid(a(0)), *z = e_.sigmoid(a(1));
          Value *n = e_.tanh(e_.fma(r, b.CreateLoad(e_.vec(w), hn[i]), a(2)));
          Value *hPrev = b.CreateSelect(first, e_.cf(w, 0.0), e_.load(w, y, b.CreateAdd(prevRow[i], j)));
          e_.store(e_.fma(z, b.CreateFSub(hPrev, n), n), y, out);
        }
      }
    });
  }

  /// One LSTM or GRU layer and direction. Arguments: x, W_ih^T [I, G*H],
  /// W_hh^T [H, G*H], bias [G*H] (b_ih + b_hh, except GRU's n gate: b_in),
  /// b_hh (GRU's b_hn is read from it), y, then the scratch buffers:
  /// projection [B,T,G*H] (hoisted), cell state [B,H] (LSTM), gates [B,(G+1)*H] (unfused).
  void recurrent(Function *f, const ir::Op &op, const plan::Step &step) {
    const ir::RecurrentFacts facts = ir::recurrentFacts(op);
    const bool lstm = facts.lstm(), reverse = facts.reverse;
    const ir::TensorType &xt = graph_.op(op.operands[0]).type;
    const int64_t T = xt.dims[1].size, I = xt.dims[2].size, H = facts.hidden;
    const int64_t G = facts.gates(), GH = G * H;
    const bool hoist = plan_.options.hoistInputProjection, fuse = plan_.options.fuseCells;
    Value *x = arg(f, 0), *wihT = arg(f, 1), *whhT = arg(f, 2), *bias = arg(f, 3), *bhh = arg(f, 4), *y = arg(f, 5);
    Value *proj = scratchArg(f, step, plan::Scratch::Projection), *cell = scratchArg(f, step, plan::Scratch::CellState),
          *gatesBuf = scratchArg(f, step, plan::Scratch::Gates);
    RNNC_ASSERT(hoist == (proj != nullptr) && lstm == (cell != nullptr) && !fuse == (gatesBuf != nullptr),
                "the plan made the scratch this kernel reads");
    Value *batch = batchArg(f);
    IRBuilder<> &b = builder_;

    // 1. The input projection of every time step as one matrix product.
    if (hoist)
      matmulPacked(x, wihT, bias, proj, b.CreateMul(batch, e_.c64(T)), I, GH);
    if (lstm)
      e_.vectorLoop(b.CreateMul(batch, e_.c64(H)), [&](unsigned w, Value *j) { e_.store(e_.cf(w, 0.0), cell, j); });

    // 2. The recurrence.
    e_.loop(e_.c64(T), [&](Value *s) {
      Value *t = reverse ? b.CreateSub(e_.c64(T - 1), s) : s;
      Value *first = b.CreateICmpEQ(s, e_.c64(0));
      Value *tPrev = b.CreateSelect(first, t, reverse ? b.CreateAdd(t, e_.c64(1)) : b.CreateSub(t, e_.c64(1)));
      Value *kEnd = b.CreateSelect(first, e_.c64(0), e_.c64(H)); // h_{-1} = 0: no recurrent product
      // Fused and hoisted: blocks of rows share each loaded recurrent weight.
      Value *firstSingle = e_.c64(0);
      if (fuse && hoist) {
        const int64_t rowsPerBlock = e_.width >= 16 ? 4 : 2;
        firstSingle = b.CreateMul(b.CreateSDiv(batch, e_.c64(rowsPerBlock)), e_.c64(rowsPerBlock));
        e_.loop(e_.c64(0), firstSingle, rowsPerBlock, [&](Value *b0) {
          fusedRows(b0, rowsPerBlock, t, tPrev, first, kEnd, T, H, G, lstm, proj, whhT, bhh, y, cell);
        }, "bb");
      }
      e_.loop(firstSingle, batch, 1, [&](Value *bi) {
        Value *row = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t);
        Value *prevRow = b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), tPrev), e_.c64(H));
        Value *projRow = hoist ? b.CreateMul(row, e_.c64(GH)) : nullptr;
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
            Value *c = e_.fma(fg, e_.load(w, cell, cIndex), b.CreateFMul(i, g));
            e_.store(c, cell, cIndex);
            e_.store(b.CreateFMul(o, e_.tanh(c)), y, out);
          } else {
            Value *r = e_.sigmoid(a[0]), *z = e_.sigmoid(a[1]);
            Value *n = e_.tanh(e_.fma(r, hnValue, a[2]));
            Value *hPrev = b.CreateSelect(first, e_.cf(w, 0.0), e_.load(w, y, b.CreateAdd(prevRow, j)));
            e_.store(e_.fma(z, b.CreateFSub(hPrev, n), n), y, out); // (1-z) n + z h
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
      }, "b");
    }, "s");
    finish();
  }

  const ir::Graph &graph_;
  const plan::SymbolicPlan &plan_;
  Module &module_;
  IRBuilder<> builder_;
  Emitter e_;
  Value *params_ = nullptr, *packed_ = nullptr, *arena_ = nullptr, *batch_ = nullptr, *inputs_ = nullptr,
        *targets_ = nullptr;
  BasicBlock *current_ = nullptr;
  const std::string prefix_;
};

} // namespace rnnc::codegen::detail
