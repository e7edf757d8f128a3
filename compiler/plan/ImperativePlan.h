//===- ImperativePlan.h - The graph as a list of eager kernel calls -*- C++ -*-===//
//
// The imperative plan runs the same graph one primitive at a time, as an
// eager framework does: every call writes a freshly allocated tensor, and a
// recurrent layer is unrolled step by step and gate op by gate op (matmul,
// add, slice, sigmoid, tanh, mul, ...), like an LSTMCell in a Python loop.
#pragma once

#include "compiler/ir/Graph.h"

#include <array>
#include <string>
#include <vector>

namespace rnnc::plan {

/// The primitive kernels; each is compiled once and called with run-time
/// sizes (p[0..5], see runtime/include/rnnc/plan.h), except the matrix
/// products (MatMulNN, MatMulTN): codegen emits one per distinct (K, N) in
/// the plan through the register-tiled product generator the symbolic plan
/// uses, as an eager framework calls a tuned BLAS per op; the row count
/// stays a run-time size.
enum class Kernel {
  Transpose,  ///< out[N,M] = a[M,N]^T; M = p1, N = p2 (a computed right operand, before its products)
  AddBias,    ///< out[r,n] = a[r,n] + bias[n]; rows = batch*p0, n = p1
  Add,        ///< out = a + b; batch*p0 + p5 elements
  Sub,        ///< out = a - b
  Mul,        ///< out = a * b
  Sigmoid,    ///< element-wise, batch*p0 + p5 elements
  Tanh,
  Relu,
  Copy,
  Softmax,    ///< rows = batch*p0 of width p1
  SliceCols,  ///< out[r, 0:p3] = a[r, p2:p2+p3]; rows = batch*p0, a's width p1
  SelectStep, ///< out[b,:] = x[b, p2, :]; x is [batch, p0, p1]
  WriteStep,  ///< in place: seq[b, p2, p3:p3+p4] = h[b, :]; seq is [batch, p0, p1]
  Concat2,    ///< out[r,:] = [a[r, 0:p1], b[r, 0:p2]]; rows = batch*p0
  Embedding,  ///< out[i,:] = table[ids[i], :]; rows = batch*p0, dim p1, vocab p2
  OneMinus,   ///< out = 1 - a (element-wise, like Add: batch*p0 + p5 elements)
  MatMulNN,   ///< out[M,N] = a[M,K] b[K,N]; M = batch*p0, K = p1, N = p2
  MatMulTN,   ///< out[K,N] = sum over rows r of a[r,K]^T b[r,N]; rows = batch*p0, K = p1, N = p2
  SumRows,    ///< out[N] = sum over rows of a[r,N]; rows = batch*p0, N = p1
  Dropout,    ///< out = a * mask(seed, step, stream p2) / (1-p); p1 holds the bits of p as a float; batch*p0 + p5 elements
  Loss,       ///< out[0] = the loss p3 (see lossKindCode) of (pred, target); pred batch*p0 elements, p1 classes
  LossGrad,   ///< out = d loss / d pred, same sizes as Loss
  ReluGrad,   ///< out = dy * (y > 0)
  SoftmaxGrad,///< out = y * (dy - sum(dy * y)) per row; rows = batch*p0 of width p1
  ShiftSteps, ///< out[b,t,:] = y[b,t-1,:] (p2: t+1), zeros at the edge; y is [batch, p0, p1]
  EmbeddingGrad, ///< out[vocab p2, dim p1] = dy summed into the rows of ids; rows = batch*p0
  /// Sequence lengths (in[2] / in[1] / in[2], i32[batch]), each checked to be in [1, T]
  /// (RNNC_ERR_LENGTH otherwise):
  MaskStep,   ///< out[b,:] = step p1 < lengths[b] ? a[b,:] : alt[b,:]; width p0, T = p2
  SelectLast, ///< out[b,:] = seq[b, lengths[b]-1, :]; seq is [batch, p0, p1]
  WriteLast,  ///< in place: seq[b, lengths[b]-1, :] = h[b,:]; seq is [batch, p0, p1]
  /// Pooling over the time steps 0..L-1 of seq [batch, p0, p1]: L = lengths[b]
  /// (in[1], or in[2] for MaxStepsGrad; checked as above) when p2 is 1, else p0:
  MeanSteps,     ///< out[b,:] = the mean of seq[b, 0..L-1, :]
  MaxSteps,      ///< out[b,:] = the element-wise max of seq[b, 0..L-1, :]
  MeanStepsGrad, ///< out[b,t,:] = dy[b,:] / L at t < L, 0 after; out is [batch, p0, p1]
  MaxStepsGrad,  ///< out[b,t,:] = dy[b,:] where t < L is the first step of the max of seq (in[1]), else 0
  Zeros,      ///< no kernel: a new zero tensor
};
constexpr int kNumKernels = static_cast<int>(Kernel::Zeros) + 1;
const char *kernelName(Kernel kernel);

struct PrimOp {
  Kernel kernel;
  std::vector<int> in; ///< slots
  int out = -1;        ///< slot
  bool inPlace = false;
  int64_t outPerSample = 0;
  int64_t outFixed = 0;
  std::array<int64_t, 6> p{};
  std::vector<int> frees; ///< temporary slots whose last use this is
  std::string comment;    ///< what IR op this came from
};

/// A weight W [units, width] kept as W^T [width, units] in the instance's
/// packed buffer (the layout the product tiles read): the runtime writes it
/// with __rnnc_pack whenever the parameters change (init, load, every
/// update), as eager users prepack their weights; the programs read it
/// through a slot of their own and never free it.
struct PackedWeight {
  int param = -1; ///< index into params
  int64_t units = 0, width = 0, offset = 0;
};

struct ImperativePlan {
  std::vector<ir::ValueId> inputs, params, targets;
  std::vector<int64_t> paramOffsets;
  int64_t paramElements = 0;
  int numSlots = 0;
  std::vector<PrimOp> ops;
  int outputSlot = -1;
  /// The training program (empty without a loss): slots are the inputs, the
  /// parameters, the targets, then temporaries.
  int trainNumSlots = 0;
  std::vector<PrimOp> trainOps;
  int lossSlot = -1;
  std::vector<std::pair<int, int>> gradients; ///< (parameter index, slot)
  /// The packed weights, and each one's slot in the forward and in the
  /// training program (-1 where that program has no product with it).
  std::vector<PackedWeight> packed;
  int64_t packedElements = 0;
  std::vector<int> packedSlots, trainPackedSlots;
};

/// The code of a loss in the Loss and LossGrad kernels' p3.
int64_t lossKindCode(ir::OpKind loss);

/// Unrolls the forward slice of `graph` into primitive calls: 1) slots for
/// inputs and parameters, 2) one or more primitives per op (a recurrent layer
/// becomes ~20 per time step), 3) the last use of every temporary, where the
/// runtime frees it.
/// With a loss, also unrolls the training program of the differentiated
/// graph `training` (forward with dropout active, the loss, then the
/// gradient ops; a recurrent layer's gradient step by step, reusing the gate
/// tensors its forward steps kept, as autograd does).
ImperativePlan planImperative(const ir::Graph &graph, const ir::Graph *training = nullptr);

} // namespace rnnc::plan
