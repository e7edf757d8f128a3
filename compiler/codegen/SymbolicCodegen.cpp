//===- SymbolicCodegen.cpp - The whole forward graph as one program -------===//
//
// __rnnc_symbolic_forward(params, packed, arena, batch, inputs, outputs)
// calls one kernel per op, each specialized for the op's static shapes and
// reading weights in the packed layout. A recurrent layer is one fused
// kernel: the input projection of all time steps as one matrix product
// first, then per step and per chunk of hidden units the recurrent products,
// biases, gate activations and state update in one loop nest, in registers.
//===----------------------------------------------------------------------===//
#include "compiler/codegen/Codegen.h"
#include "compiler/codegen/Emit.h"

#include "compiler/passes/Autodiff.h"
#include "compiler/support/Diagnostics.h"

#include "llvm/IR/Function.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Verifier.h"

namespace rnnc::codegen {
namespace {

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
        // dst[c * rows + r] = src[r * cols + c]
        e_.loop(e_.c64(p.rows), [&](Value *r) {
          e_.loop(e_.c64(p.cols), [&](Value *c) {
            Value *v = e_.load(1, src, builder_.CreateAdd(builder_.CreateMul(r, e_.c64(p.cols)), c));
            e_.store(v, dst, builder_.CreateAdd(builder_.CreateMul(c, e_.c64(p.rows)), r));
          }, "c");
        }, "r");
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
    for (int s : step.scratch)
      args.push_back(arenaBuffer(s));
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
  void matmulStrided(Value *x, int64_t xStride, Value *wT, Value *bias, Value *y, int64_t yStride, Value *rows,
                     int64_t k, int64_t n, bool accumulate) {
    IRBuilder<> &b = builder_;
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
          weights.push_back(e_.load(lanes, wT, b.CreateAdd(b.CreateMul(kk, e_.c64(n)), b.CreateAdd(j0, e_.c64(c * lanes)))));
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
    const bool lstm = op.kind == OpKind::Lstm, reverse = op.attrs.getBool("reverse");
    const ir::TensorType &xt = graph_.op(op.operands[0]).type;
    const int64_t T = xt.dims[1].size, I = xt.dims[2].size, H = op.attrs.getInt("hidden");
    const int64_t G = lstm ? 4 : 3, GH = G * H;
    const bool hoist = plan_.options.hoistInputProjection, fuse = plan_.options.fuseCells;
    Value *x = arg(f, 0), *wihT = arg(f, 1), *whhT = arg(f, 2), *bias = arg(f, 3), *bhh = arg(f, 4), *y = arg(f, 5);
    unsigned next = 6;
    Value *proj = hoist ? arg(f, next++) : nullptr;
    Value *cell = lstm ? arg(f, next++) : nullptr;
    Value *gatesBuf = !fuse ? arg(f, next++) : nullptr;
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


// --- Training kernels ---------------------------------------------------------

/// The number of elements of a value in a kernel (fixed, or scaled by batch).
static Value *elementsOf(Emitter &e, IRBuilder<> &b, const ir::TensorType &type, Value *batch) {
  if (plan::isFixedSize(type))
    return e.c64(*type.elementCount());
  return b.CreateMul(batch, e.c64(plan::perSampleElements(type)));
}

/// rnnc_dropout_uniform (runtime/include/rnnc/plan.h) in IR.
static Value *dropoutUniform(IRBuilder<> &b, Value *seed, Value *step, int64_t stream, Value *index) {
  auto c = [&](uint64_t v) { return b.getInt64(v); };
  Value *z = b.CreateMul(seed, c(0x9E3779B97F4A7C15ull));
  z = b.CreateXor(z, b.CreateMul(b.CreateAdd(step, c(1)), c(0xC2B2AE3D27D4EB4Full)));
  z = b.CreateXor(z, c(static_cast<uint64_t>(stream + 1) * 0x165667B19E3779F9ull));
  z = b.CreateXor(z, b.CreateMul(index, c(0xD6E8FEB86659FD93ull)));
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 30)), c(0xBF58476D1CE4E5B9ull));
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 27)), c(0x94D049BB133111EBull));
  z = b.CreateXor(z, b.CreateLShr(z, 31));
  return b.CreateFMul(b.CreateUIToFP(b.CreateLShr(z, 40), b.getFloatTy()), ConstantFP::get(b.getFloatTy(), 1.0 / 16777216.0));
}

bool SymbolicEmitter::emitTrainingKernel(Function *f, const ir::Op &op, const plan::Step &step) {
  IRBuilder<> &b = builder_;
  Value *batch = batchArg(f);
  auto zero = [&](Value *buffer, Value *n) { b.CreateMemSet(buffer, b.getInt8(0), b.CreateMul(n, e_.c64(4)), MaybeAlign(4)); };
  switch (op.kind) {
  case OpKind::Dropout:
  case OpKind::DropoutGrad: {
    const double p = op.attrs.getNumber("p");
    const int64_t stream = op.kind == OpKind::Dropout ? dropoutStream(graph_, step.op) : op.attrs.getInt("stream");
    Value *x = arg(f, 0), *y = arg(f, 1);
    e_.loop(elementsOf(e_, b, op.type, batch), [&](Value *i) {
      Value *keep = b.CreateFCmpOGE(dropoutUniform(b, seedArg(f), stepArg(f), stream, i), e_.cf(1, p));
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
    const OpKind loss = op.kind == OpKind::LossGrad ? *ir::opKindFromMnemonic(op.attrs.getString("loss")) : op.kind;
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
      b.CreateRet(b.getInt32(2)); // RNNC_ERR_TOKEN: a class id outside the classes
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
    Value *rows = b.CreateUDiv(elementsOf(e_, b, op.type, batch), e_.c64(width));
    matmulStrided(arg(f, 0), units, arg(f, 1), nullptr, arg(f, 2), width, rows, units, width, false);
    finish();
    return true;
  }
  case OpKind::DenseGradWeight: { // dW[u, :] = sum_r dy[r, u] x[r, :], over every row of the batch (and time)
    const int64_t units = op.type.dims[0].size, width = op.type.dims[1].size;
    Value *dy = arg(f, 0), *x = arg(f, 1), *dw = arg(f, 2);
    zero(dw, e_.c64(units * width));
    Value *rows = b.CreateUDiv(elementsOf(e_, b, graph_.op(op.operands[0]).type, batch), e_.c64(units));
    // Chunks of rows small enough to stay in cache; within a chunk, tiles of
    // 4 units times 2 vectors of dW accumulate in registers over the rows.
    const int64_t chunk = 256, tileUnits = 4, w = e_.width;
    e_.loop(e_.c64(0), rows, chunk, [&](Value *r0) {
      Value *r1 = b.CreateSelect(b.CreateICmpSLT(b.CreateAdd(r0, e_.c64(chunk)), rows), b.CreateAdd(r0, e_.c64(chunk)), rows);
      auto tile = [&](Value *u0, int64_t tu, Value *j0, int64_t vectors, unsigned lanes) {
        std::vector<AllocaInst *> acc;
        for (int64_t a = 0; a < tu; ++a)
          for (int64_t c = 0; c < vectors; ++c) {
            acc.push_back(e_.slot(e_.vec(lanes), "dw"));
            Value *at = b.CreateAdd(b.CreateMul(b.CreateAdd(u0, e_.c64(a)), e_.c64(width)), b.CreateAdd(j0, e_.c64(c * lanes)));
            b.CreateStore(e_.load(lanes, dw, at), acc.back());
          }
        e_.loop(r0, r1, 1, [&](Value *r) {
          std::vector<Value *> xs;
          for (int64_t c = 0; c < vectors; ++c)
            xs.push_back(e_.load(lanes, x, b.CreateAdd(b.CreateMul(r, e_.c64(width)), b.CreateAdd(j0, e_.c64(c * lanes)))));
          for (int64_t a = 0; a < tu; ++a) {
            Value *d = e_.splat(lanes, e_.load(1, dy, b.CreateAdd(b.CreateMul(r, e_.c64(units)), b.CreateAdd(u0, e_.c64(a)))));
            for (int64_t c = 0; c < vectors; ++c) {
              AllocaInst *slot = acc[a * vectors + c];
              b.CreateStore(e_.fma(d, xs[c], b.CreateLoad(e_.vec(lanes), slot)), slot);
            }
          }
        }, "r");
        for (int64_t a = 0; a < tu; ++a)
          for (int64_t c = 0; c < vectors; ++c) {
            Value *at = b.CreateAdd(b.CreateMul(b.CreateAdd(u0, e_.c64(a)), e_.c64(width)), b.CreateAdd(j0, e_.c64(c * lanes)));
            e_.store(b.CreateLoad(e_.vec(lanes), acc[a * vectors + c]), dw, at);
          }
      };
      const int64_t wideEnd = width / (2 * w) * (2 * w), vectorEnd = width / w * w;
      auto columns = [&](Value *u0, int64_t tu) {
        if (wideEnd > 0)
          e_.loop(e_.c64(0), e_.c64(wideEnd), 2 * w, [&](Value *j) { tile(u0, tu, j, 2, e_.width); }, "j");
        if (vectorEnd > wideEnd)
          e_.loop(e_.c64(wideEnd), e_.c64(vectorEnd), w, [&](Value *j) { tile(u0, tu, j, 1, e_.width); }, "jv");
        if (width > vectorEnd)
          e_.loop(e_.c64(vectorEnd), e_.c64(width), 1, [&](Value *j) { tile(u0, tu, j, 1, 1); }, "jt");
      };
      const int64_t unitsMain = units / tileUnits * tileUnits;
      if (unitsMain > 0)
        e_.loop(e_.c64(0), e_.c64(unitsMain), tileUnits, [&](Value *u) { columns(u, tileUnits); }, "u");
      if (units > unitsMain)
        e_.loop(e_.c64(unitsMain), e_.c64(units), 1, [&](Value *u) { columns(u, 1); }, "ut");
    }, "chunk");
    finish();
    return true;
  }
  case OpKind::SumRows: {
    const int64_t units = op.type.dims[0].size;
    Value *x = arg(f, 0), *out = arg(f, 1);
    zero(out, e_.c64(units));
    Value *rows = b.CreateUDiv(elementsOf(e_, b, graph_.op(op.operands[0]).type, batch), e_.c64(units));
    e_.loop(rows, [&](Value *r) {
      Value *row = b.CreateMul(r, e_.c64(units));
      e_.vectorLoop(units, [&](unsigned lanes, Value *j) {
        e_.store(b.CreateFAdd(e_.load(lanes, out, j), e_.load(lanes, x, b.CreateAdd(row, j))), out, j);
      });
    }, "r");
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
    Value *dy = arg(f, 0), *out = arg(f, 1);
    zero(out, elementsOf(e_, b, op.type, batch));
    e_.loop(batch, [&](Value *bi) {
      Value *to = b.CreateMul(b.CreateAdd(b.CreateMul(bi, e_.c64(T)), e_.c64(index)), e_.c64(F));
      e_.vectorLoop(F, [&](unsigned lanes, Value *j) {
        e_.store(e_.load(lanes, dy, b.CreateAdd(b.CreateMul(bi, e_.c64(F)), j)), out, b.CreateAdd(to, j));
      });
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
    b.CreateRet(b.getInt32(2));
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
/// projection [B,T,G*H], activations [B,T,(G+1)*H], d h to the previous step
/// [B,H], and for LSTM the cell states [B,T,H] and d c [B,H]. 1) the input
/// projection as one matrix product, 2) the gates recomputed step by step
/// from y (no recurrence to wait for: h_{t-1} is known), 3) the backward
/// recurrence, fused per chunk of hidden units, then d h_{t-1} = dz W_hh.
void SymbolicEmitter::recurrentGrad(Function *f, const ir::Op &op, const plan::Step &step) {
  IRBuilder<> &b = builder_;
  const bool lstm = op.attrs.getString("cell") == "lstm", reverse = op.attrs.getBool("reverse");
  const ir::TensorType &xt = graph_.op(op.operands[0]).type;
  const int64_t T = xt.dims[1].size, I = xt.dims[2].size, H = op.attrs.getInt("hidden");
  const int64_t G = lstm ? 4 : 3, GH = G * H, A = (G + 1) * H;
  Value *x = arg(f, 0), *wihT = arg(f, 1), *whhT = arg(f, 2), *bias = arg(f, 3), *bhh = arg(f, 4), *y = arg(f, 5),
        *dy = arg(f, 6), *whh = arg(f, 7), *out = arg(f, 8), *proj = arg(f, 9), *acts = arg(f, 10), *dhNext = arg(f, 11);
  Value *cell = lstm ? arg(f, 12) : nullptr, *dcNext = lstm ? arg(f, 13) : nullptr;
  Value *batch = batchArg(f);
  auto timeOf = [&](Value *s) { return reverse ? b.CreateSub(e_.c64(T - 1), s) : s; };
  auto previousTime = [&](Value *s, Value *t) {
    return b.CreateSelect(b.CreateICmpEQ(s, e_.c64(0)), t, reverse ? b.CreateAdd(t, e_.c64(1)) : b.CreateSub(t, e_.c64(1)));
  };

  // 1. x W_ih^T + b for every step.
  matmulPacked(x, wihT, bias, proj, b.CreateMul(batch, e_.c64(T)), I, GH);

  // 2. The gate activations (and cell states), step by step.
  e_.loop(e_.c64(T), [&](Value *s) {
    Value *t = timeOf(s), *tPrev = previousTime(s, t), *first = b.CreateICmpEQ(s, e_.c64(0));
    Value *kEnd = b.CreateSelect(first, e_.c64(0), e_.c64(H));
    e_.loop(batch, [&](Value *bi) {
      Value *row = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t), *prev = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), tPrev);
      e_.vectorLoop(H, [&](unsigned w, Value *j) {
        std::vector<AllocaInst *> acc;
        for (int64_t g = 0; g < G; ++g) {
          acc.push_back(e_.slot(e_.vec(w), "gate"));
          b.CreateStore(e_.load(w, proj, b.CreateAdd(b.CreateMul(row, e_.c64(GH)), b.CreateAdd(j, e_.c64(g * H)))), acc[g]);
        }
        AllocaInst *hn = e_.slot(e_.vec(w), "hn");
        b.CreateStore(lstm ? e_.cf(w, 0.0) : e_.load(w, bhh, b.CreateAdd(j, e_.c64(2 * H))), hn);
        e_.loop(e_.c64(0), kEnd, 1, [&](Value *k) {
          Value *hk = e_.splat(w, e_.load(1, y, b.CreateAdd(b.CreateMul(prev, e_.c64(H)), k)));
          for (int64_t g = 0; g < G; ++g) {
            AllocaInst *target = (!lstm && g == 2) ? hn : acc[g];
            Value *wk = e_.load(w, whhT, b.CreateAdd(b.CreateMul(k, e_.c64(GH)), b.CreateAdd(j, e_.c64(g * H))));
            b.CreateStore(e_.fma(hk, wk, b.CreateLoad(e_.vec(w), target)), target);
          }
        }, "k");
        Value *actRow = b.CreateMul(row, e_.c64(A));
        auto put = [&](int64_t k, Value *v) { e_.store(v, acts, b.CreateAdd(actRow, b.CreateAdd(j, e_.c64(k * H)))); };
        auto a = [&](int64_t g) { return b.CreateLoad(e_.vec(w), acc[g]); };
        if (lstm) {
          Value *i = e_.sigmoid(a(0)), *fg = e_.sigmoid(a(1)), *g = e_.tanh(a(2)), *o = e_.sigmoid(a(3));
          Value *cPrev = b.CreateSelect(first, e_.cf(w, 0.0), e_.load(w, cell, b.CreateAdd(b.CreateMul(prev, e_.c64(H)), j)));
          e_.store(e_.fma(fg, cPrev, b.CreateFMul(i, g)), cell, b.CreateAdd(b.CreateMul(row, e_.c64(H)), j));
          put(0, i), put(1, fg), put(2, g), put(3, o);
        } else {
          Value *hnValue = b.CreateLoad(e_.vec(w), hn);
          Value *r = e_.sigmoid(a(0)), *z = e_.sigmoid(a(1)), *n = e_.tanh(e_.fma(r, hnValue, a(2)));
          put(0, r), put(1, z), put(2, n), put(3, hnValue);
        }
      });
    }, "b");
  }, "s");

  // 3. Backwards through time.
  b.CreateMemSet(dhNext, b.getInt8(0), b.CreateMul(batch, e_.c64(H * 4)), MaybeAlign(4));
  if (lstm)
    b.CreateMemSet(dcNext, b.getInt8(0), b.CreateMul(batch, e_.c64(H * 4)), MaybeAlign(4));
  e_.loop(e_.c64(T), [&](Value *back) {
    Value *s = b.CreateSub(e_.c64(T - 1), back);
    Value *t = timeOf(s), *tPrev = previousTime(s, t), *first = b.CreateICmpEQ(s, e_.c64(0));
    e_.loop(batch, [&](Value *bi) {
      Value *row = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), t), *prev = b.CreateAdd(b.CreateMul(bi, e_.c64(T)), tPrev);
      Value *outRow = b.CreateMul(row, e_.c64(2 * GH)), *actRow = b.CreateMul(row, e_.c64(A));
      Value *stateRow = b.CreateMul(bi, e_.c64(H));
      e_.vectorLoop(H, [&](unsigned w, Value *j) {
        auto act = [&](int64_t k) { return e_.load(w, acts, b.CreateAdd(actRow, b.CreateAdd(j, e_.c64(k * H)))); };
        auto put = [&](int64_t half, int64_t g, Value *v) {
          e_.store(v, out, b.CreateAdd(outRow, b.CreateAdd(j, e_.c64(half * GH + g * H))));
        };
        Value *one = e_.cf(w, 1.0);
        Value *dh = b.CreateFAdd(e_.load(w, dy, b.CreateAdd(b.CreateMul(row, e_.c64(H)), j)),
                                 e_.load(w, dhNext, b.CreateAdd(stateRow, j)));
        if (lstm) {
          Value *i = act(0), *fg = act(1), *g = act(2), *o = act(3);
          Value *c = e_.load(w, cell, b.CreateAdd(b.CreateMul(row, e_.c64(H)), j));
          Value *cPrev = b.CreateSelect(first, e_.cf(w, 0.0), e_.load(w, cell, b.CreateAdd(b.CreateMul(prev, e_.c64(H)), j)));
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
    // d h_{t-1} (+)= dz_hidden W_hh for every row at once (GRU: on top of its direct part).
    Value *dzHidden = e_.at(out, b.CreateAdd(b.CreateMul(t, e_.c64(2 * GH)), e_.c64(GH)));
    if (lstm)
      b.CreateMemSet(dhNext, b.getInt8(0), b.CreateMul(batch, e_.c64(H * 4)), MaybeAlign(4));
    matmulStrided(dzHidden, T * 2 * GH, whh, nullptr, dhNext, H, batch, GH, H, true);
  }, "back");
  finish();
}

} // namespace

void emitSymbolicPlan(const ir::Graph &graph, const plan::SymbolicPlan &plan, Module &module, unsigned width,
                      bool withPack) {
  SymbolicEmitter(graph, plan, module, width).run(withPack);
}

} // namespace rnnc::codegen
