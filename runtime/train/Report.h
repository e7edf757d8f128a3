//===- Report.h - What a framework comparison needs, as text, JSON, SVG -*- C++ -*-===//
#pragma once

#include "runtime/train/Trainer.h"

#include <ostream>
#include <string>
#include <vector>

namespace rnnc::train {

struct RunReport {
  std::string model, plan, source; ///< source: the model.so, or "JIT from FILE"
  double librarySizeBytes = -1;    ///< -1: JIT
  double loadSeconds = 0;
  std::string data;                ///< what was loaded
  std::string epochDefinition;     ///< "N samples in M batches of B"
  std::vector<EpochRecord> history;
  double checkpointBytes = -1;
  std::string checkpoint;
  bool hasTest = false;
  Scores test;
  /// The test split was scored with the parameters of this epoch (the lowest
  /// validation loss); testLast with the last epoch's. 0: the last epoch's.
  int64_t testEpoch = 0;
  Scores testLast;
  std::string baselineName;        ///< "majority class" or "linear regression on the windows"
  Scores baseline;
  double predictSecondsPerSample = 0, predictSecondsPerBatch = 0;
  int64_t batch = 0;
  double cpuUtilisation = 0;       ///< CPU time / wall time (2.0: two cores busy)
  double peakResidentMiB = 0;
  double wallSeconds = 0;
};

/// Fills CPU utilisation and peak resident memory from getrusage.
void measureProcess(RunReport &report, double wallSeconds);
void printReport(const RunReport &report, std::ostream &out);
std::string reportJson(const RunReport &report);
/// Loss and the validation metric per epoch as an SVG line chart.
std::string reportSvg(const RunReport &report);

} // namespace rnnc::train
