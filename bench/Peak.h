//===- Peak.h - The machine's FMA peak, measured ------------------*- C++ -*-===//
#pragma once

#include <string>

namespace rnnc::bench {

struct Peak {
  std::string isa;     // "AVX-512" or "AVX2"
  double gflops = 0;   // single precision, all the given threads together
};

/// Runs independent vector FMA chains on `threads` threads at once (one per
/// core) and returns the sustained single-precision FLOP rate: the peak the
/// benchmark reports fractions of.
Peak measureFmaPeak(int threads);

} // namespace rnnc::bench
