//===- SymbolicEmitter.h - The symbolic plan's emitter (internal) -*- C++ -*-===//
//
// The emitter of one symbolic plan. The class is declared here and defined by
// what it emits:
//   SymbolicCodegen.cpp   the entry points and the kernel of each step
//   SymbolicPacking.cpp   __rnnc_pack (PyTorch layout -> kernel layout)
//   SymbolicForward.cpp   the forward kernels (the fused LSTM/GRU cell, dense, ...)
//   SymbolicTraining.cpp  the kernels of the gradient ops
//   SymbolicMatmul.cpp    the register-tiled matrix products they all share
//   ProductFunction.cpp   that product as a function for other callers
//                         (emitProductFunction, Codegen.h)
// Only these files include this header.
#pragma once

#include "compiler/codegen/Codegen.h"
#include "compiler/codegen/Emit.h"
#include "compiler/ir/OpFacts.h"
#include "compiler/support/Diagnostics.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/Intrinsics.h"
#include "rnnc/abi.h"

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

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
  void run(bool withPack);

  /// emitProductFunction (Codegen.h): matmulTiled as a function of its own,
  /// for kernels outside the symbolic plan (ProductFunction.cpp).
  static Function *productFunction(Module &module, unsigned width, const std::string &name,
                                   const ProductShape &shape);

private:
  // --- Kernel functions (SymbolicCodegen.cpp) --------------------------------

  /// A kernel function: (ptr x N, i64 batch, i64 seed, i64 step) -> i32 status.
  /// Only dropout kernels read the seed and step.
  Function *kernel(const std::string &name, unsigned pointers);
  Value *arg(Function *f, unsigned k) { return f->getArg(k); }
  Value *batchArg(Function *f) { return f->getArg(f->arg_size() - 3); }
  Value *seedArg(Function *f) { return f->getArg(f->arg_size() - 2); }
  Value *stepArg(Function *f) { return f->getArg(f->arg_size() - 1); }
  void finish() { builder_.CreateRet(builder_.getInt32(RNNC_OK)); }

  // --- The entry point (SymbolicCodegen.cpp) ---------------------------------

  /// __rnnc_symbolic_forward(params, packed, arena, batch, inputs, outputs), or
  /// __rnnc_symbolic_train(params, packed, arena, batch, inputs, targets,
  /// grads, loss, seed, step): one call per step, stopping at the first
  /// kernel that reports an error.
  void emitEntry();
  /// Two kernel calls that may run at the same time (plan::Step::
  /// concurrentWithNext): through parallel->run2 (rnnc/plan.h) when the
  /// caller passes one, else one after the other. Returns the status.
  Value *callConcurrently(Function *entry, Value *parallel, Function *a, const std::vector<Value *> &aArgs,
                          Function *b, const std::vector<Value *> &bArgs);
  /// The kernel k as an rnnc_task_fn: its arguments read from a block of
  /// 8-byte slots in k's order.
  Function *taskOf(Function *k);
  /// Where a value is, inside the entry function.
  Value *location(ir::ValueId id);
  /// Fixed-size buffers first, then the per-sample region scaled by the batch.
  Value *arenaBuffer(int buffer);
  Value *packedOf(ir::ValueId id) { return e_.at(packed_, e_.c64(plan_.packed[plan_.packedFor[id]].offset)); }
  /// The pointers a step's kernel takes, in the kernel's order.
  std::vector<Value *> stepArguments(const plan::Step &step);
  /// The kernel of one step, by its op's kind.
  Function *emitKernel(const plan::Step &step);
  size_t stepArgumentCount(const plan::Step &step);
  /// The kernel argument holding the step's scratch buffer `role` (they
  /// follow the operands and the result), or null if the plan made none.
  Value *scratchArg(Function *f, const plan::Step &step, plan::Scratch role);

  // --- Packing: PyTorch layout -> kernel layout, once per parameter change
  //     (SymbolicPacking.cpp) ------------------------------------------------

  void emitPack();
  /// __rnnc_adam_update(params, packed, grads, m, v, coefficients): the
  /// runtime's Adam step on every parameter, bit for bit, writing the packed
  /// layout in the same pass (so that no __rnnc_pack follows).
  void emitAdamUpdate();
  /// dst[c * rows + r] = src[r * cols + c]: a weight into its packed layout.
  void transposeInto(Value *src, Value *dst, int64_t rows, int64_t cols, const plan::PackedParam *p = nullptr);
  /// The same for the w rows from r0 (rows, cols >= the vector width w),
  /// into the layout of `p` (plan::PackedParam::indexOf) when it has one.
  void transposeRowTile(Value *src, Value *dst, int64_t rows, int64_t cols, Value *r0,
                        const plan::PackedParam *p = nullptr);
  /// b_ih + b_hh into the packed layout.
  void packBiasSum(Value *params, Value *packed, const plan::PackedParam &p);
  int64_t paramOffset(ir::ValueId id) const;

  // --- Forward kernels (SymbolicForward.cpp) ---------------------------------

  void elementwise(Function *f, const ir::Op &op);
  void softmax(Function *f, const ir::Op &op);
  void selectStep(Function *f, const ir::Op &op);
  /// mean / max over the time steps (with lengths: steps 0..length-1 of each sample).
  void poolSteps(Function *f, const ir::Op &op);
  void concat(Function *f, const ir::Op &op);
  void embedding(Function *f, const ir::Op &op);
  /// y[r, :] = x[r, :] W^T + b with W^T packed as [in, units].
  void dense(Function *f, const ir::Op &op);
  /// One LSTM or GRU layer and direction. Arguments: x, W_ih^T [I, G*H],
  /// W_hh^T [H, G*H], bias [G*H] (b_ih + b_hh, except GRU's n gate: b_in),
  /// b_hh (GRU's b_hn is read from it), y, then the scratch buffers:
  /// projection [T,B,G*H] (hoisted: by step), cell state [B,H] (LSTM), gates [B,(G+1)*H] (unfused).
  void recurrent(Function *f, const ir::Op &op, const plan::Step &step);
  /// The fused cell for `rows` batch rows at once (hoisted projection): per
  /// chunk of hidden units, the G * rows accumulators stay in registers and
  /// each loaded W_hh^T vector feeds `rows` FMAs. Small blocks (1 or 2 rows
  /// with AVX-512, 1 with AVX2) take two chunks of hidden units per pass, so
  /// that at least 8 independent FMA chains cover the FMA latency (one row
  /// alone had 4: batch 1 was bound by latency, not by loads). Hidden
  /// units jLo .. jLo + span (default: all H); with panelLayout, W_hh^T is
  /// packed in panels (plan::PackedParam::panel) and this is one of them.
  void fusedRows(Value *b0, int64_t rows, Value *t, Value *tPrev, Value *tNext, Value *first, Value *kEnd, int64_t T, int64_t H,
                 int64_t G, bool lstm, Value *batch, Value *proj, Value *whhT, Value *bhh, Value *y, Value *cell, Value *ws,
                 Value *lengths, Value *order = nullptr, Value *jLo = nullptr, int64_t span = -1,
                 bool panelLayout = false);
  /// Batch row `r` of a step: order[r] (rows sorted by length), or r.
  Value *rowAt(Value *order, Value *r);
  /// The length of batch row `bi` (i32 lengths), as i64.
  Value *lengthAt(Value *lengths, Value *bi);
  /// How many of the `batch` rows have a length above step t (with rows
  /// sorted by length, the running rows are the first that many).
  Value *runningRows(Value *lengths, Value *batch, Value *t);
  /// Sorts the batch rows by length, longest first, into order (i32 [B]).
  void sortRowsByLength(Value *lengths, Value *order, int64_t T);
  /// Sequence lengths: whether step t of batch row `bi` is inside its
  /// sample's length (always true without lengths).
  Value *inside(Value *lengths, Value *bi, Value *t);
  /// The state update of a row past its length: the cell keeps its value,
  /// the output is 0, and the workspace gets values that make the gradient
  /// exactly 0 (LSTM gates 0; GRU z 0, n 1) with no change to recurrent_grad.
  Value *masked(Value *valid, Value *v, double outside);
  /// Returns RNNC_ERR_LENGTH from the kernel if a length is outside [1, T].
  void checkLengths(Function *f, Value *lengths, int64_t T);
  /// Training: stores what the backward pass reads of `row` (step t, batch
  /// row b: t * B + b) and hidden units j..: the G + 1 vectors (LSTM i, f, g,
  /// o, c; GRU r, z, n, W_hn h + b_hn) into the workspace, laid out by step
  /// [T,B,(G+1)*H]; nothing without one.
  void keep(Value *ws, Value *row, Value *j, int64_t H, int64_t G, std::initializer_list<Value *> values);

  // --- Training kernels (SymbolicTraining.cpp) -------------------------------

  /// The kernel of a gradient op (or dropout, a loss); false for another op.
  bool emitTrainingKernel(Function *f, const ir::Op &op, const plan::Step &step);
  void recurrentGrad(Function *f, const ir::Op &op, const plan::Step &step);

  // --- The shared matrix product (SymbolicMatmul.cpp) ------------------------

  /// y[r, 0:n] = x[r, 0:k] wT[k, n] (+ bias[n]) for r < rows: wT is a packed,
  /// transposed weight, so the inner loop reads rows of it as vectors.
  void matmulPacked(Value *x, Value *wT, Value *bias, Value *y, Value *rows, int64_t k, int64_t n);
  /// y[r*yStride + j] (+)= sum_kk x[r*xStride + kk] wT[kk*n + j] (+ bias[j]);
  /// with `accumulate` the tile starts from y instead of the bias. yStride
  /// may depend on the batch (the recurrence's projection by step).
  /// wStride: the row stride of wT (default n: a whole matrix; larger for a
  /// block of its columns).
  void matmulStrided(Value *x, int64_t xStride, Value *wT, Value *bias, Value *y, Value *yStride, Value *rows,
                     int64_t k, int64_t n, bool accumulate, int64_t wStride = -1);
  /// dw[u, j] = sum_r dy[r*units + u] x[r*width + j] for u < units, j < width,
  /// r < rows (dense_grad_weight): blocks of plan::kWeightGradRowBlock rows;
  /// per block, dy rearranged in `panels` (plan::weightGradPanelElements) so
  /// that each register tile reads its broadcasts in order, and each column
  /// panel of x copied to contiguous rows that stay in L1 while every tile
  /// of dW reads them. Every element sums the rows in order. With `lengths`
  /// (rows [B,T]): of each sample b only rows b*T .. b*T + lengths[b] - 1,
  /// in blocks that stay inside a sample (still in order).
  void matmulWeightGrad(Value *dy, int64_t units, Value *x, int64_t width, Value *dw, Value *rows, Value *panels,
                        Value *lengths = nullptr, int64_t T = 0);
  /// The register tile of every product: acc[i][c] = start(i, c), then for
  /// kk < k acc[i][c] += x[xAt(i, kk)] * w[wAt(kk, c) ..+lanes], then
  /// done(i, c, acc[i][c]); i < rowsInTile, c < vectors.
  void registerTile(int64_t rowsInTile, int64_t vectors, unsigned lanes, Value *k, Value *x,
                    const std::function<Value *(int64_t, Value *)> &xAt, Value *w,
                    const std::function<Value *(Value *, int64_t)> &wAt,
                    const std::function<Value *(int64_t, int64_t)> &start,
                    const std::function<void(int64_t, int64_t, Value *)> &done);
  /// Covers columns [0, n) with blocks of tileColumns() vectors, then of 2,
  /// then single vectors, then scalars: body(j0, vectors, lanes).
  void columnBlocks(int64_t n, const std::function<void(Value *, int64_t, unsigned)> &body);
  /// Register tiles: kTileRows rows x tileColumns() vectors.
  static constexpr int64_t kTileRows = 6;
  int64_t tileColumns() const { return e_.width >= 16 ? 4 : 2; }
  /// Covers rows [begin, end) with blocks of sizes[0] rows, then of
  /// sizes[1], ... (descending): body(r0, size) per block. Returns where
  /// the blocks stop (end when the last size is 1).
  Value *rowBlocks(Value *begin, Value *end, const std::vector<int64_t> &sizes,
                   const std::function<void(Value *, int64_t)> &body, const char *name);

  const ir::Graph &graph_;
  const plan::SymbolicPlan &plan_;
  Module &module_;
  IRBuilder<> builder_;
  Emitter e_;
  Value *params_ = nullptr, *packed_ = nullptr, *arena_ = nullptr, *batch_ = nullptr, *inputs_ = nullptr,
        *targets_ = nullptr;
  Value *grads_ = nullptr; ///< the training program's gradient buffer (PyTorch layout)
  BasicBlock *current_ = nullptr;
  const std::string prefix_;
};

} // namespace rnnc::codegen::detail
