//===- Session.h - One compiled model and its instance, for Python -*- C++ -*-===//
//
// What the Python package's Model holds: a compiled model (JIT or model.so),
// one instance of it, and what a run keeps between calls (the seed, the
// progress of training, the metadata of the data set it is bound to). Every
// computation goes to the runtime (runtime/train, runtime/state); this
// class only keeps the pieces together and grows the instance on demand.
#pragma once

#include "runtime/loader/Loader.h"
#include "runtime/state/TrainingState.h"
#include "runtime/train/Trainer.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace rnnc::python {

class Session {
public:
  Session(std::unique_ptr<runtime::Model> model, std::string source);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  runtime::Model &model() { return *model_; }
  const rnnc_model_info &info() const { return model_->info(); }
  rnnc_instance *instance() { return instance_; }
  const std::string &source() const { return source_; }

  /// Makes room for batches of `batch` samples: a new instance with the
  /// parameters, optimizer state, step count, learning rate and threads of
  /// the old one. Throws std::bad_alloc when memory runs out.
  void reserve(int64_t batch);
  int64_t capacity() const { return capacity_; }

  /// rnnrun --seed: PyTorch's default init from the model's seed ^ seed.
  void init(uint64_t seed);
  uint64_t seed() const { return seed_; }

  /// Threads for forward and train steps (each batch split into chunks of rows).
  void setThreads(int32_t threads);
  int32_t threads() const { return threads_; }
  /// The learning rate of the following steps (0: the model's).
  void setLearningRate(float lr);

  /// The model's loss ("" when it has none) and, for classification, the
  /// number of classes (the output's width).
  const std::string &loss() const { return loss_; }
  int64_t classes() const;

  runtime::TrainingProgress progress;
  /// What the bound data set saves in checkpoints (vocabulary, normalization).
  std::map<std::string, std::string> metadata;
  /// A CSV target's training range, for errors in its units; scaled: known.
  bool scaled = false;
  double targetMin = 0, targetMax = 1;

  /// A trainer over this session's instance (the runtime's training loop,
  /// prediction and metrics).
  train::Trainer trainer();

  /// The session for one call: its instance is not shared between threads
  /// (the long calls run without the GIL). Throws std::runtime_error, rather
  /// than waiting, when another thread is using it.
  std::unique_lock<std::mutex> claim();

private:
  std::unique_ptr<runtime::Model> model_;
  rnnc_instance *instance_ = nullptr;
  int64_t capacity_ = 0;
  int32_t threads_ = 1;
  float lr_ = 0;
  uint64_t seed_ = 0;
  std::string source_, loss_;
  std::mutex busy_;
};

} // namespace rnnc::python
