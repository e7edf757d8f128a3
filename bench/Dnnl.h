//===- Dnnl.h - oneDNN's RNN primitives on the benchmark shapes --*- C++ -*-===//
//
// The baseline the benchmark compares rnnc with: oneDNN's LSTM and
// linear-before-reset GRU primitives (PyTorch's GRU) on the recurrent layers
// of a workload only (no embedding, dense, loss or optimizer), as in the
// anchor figures of ../shared/docs/BENCHMARKS.md.
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace rnnc::bench {

struct RecurrentShape {
  bool gru = false;
  int64_t steps = 1, batch = 1, input = 1, hidden = 1;
  int layers = 1;
  bool bidirectional = false;
};

/// A stack of recurrent layers as oneDNN primitives, with every buffer
/// allocated and the weights reordered once. run() is what is timed.
class DnnlStack {
public:
  /// training: forward_training + backward (diff weights included);
  /// otherwise forward_inference.
  DnnlStack(const RecurrentShape &shape, bool training);
  ~DnnlStack();
  DnnlStack(const DnnlStack &) = delete;
  DnnlStack &operator=(const DnnlStack &) = delete;
  void run();

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Sets oneDNN's (OpenMP) thread count.
void setDnnlThreads(int threads);
/// "oneDNN 2.6.3 (cpu: OpenMP)".
std::string dnnlVersion();

} // namespace rnnc::bench
