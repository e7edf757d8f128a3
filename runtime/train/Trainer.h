//===- Trainer.h - Epochs, batches, evaluation, checkpoints -----*- C++ -*-===//
#pragma once

#include "runtime/loader/Loader.h"
#include "runtime/state/TrainingState.h"
#include "runtime/train/Metrics.h"
#include "runtime/support/Cancel.h"

#include <atomic>
#include <csignal>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rnnc::train {

/// One split of a data set in memory: per sample `inputWidth` inputs (token
/// ids or floats) and one target (a class id or a float).
struct Split {
  int64_t count = 0;
  int64_t inputWidth = 0;
  bool idInputs = false;
  std::vector<float> x;
  std::vector<int32_t> ids;
  bool labelTargets = false;
  std::vector<float> y;
  std::vector<int32_t> labels;
  /// Each sample's sequence length (empty unless the model has a lengths
  /// input: then the inputs are left-aligned and run for this many steps).
  std::vector<int32_t> lengths;
  /// The first `n` samples (all if n <= 0 or n >= count).
  Split head(int64_t n) const;
  /// Samples [from, to).
  Split range(int64_t from, int64_t to) const;
};

/// A split's samples where they already are (a Split's vectors, or arrays
/// of the caller's, e.g. NumPy's): the trainer copies only the batch it runs.
/// Inputs are `x` (floats) or `ids` (token ids), count * inputWidth of them;
/// targets are `y` (floats) or `labels` (class ids), or neither (prediction).
struct SplitView {
  int64_t count = 0;
  int64_t inputWidth = 0;
  const float *x = nullptr;
  const int32_t *ids = nullptr;
  const float *y = nullptr;
  const int32_t *labels = nullptr;
  const int32_t *lengths = nullptr; ///< per sample, for a model with a lengths input
  SplitView() = default;
  SplitView(const Split &split); // NOLINT: a Split is a view of itself
};

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch = 32;
  float lr = 0;          ///< > 0: overrides the model's learning rate
  uint64_t seed = 0;     ///< shuffling
  bool shuffle = true;
  bool dropLast = false; ///< drop the last partial batch of an epoch
  /// Batches of similar lengths (needs the split's lengths): Batching.h.
  bool bucket = false;
  int64_t bucketWindow = 16;
  std::string checkpoint; ///< save the last epoch here, and the best as PATH.best
  bool quiet = false;
  std::map<std::string, std::string> metadata; ///< stored in checkpoints (vocabulary, normalization)
  /// Where an interrupted run is saved when `checkpoint` is empty; "": not saved.
  std::string interruptCheckpoint = "interrupted.safetensors";
  /// Progress text (epoch lines; step lines with `stepProgress`): by default
  /// to stderr; a host with its own streams (Python) passes a sink.
  std::function<void(const std::string &)> print;
  /// Step lines redrawn in place: -1 when stderr is a terminal, 0 never, 1 always.
  int stepProgress = -1;
  /// The train step, when not the model's own (rnnrun under mpirun: a
  /// data-parallel step). `interrupted` is this process's SIGINT flag on the
  /// way in and whether to stop (any rank's) on the way out.
  std::function<int32_t(int64_t batch, const void *const *inputs, const void *const *targets, float *loss,
                        bool &interrupted)>
      step;
};

/// The options a model's own train block gives (batch, epochs, shuffle,
/// bucket, bucket_window), the rest at their defaults.
TrainOptions trainOptionsOf(const rnnc_model_info &info);


/// Initializes the parameters as a run seeded with `runSeed` does (rnnrun
/// --seed): PyTorch's default init drawn from the model's seed ^ runSeed.
void initParameters(runtime::Model &model, rnnc_instance *instance, uint64_t runSeed);

struct EpochRecord {
  int64_t epoch = 0;
  double trainLoss = 0, seconds = 0, samplesPerSecond = 0;
  int64_t samples = 0; ///< trained in this run (a resumed epoch: the rest of it)
  Scores validation;
};

enum class TrainResult { Completed, Interrupted, Failed };

/// SIGINT / SIGTERM (runtime/support/Cancel.h): training finishes the
/// current step, writes a checkpoint and stops; evaluation and prediction
/// stop between batches (their error then says "interrupted").
inline void installInterruptHandlers() { io::installCancelHandlers(); }
/// For a host with handlers of its own (Python), see io::CancelScope.
using InterruptScope = io::CancelScope;

class Trainer {
public:
  Trainer(runtime::Model &model, rnnc_instance *instance, std::string loss, int64_t classes,
          double (*denormalize)(double, const void *) = nullptr, const void *context = nullptr);

  /// Trains from `progress` (epoch, step) to options.epochs, evaluating on
  /// `validation` after each epoch. Saves checkpoints as asked. On a failed
  /// step or checkpoint returns Failed with `error` set.
  TrainResult train(const SplitView &train, const SplitView &validation, const TrainOptions &options,
                    runtime::TrainingProgress &progress, std::vector<EpochRecord> &history, std::string &error);

  /// The model's outputs for a split (forward, inference), in batches:
  /// count rows of the output's per-sample size.
  bool predict(const SplitView &split, int64_t batch, std::vector<float> &outputs, std::string &error);
  /// Scores the model on a split.
  bool evaluate(const SplitView &split, int64_t batch, Scores &scores, std::string &error);

  /// Puts back the parameters of the epoch with the lowest validation loss
  /// of the last train() call (model selection on the validation split);
  /// returns that epoch, or 0 if there was no validation split or the last
  /// epoch was the best (nothing to put back).
  int64_t restoreBestParameters();
  int64_t bestEpoch = 0;          ///< the epoch of the lowest validation loss (0: none)

  std::string checkpointPath;     ///< where the last checkpoint was written
  double predictSeconds = 0;      ///< time spent in forward, for the report
  int64_t predictSamples = 0;

private:
  void gather(const SplitView &split, const std::vector<int64_t> &order, int64_t from, int64_t n);
  bool save(const std::string &path, const runtime::TrainingProgress &progress, const TrainOptions &options,
            std::string &error);

  runtime::Model &model_;
  rnnc_instance *instance_;
  std::string loss_;
  Task task_;
  int64_t classes_;
  double (*denormalize_)(double, const void *);
  const void *context_;
  std::vector<float> bestParams_;
  bool lastWasBest_ = false;
  bool pollCancel_ = true; ///< predict() stops on SIGINT / SIGTERM
  std::vector<float> batchX_, batchY_;
  std::vector<int32_t> batchIds_, batchLabels_, batchLengths_;
  int32_t lengthsInput_ = -1; ///< the model's lengths input, or -1
  /// The model's inputs for the gathered batch, in the metadata's order.
  std::vector<const void *> batchInputs(const SplitView &split);
  /// "" or why `split` cannot feed the model (a lengths input without lengths).
  std::string checkLengths(const SplitView &split, const char *what) const;
};

} // namespace rnnc::train
