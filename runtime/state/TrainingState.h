//===- TrainingState.h - A model's parameters and training state on disk -*- C++ -*-===//
//
// A checkpoint of a running model: its parameters under PyTorch's names and
// shapes (so `torch.nn.LSTM` / `GRU` / `Linear` modules load them, and
// weights trained in PyTorch load here), and under separate prefixes what it
// takes to resume exactly: "optimizer." (Adam's exp_avg and exp_avg_sq, or
// SGD's momentum_buffer, per parameter) and "training." (epoch, step,
// optimizer steps, data order seed).
#pragma once

#include "runtime/loader/Loader.h"
#include "runtime/checkpoint/Checkpoint.h"

#include <map>
#include <string>

namespace rnnc::runtime {

struct TrainingProgress {
  int64_t epoch = 0;       ///< epochs completed
  int64_t step = 0;        ///< batches completed in the current epoch
  uint64_t dataSeed = 0;   ///< the shuffling stream's seed
  /// Samples completed in the current epoch (-1: unknown, step * batch), so
  /// that a resume with another batch size continues where the run stopped.
  int64_t samples = -1;
  /// The lowest validation (else training) loss of an epoch so far, whose
  /// parameters are in PATH.best; infinity: none yet.
  double bestLoss = __builtin_inf();
};

/// The checkpoint saveTrainingState writes, in memory.
checkpoint::Checkpoint makeTrainingState(Model &model, rnnc_instance *instance, const TrainingProgress &progress,
                                         const std::map<std::string, std::string> &metadata);

/// Saves parameters, optimizer state and progress atomically (a crash never
/// leaves a truncated file in place of a good one).
bool saveTrainingState(const std::string &path, Model &model, rnnc_instance *instance,
                       const TrainingProgress &progress, const std::map<std::string, std::string> &metadata,
                       std::string &error);

/// Loads a checkpoint into an instance after checking it whole: every
/// parameter present with dtype F32 and its exact shape, no tensor the model
/// does not have (outside the optimizer. and training. prefixes), and, when
/// the file says which model it is for, the same model. Nothing is changed
/// when it fails; the error names the file and the tensor at fault. A file
/// with parameters only (e.g. from PyTorch) loads them and resets training.
/// Also checked: every parameter and optimizer value finite, the training.*
/// counters in range, and the metadata records (checkpoint/Metadata.h);
/// the reading is bounded by what the model can use.
bool loadTrainingState(const std::string &path, Model &model, rnnc_instance *instance, TrainingProgress &progress,
                       std::map<std::string, std::string> &metadata, std::string &error);

/// The same for a checkpoint in memory (e.g. a state dict from Python);
/// errors name `source` where the file version names the file.
bool loadTrainingState(const checkpoint::Checkpoint &ckpt, const std::string &source, Model &model,
                       rnnc_instance *instance, TrainingProgress &progress,
                       std::map<std::string, std::string> &metadata, std::string &error);

} // namespace rnnc::runtime
