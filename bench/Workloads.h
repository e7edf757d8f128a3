//===- Workloads.h - The benchmark cases: W1-W6 and the scaling sweep -*- C++ -*-===//
#pragma once

#include "bench/Dnnl.h"

#include <functional>
#include <string>
#include <vector>

namespace rnnc::bench {

/// One timed thing: a workload run by one engine on a number of threads.
struct Case {
  std::string workload; // "W4 lstm train step (B=256)"
  std::string id;       // "W4", ..., or "scaling"
  std::string engine;   // "symbolic", "imperative", "oneDNN"
  int threads = 1;
  double flops = 0;     // recurrent-layer FLOPs of one run (BENCHMARKS.md's count)
  double perRun = 1;    // the reported time is one run's time / perRun (per sample)
  bool slow = false;    // seconds per run: fewer repetitions
  std::string sweep;    // scaling: "steps", "hidden", "batch" or "threads"
  double sweepValue = 0;
  /// Builds what the case needs (untimed) and returns the timed function.
  std::function<std::function<void()>()> prepare;
  double seconds = -1;  // the median, per run / perRun; < 0: not measured
  std::vector<double> repetitions; // each repetition's time, per run / perRun
  int reruns = 0;       // how many times it was measured again (bench/Plausibility.h)
  std::string implausible; // why the figure is not to be believed, after its reruns
  /// W7: the real tokens of one run / perRun (one batch), the tokens of the
  /// same batch padded to the model's length, and the padded workload whose
  /// time, scaled by real / padded tokens, is the target (BENCHMARKS.md).
  double realTokens = 0, paddedTokens = 0;
  std::string paddedWorkload;
};

struct Settings {
  std::string rnnc;       // the compiler
  std::string sourceDir;  // for models/
  std::string workDir;    // generated models and libraries
  std::vector<int> threads{1, 2};
  std::vector<std::string> only; // workload ids to run; empty: all
  std::string targetCpu = "host"; // rnnc --target-cpu
  bool imperative = true;
  bool onednn = true;
  bool scaling = true;
  std::string dataDir; // W7: where to look for the IMDB set (besides the usual data directories)
};

/// FLOPs of one forward pass of the recurrent layers (2*G*H*(I+H) per step,
/// sample and direction); training counts three times that.
double recurrentFlops(const RecurrentShape &shape);

/// Compiles `source` (a .rnn text) with rnnc into WORKDIR/NAME.PLAN.so and
/// returns its path; throws with rnnc's output on failure.
std::string compileModel(const Settings &settings, const std::string &name,
                         const std::string &source, const std::string &plan,
                         const std::string &flags = "", const std::string &tag = "");

/// The cases of W1-W6 for the symbolic plan, the imperative plan and oneDNN
/// on every thread count; compiles the models it needs.
std::vector<Case> workloadCases(const Settings &settings);

/// W7: the lengths of the IMDB training split (left-aligned, cut at 256, as
/// rnnrun feeds a model with lengths), from the data set when it is
/// found (`source` says where), else from bench/imdb_train_lengths.txt (a
/// histogram of the same, written by rnnbench --write-imdb-lengths).
std::vector<int32_t> imdbTrainLengths(const Settings &settings, std::string &source);

/// W7 (BENCHMARKS.md): W4 and W5 of bench/w7_bilstm_len.rnn on batches of
/// the real IMDB lengths, bucketed (as training batches them) and not: each
/// run is kW7Batches batches of an epoch (those at the quantiles (2k+1)/2K of
/// the batches' real tokens), the time is per batch.
/// `lengthsSource` says where the lengths came from.
std::vector<Case> lengthCases(const Settings &settings, std::string &lengthsSource);
constexpr int kW7Batches = 4;

/// The ablation (id "ablation"): the ETTh1 and IMDB LSTM models' training
/// step and forward pass at batch 32 with the symbolic plan, with each of its
/// optimizations switched off in turn (rnnc --no-fuse, --no-hoist,
/// --no-memplan), all three off, and the imperative plan.
std::vector<Case> ablationCases(const Settings &settings);

/// The scaling sweep: forward pass of one LSTM layer, time versus sequence
/// length, hidden size, batch size and threads; symbolic plan and oneDNN.
std::vector<Case> scalingCases(const Settings &settings);

/// The time-series network of W1-W3 (BENCHMARKS.md) with `steps` time steps.
std::string seriesModel(bool gru, int64_t steps);

} // namespace rnnc::bench
