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
/// sizes (p[0..5], see runtime/include/rnnc/plan.h).
enum class Kernel {
  MatMulNT,   ///< out[M,N] = a[M,K] b[N,K]^T; M = batch*p0, N = p1, K = p2
  AddBias,    ///< out[r,n] = a[r,n] + bias[n]; rows = batch*p0, n = p1
  Add,        ///< out = a + b; batch*p0 elements
  Sub,        ///< out = a - b
  Mul,        ///< out = a * b
  Sigmoid,    ///< element-wise, batch*p0 elements
  Tanh,
  Relu,
  Copy,
  Softmax,    ///< rows = batch*p0 of width p1
  SliceCols,  ///< out[r, 0:p3] = a[r, p2:p2+p3]; rows = batch*p0, a's width p1
  SelectStep, ///< out[b,:] = x[b, p2, :]; x is [batch, p0, p1]
  WriteStep,  ///< in place: seq[b, p2, :] = h[b, :]; seq is [batch, p0, p1]
  Concat2,    ///< out[r,:] = [a[r, 0:p1], b[r, 0:p2]]; rows = batch*p0
  Embedding,  ///< out[i,:] = table[ids[i], :]; rows = batch*p0, dim p1, vocab p2
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
  std::array<int64_t, 6> p{};
  std::vector<int> frees; ///< temporary slots whose last use this is
  std::string comment;    ///< what IR op this came from
};

struct ImperativePlan {
  std::vector<ir::ValueId> inputs, params;
  std::vector<int64_t> paramOffsets;
  int64_t paramElements = 0;
  int numSlots = 0;
  std::vector<PrimOp> ops;
  int outputSlot = -1;
};

/// Unrolls the forward slice of `graph` into primitive calls: 1) slots for
/// inputs and parameters, 2) one or more primitives per op (a recurrent layer
/// becomes ~20 per time step), 3) the last use of every temporary, where the
/// runtime frees it.
ImperativePlan planImperative(const ir::Graph &graph);

} // namespace rnnc::plan
