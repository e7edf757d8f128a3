//===- Loader.h - Open a model.so and check it can run here -----*- C++ -*-===//
#pragma once

#include "rnnc/plan.h"

#include <memory>
#include <string>

namespace rnnc::runtime {

/// A compiled model, from a model.so or from the JIT: its metadata and the
/// ABI's functions.
class Model {
public:
  virtual ~Model() = default;
  virtual const rnnc_model_info &info() const = 0;
  virtual rnnc_instance *create(int64_t maxBatch) = 0;
  virtual void destroy(rnnc_instance *instance) = 0;
  virtual void initParams(rnnc_instance *instance, uint64_t seed) = 0;
  virtual float *params(rnnc_instance *instance) = 0;
  virtual void paramsChanged(rnnc_instance *instance) = 0;
  virtual int32_t forward(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                          float *const *outputs) = 0;
  virtual int32_t trainStep(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                            const void *const *targets, float *loss) = 0;
  virtual void setLearningRate(rnnc_instance *instance, float lr) = 0;
  virtual int32_t setThreads(rnnc_instance *instance, int32_t threads) = 0;
  virtual const float *gradients(rnnc_instance *instance) = 0;
  virtual int64_t stepsDone(rnnc_instance *instance) = 0;
  virtual float *optimizerState(rnnc_instance *instance) = 0;
  virtual void setStepsDone(rnnc_instance *instance, int64_t steps) = 0;
  virtual int32_t computeGradients(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                                   const void *const *targets, int64_t firstChunk, float *loss) = 0;
  virtual int32_t gradientChunks(rnnc_instance *instance) = 0;
  virtual const float *chunkGradient(rnnc_instance *instance, int32_t chunk, int64_t *rows, float *loss) = 0;
  virtual int32_t applyGradients(rnnc_instance *instance, int32_t count, const float *const *grads,
                                 const int64_t *rows) = 0;
};

/// Opens a model.so with dlopen and checks, before running any of its code,
/// that its ABI version is ours and that this CPU has every feature it was
/// compiled for, and that the file is whole: its rnnc checksum trailer
/// (runtime/support/Checksum.h) matches its contents. Returns null and sets `error` (naming the file) otherwise.
std::unique_ptr<Model> openSharedLibrary(const std::string &path, std::string &error);

/// Whether this CPU has every feature the model was compiled for (the check
/// for a model.so and for the JIT alike); else false, `error` naming `what`.
bool checkRunsHere(const rnnc_model_info &info, const std::string &what, std::string &error);

/// Wraps an in-process binding (the JIT's) in the same interface.
std::unique_ptr<Model> wrapBinding(const rnnc_model_binding &binding, std::shared_ptr<void> keepAlive);

/// The features in `list` (comma-separated) this CPU lacks, comma-separated;
/// empty if it has them all. Unknown names count as missing.
std::string missingCpuFeatures(const std::string &list);

} // namespace rnnc::runtime
