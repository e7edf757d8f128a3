//===- TrainingState.cpp - Parameters and optimizer state as safetensors --===//
#include "runtime/state/TrainingState.h"

#include "runtime/checkpoint/Metadata.h"
#include "runtime/support/Text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace rnnc::runtime {
namespace {

std::vector<int64_t> shapeOf(const rnnc_tensor_desc &d) { return std::vector<int64_t>(d.dims, d.dims + d.rank); }

int64_t elementsOf(const rnnc_tensor_desc &d) {
  int64_t n = 1;
  for (int32_t k = 0; k < d.rank; ++k)
    n *= d.dims[k];
  return n;
}

/// The names of a parameter's optimizer state, as torch.optim names them.
std::vector<std::string> stateNames(const rnnc_model_info &info, const std::string &param) {
  if (info.train.optimizer == RNNC_OPT_ADAM)
    return {"optimizer." + param + ".exp_avg", "optimizer." + param + ".exp_avg_sq"};
  if (info.train.optimizer == RNNC_OPT_SGD)
    return {"optimizer." + param + ".momentum_buffer"};
  return {};
}

bool readI64(const checkpoint::Checkpoint &ckpt, const std::string &name, int64_t &value, std::string &error) {
  const checkpoint::Tensor *t = ckpt.find(name);
  if (!t || t->dtype != checkpoint::DType::I64 || t->bytes.size() != sizeof(int64_t)) {
    error = "tensor '" + name + "' is missing or is not a single I64";
    return false;
  }
  std::memcpy(&value, t->bytes.data(), sizeof value);
  return true;
}

} // namespace

checkpoint::Checkpoint makeTrainingState(Model &model, rnnc_instance *instance, const TrainingProgress &progress,
                                         const std::map<std::string, std::string> &metadata) {
  const rnnc_model_info &info = model.info();
  checkpoint::Checkpoint ckpt;
  ckpt.metadata = metadata;
  ckpt.metadata["format"] = "rnnc-checkpoint-1";
  ckpt.metadata["model"] = info.model_name;
  ckpt.metadata["plan"] = info.plan;
  ckpt.metadata["compiler"] = info.compiler_version;
  const float *params = model.params(instance);
  const float *state = info.train.has_train_step ? model.optimizerState(instance) : nullptr;
  for (int32_t k = 0; k < info.num_params; ++k) {
    const rnnc_tensor_desc &d = info.params[k];
    ckpt.tensors.push_back(checkpoint::makeF32(d.name, shapeOf(d), params + d.offset));
    if (!state)
      continue;
    const std::vector<std::string> names = stateNames(info, d.name);
    for (size_t s = 0; s < names.size(); ++s)
      ckpt.tensors.push_back(checkpoint::makeF32(names[s], shapeOf(d), state + s * info.param_elements + d.offset));
  }
  const int64_t values[] = {progress.epoch, progress.step, state ? model.stepsDone(instance) : 0,
                            static_cast<int64_t>(progress.dataSeed), progress.samples};
  const char *names[] = {"training.epoch", "training.step", "training.optimizer_steps", "training.data_seed",
                         "training.epoch_samples"};
  if (std::isfinite(progress.bestLoss)) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", progress.bestLoss);
    ckpt.metadata["best_loss"] = text;
  } else {
    ckpt.metadata.erase("best_loss");
  }
  for (int i = 0; i < (progress.samples >= 0 ? 5 : 4); ++i)
    ckpt.tensors.push_back(checkpoint::makeI64(names[i], {}, &values[i]));
  return ckpt;
}

bool saveTrainingState(const std::string &path, Model &model, rnnc_instance *instance,
                       const TrainingProgress &progress, const std::map<std::string, std::string> &metadata,
                       std::string &error) {
  return checkpoint::save(path, makeTrainingState(model, instance, progress, metadata), error);
}

bool loadTrainingState(const std::string &path, Model &model, rnnc_instance *instance, TrainingProgress &progress,
                       std::map<std::string, std::string> &metadata, std::string &error) {
  checkpoint::Checkpoint ckpt;
  if (!checkpoint::load(path, checkpoint::limitsFor(model.info()), ckpt, error))
    return false;
  return loadTrainingState(ckpt, path, model, instance, progress, metadata, error);
}

bool loadTrainingState(const checkpoint::Checkpoint &ckpt, const std::string &source, Model &model,
                       rnnc_instance *instance, TrainingProgress &progress,
                       std::map<std::string, std::string> &metadata, std::string &error) {
  const rnnc_model_info &info = model.info();
  auto fail = [&](const std::string &why) {
    error = source + ": " + why;
    return false;
  };
  auto model_ = ckpt.metadata.find("model");
  if (model_ != ckpt.metadata.end() && model_->second != info.model_name)
    return fail("checkpoint of model '" + io::escapeForMessage(model_->second, 80) + "', not of '" + info.model_name + "'");
  std::string why;
  if (!checkpoint::checkMetadata(ckpt.metadata, info, why))
    return fail(why);
  auto finite = [&](const std::string &name, const float *values, int64_t n) {
    const size_t bad = checkpoint::firstNonFinite(values, static_cast<size_t>(n));
    if (bad == static_cast<size_t>(n))
      return true;
    error = source + ": tensor '" + name + "' holds " + std::to_string(values[bad]) + " at element " +
            std::to_string(bad) + "; a checkpoint must hold finite numbers only";
    return false;
  };

  // Stage everything, then commit: a failure changes nothing.
  std::vector<float> params(model.params(instance), model.params(instance) + info.param_elements);
  std::vector<std::string> known;
  for (int32_t k = 0; k < info.num_params; ++k) {
    const rnnc_tensor_desc &d = info.params[k];
    known.push_back(d.name);
    if (!checkpoint::readF32(ckpt, d.name, shapeOf(d), params.data() + d.offset, why))
      return fail(why);
    if (!finite(d.name, params.data() + d.offset, elementsOf(d)))
      return false;
  }
  for (const checkpoint::Tensor &t : ckpt.tensors)
    if (t.name.rfind("optimizer.", 0) != 0 && t.name.rfind("training.", 0) != 0 &&
        std::find(known.begin(), known.end(), t.name) == known.end())
      return fail("tensor '" + t.name + "' is not a parameter of model '" + info.model_name + "'");

  const bool resumable = ckpt.find("training.optimizer_steps") != nullptr;
  std::vector<float> state;
  int64_t epoch = 0, step = 0, optimizerSteps = 0, dataSeed = 0, samples = -1;
  if (resumable && info.train.has_train_step) {
    if (!readI64(ckpt, "training.epoch", epoch, why) || !readI64(ckpt, "training.step", step, why) ||
        !readI64(ckpt, "training.optimizer_steps", optimizerSteps, why) ||
        !readI64(ckpt, "training.data_seed", dataSeed, why) ||
        (ckpt.find("training.epoch_samples") && !readI64(ckpt, "training.epoch_samples", samples, why)))
      return fail(why);
    // Counters in range: an epoch count a run can reach, steps and samples
    // that fit an epoch (checked against the data when training resumes).
    constexpr int64_t kMaxCount = int64_t(1) << 40;
    auto range = [&](const char *name, int64_t value, int64_t low) {
      if (value >= low && value <= kMaxCount)
        return true;
      error = source + ": tensor '" + name + "' is " + std::to_string(value) + ", outside [" + std::to_string(low) +
              ", 2^40]";
      return false;
    };
    if (!range("training.epoch", epoch, 0) || !range("training.step", step, 0) ||
        !range("training.optimizer_steps", optimizerSteps, 0) || !range("training.epoch_samples", samples, -1))
      return false;
    state.assign(2 * info.param_elements, 0.0f);
    for (int32_t k = 0; k < info.num_params; ++k) {
      const rnnc_tensor_desc &d = info.params[k];
      const std::vector<std::string> names = stateNames(info, d.name);
      for (size_t s = 0; s < names.size(); ++s)
        if (!checkpoint::readF32(ckpt, names[s], shapeOf(d), state.data() + s * info.param_elements + d.offset, why))
          return fail(why + " (the optimizer state; was the checkpoint made with another optimizer?)");
        else if (!finite(names[s], state.data() + s * info.param_elements + d.offset, elementsOf(d)))
          return false;
    }
  }
  std::copy(params.begin(), params.end(), model.params(instance));
  model.paramsChanged(instance);
  if (!state.empty()) {
    std::copy(state.begin(), state.end(), model.optimizerState(instance));
    model.setStepsDone(instance, optimizerSteps);
  }
  progress = {epoch, step, static_cast<uint64_t>(dataSeed), samples, __builtin_inf()};
  if (auto best = ckpt.metadata.find("best_loss"); best != ckpt.metadata.end() && resumable)
    progress.bestLoss = std::strtod(best->second.c_str(), nullptr);
  metadata = ckpt.metadata;
  return true;
}

} // namespace rnnc::runtime
