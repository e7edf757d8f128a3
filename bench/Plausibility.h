//===- Plausibility.h - Figures the benchmark must not believe --*- C++ -*-===//
//
// The machine is shared: another process on the cores can make one figure
// wild (oneDNN's OpenMP runtime measured 16 s instead of 0.35 s for a
// 2-thread W5 row while a build ran). Such a figure is rerun; if it stays
// implausible it is marked in the table and no ratio is printed for it.
//===----------------------------------------------------------------------===//
#pragma once

#include "bench/Workloads.h"

#include <functional>
#include <string>
#include <vector>

namespace rnnc::bench {

/// The rules, as factors (no absolute times: they hold for any machine).
struct PlausibilityRules {
  /// A case on more threads may be slower than the same workload and engine
  /// on fewer threads by at most this factor (batch-1 rows legitimately lose
  /// a little to the threads' synchronisation; a collapse loses 10-50x).
  double threadSlowdown = 1.5;
  /// The slowest repetition may be at most this factor slower than the fastest.
  double repetitionSpread = 1.5;
  /// A case on fewer threads may be slower than the same workload and engine
  /// on more threads by at most this factor times the ratio of the thread
  /// counts (each core's own cache can make a speed-up a little better than
  /// linear; oneDNN's OpenMP runtime measured 8.5 s on 1 thread against
  /// 1.5 s on 2 while nothing else ran).
  double superlinear = 1.5;
};

/// Why `c` is implausible among `cases` (empty when it is not): its
/// repetitions spread too far, it is slower than the same workload and
/// engine on fewer threads, or slower than on more threads by far more than
/// the threads explain. Cases not measured (seconds < 0) are never
/// implausible and never count as a comparison.
std::string implausibility(const Case &c, const std::vector<Case> &cases, const PlausibilityRules &rules = {});

/// Checks every case; reruns the implausible ones once (`rerun` measures the
/// given cases again, replacing their seconds and repetitions); then marks
/// each case that is still implausible (Case::implausible holds the reason)
/// and each rerun case (Case::reruns). Returns how many are marked.
int settleImplausible(std::vector<Case> &cases, const std::function<void(const std::vector<Case *> &)> &rerun,
                      const PlausibilityRules &rules = {});

} // namespace rnnc::bench
