//===- Report.h - The benchmark's markdown table, JSON and plot --*- C++ -*-===//
#pragma once

#include "bench/Peak.h"
#include "bench/Workloads.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace rnnc::bench {

struct RunInfo {
  std::string command, cpu, dnnl;
  std::map<int, Peak> peaks; // by thread count
  std::string lengthsSource; // W7: where the IMDB lengths came from
};

/// Peak resident memory of one W4 training step, measured in a child process.
struct MemoryResult {
  double baselineBytes = -1, peakBytes = -1; // the process before the model, and its peak
  double imperativePeakBytes = -1;
  double paramElements = 0;
  int64_t batch = 0;
};

/// "Intel(R) Xeon(R) ... (2 cores)".
std::string cpuName();
/// The benchmark's results; `ablation` may be empty.
struct Results {
  std::vector<Case> cases, scaling, ablation;
  MemoryResult memory;
};
std::string markdownReport(const RunInfo &run, const Results &results);
nlohmann::json jsonReport(const RunInfo &run, const Results &results);
/// Time versus sequence length, hidden size, batch size and threads (log
/// scales), one panel each, symbolic plan and oneDNN.
std::string scalingSvg(const std::vector<Case> &scaling);

} // namespace rnnc::bench
