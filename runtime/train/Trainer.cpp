//===- Trainer.cpp - The training loop with progress and checkpoints ------===//
#include "runtime/train/Trainer.h"

#include "runtime/checkpoint/Metadata.h"
#include "runtime/train/Batching.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <numeric>
#include <random>
#include <unistd.h>

namespace rnnc::train {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string clock(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
  return text;
}

} // namespace

TrainOptions trainOptionsOf(const rnnc_model_info &info) {
  const nlohmann::json config = nlohmann::json::parse(info.config_json ? info.config_json : "{}", nullptr, false);
  const nlohmann::json train = config.is_object() ? config.value("train", nlohmann::json::object()) : nlohmann::json::object();
  TrainOptions options;
  options.batch = train.value("batch", int64_t(32));
  options.epochs = train.value("epochs", int64_t(1));
  options.shuffle = train.value("shuffle", true);
  options.bucket = train.value("bucket", false);
  options.bucketWindow = train.value("bucket_window", kDefaultBucketWindow);
  return options;
}

void initParameters(runtime::Model &model, rnnc_instance *instance, uint64_t runSeed) {
  model.initParams(instance, model.info().train.seed ^ runSeed);
}

SplitView::SplitView(const Split &split) : count(split.count), inputWidth(split.inputWidth) {
  if (split.idInputs)
    ids = split.ids.empty() ? nullptr : split.ids.data();
  else
    x = split.x.empty() ? nullptr : split.x.data();
  if (!split.lengths.empty())
    lengths = split.lengths.data();
  if (!split.labels.empty())
    labels = split.labels.data();
  else if (!split.y.empty())
    y = split.y.data();
}

Split Split::range(int64_t from, int64_t to) const {
  Split s = *this;
  from = std::max<int64_t>(0, std::min(from, count));
  to = std::max(from, std::min(to, count));
  s.count = to - from;
  auto cut = [&](auto &v, int64_t width) {
    if (!v.empty())
      v = std::vector<typename std::decay_t<decltype(v)>::value_type>(v.begin() + from * width, v.begin() + to * width);
  };
  cut(s.x, inputWidth);
  cut(s.ids, inputWidth);
  cut(s.y, 1);
  cut(s.labels, 1);
  cut(s.lengths, 1);
  return s;
}

Split Split::head(int64_t n) const { return n <= 0 || n >= count ? *this : range(0, n); }

Trainer::Trainer(runtime::Model &model, rnnc_instance *instance, std::string loss, int64_t classes,
                 double (*denormalize)(double, const void *), const void *context)
    : model_(model), instance_(instance), loss_(std::move(loss)), task_(taskOfLoss(loss_)), classes_(classes),
      denormalize_(denormalize), context_(context), lengthsInput_(checkpoint::lengthsInputOf(model.info())) {}

std::string Trainer::checkLengths(const SplitView &split, const char *what) const {
  if (lengthsInput_ < 0 || split.lengths || split.count == 0)
    return "";
  return std::string("the model's input '") + model_.info().inputs[lengthsInput_].name +
         "' takes each sample's sequence length, but the " + what + " samples come without lengths";
}

std::vector<const void *> Trainer::batchInputs(const SplitView &split) {
  std::vector<const void *> inputs(static_cast<size_t>(std::max(model_.info().num_inputs, 1)));
  for (size_t i = 0; i < inputs.size(); ++i)
    inputs[i] = static_cast<int32_t>(i) == lengthsInput_ ? static_cast<const void *>(batchLengths_.data())
                : split.ids                               ? static_cast<const void *>(batchIds_.data())
                                                          : batchX_.data();
  return inputs;
}

void Trainer::gather(const SplitView &split, const std::vector<int64_t> &order, int64_t from, int64_t n) {
  const int64_t w = split.inputWidth;
  batchX_.resize(n * w), batchIds_.resize(n * w), batchY_.resize(n), batchLabels_.resize(n), batchLengths_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = order[from + i];
    if (split.lengths)
      batchLengths_[i] = split.lengths[s];
    if (split.ids)
      std::copy_n(&split.ids[s * w], w, &batchIds_[i * w]);
    else
      std::copy_n(&split.x[s * w], w, &batchX_[i * w]);
    if (split.labels) // prediction splits have no targets
      batchLabels_[i] = split.labels[s];
    else if (split.y)
      batchY_[i] = split.y[s];
  }
}

bool Trainer::save(const std::string &path, const runtime::TrainingProgress &progress, const TrainOptions &options,
                   std::string &error) {
  if (!runtime::saveTrainingState(path, model_, instance_, progress, options.metadata, error))
    return false;
  checkpointPath = path;
  return true;
}

TrainResult Trainer::train(const SplitView &train, const SplitView &validation, const TrainOptions &options,
                           runtime::TrainingProgress &progress, std::vector<EpochRecord> &history, std::string &error) {
  if (options.lr > 0)
    model_.setLearningRate(instance_, options.lr);
  const bool terminal = options.stepProgress < 0 ? isatty(STDERR_FILENO) : options.stepProgress > 0;
  auto print = [&](const char *format, auto... args) {
    char text[512];
    std::snprintf(text, sizeof text, format, args...);
    if (options.print)
      options.print(text);
    else
      std::fputs(text, stderr);
  };
  for (auto [split, what] : {std::pair{&train, "training"}, std::pair{&validation, "validation"}})
    if (std::string problem = checkLengths(*split, what); !problem.empty()) {
      error = problem;
      return TrainResult::Failed;
    }
  const int64_t batch = options.batch;
  const int64_t steps = options.dropLast ? train.count / batch : (train.count + batch - 1) / batch;
  if (steps == 0) {
    error = "the training split has " + std::to_string(train.count) + " samples, fewer than one batch of " +
            std::to_string(batch);
    return TrainResult::Failed;
  }
  // The progress of a checkpoint is untrusted: it must fit this split.
  const int64_t epochSamples = options.dropLast ? steps * batch : train.count;
  if (progress.epoch < 0 || progress.step < 0) {
    error = "the checkpoint's progress (epoch " + std::to_string(progress.epoch) + ", step " +
            std::to_string(progress.step) + ") is negative";
    return TrainResult::Failed;
  }
  if (progress.samples < 0) // an older checkpoint: steps of this batch size
    progress.samples = progress.step <= epochSamples / batch + 1 ? std::min(progress.step * batch, epochSamples) : -1;
  if (progress.samples < 0 || progress.samples > epochSamples) {
    error = "the checkpoint stopped at step " + std::to_string(progress.step) + " of an epoch, but an epoch of " +
            std::to_string(train.count) + " samples has " + std::to_string(steps) + " steps of batch " +
            std::to_string(batch) + " (is this the data set it was trained on?)";
    return TrainResult::Failed;
  }
  double bestLoss = progress.bestLoss, bestValidation = INFINITY;
  bestEpoch = 0;
  bestParams_.clear();
  lastWasBest_ = false;
  const void *targets[1];
  const int64_t paramCount = model_.info().param_elements;
  auto interrupt = [&]() {
    const std::string path = options.checkpoint.empty() ? options.interruptCheckpoint : options.checkpoint;
    if (!path.empty() && !save(path, progress, options, error))
      return TrainResult::Failed;
    return TrainResult::Interrupted;
  };
  for (int64_t epoch = progress.epoch; epoch < options.epochs; ++epoch) {
    BatchingOptions batching;
    batching.batch = batch;
    batching.shuffle = options.shuffle;
    batching.bucket = options.bucket && train.lengths;
    batching.window = options.bucketWindow;
    const std::vector<int64_t> order =
        epochOrder(train.count, train.lengths, batching, progress.dataSeed * 1000003 + static_cast<uint64_t>(epoch));
    auto start = std::chrono::steady_clock::now();
    auto lastPrint = start;
    double lossSum = 0;
    int64_t samples = 0;
    const int64_t firstStep = progress.step;
    for (int64_t from = progress.samples, step = firstStep; from < epochSamples; from += batch, ++step) {
      const int64_t n = std::min(batch, epochSamples - from);
      gather(train, order, from, n);
      const std::vector<const void *> inputs = batchInputs(train);
      targets[0] = train.labels ? static_cast<const void *>(batchLabels_.data()) : batchY_.data();
      float loss = 0;
      int32_t status;
      bool stopAgreed = false; // with a step of the caller's: whether any rank asked to stop, by this step
      if (options.step) {
        stopAgreed = io::cancelRequested();
        status = options.step(n, inputs.data(), targets, &loss, stopAgreed);
        if (stopAgreed)
          io::gCancel = true;
      } else {
        status = model_.trainStep(instance_, n, inputs.data(), targets, &loss);
      }
      const std::string kept = checkpointPath.empty() && !options.checkpoint.empty()
                                   ? "; the checkpoint " + options.checkpoint + " was not changed"
                                   : checkpointPath.empty() ? "" : "; the last good checkpoint is " + checkpointPath;
      if (status != RNNC_OK) {
        error = std::string("training step failed: ") + rnnc_binding_status_message(status);
        return TrainResult::Failed;
      }
      if (!std::isfinite(loss)) {
        error = "the loss is " + std::to_string(loss) + " at epoch " + std::to_string(epoch + 1) + ", step " +
                std::to_string(step + 1) + " (try a lower --lr or gradient clipping)" + kept;
        return TrainResult::Failed;
      }
      const float *params = model_.params(instance_);
      if (checkpoint::firstNonFinite(params, static_cast<size_t>(paramCount)) != static_cast<size_t>(paramCount)) {
        error = "a gradient became non-finite at epoch " + std::to_string(epoch + 1) + ", step " +
                std::to_string(step + 1) + ": the parameters are no longer finite (try a lower --lr or gradient "
                "clipping)" + kept;
        return TrainResult::Failed;
      }
      lossSum += double(loss) * n;
      samples += n;
      progress.step = step + 1;
      progress.samples = from + n;
      const double elapsed = secondsSince(start);
      if (!options.quiet && terminal && (secondsSince(lastPrint) > 0.2 || from + n == epochSamples)) {
        lastPrint = std::chrono::steady_clock::now();
        const double rate = samples / std::max(elapsed, 1e-9);
        print("\r\033[Kepoch %lld/%lld  step %lld/%lld  loss %.5f  %.0f samples/s  ETA %s",
                     (long long)epoch + 1, (long long)options.epochs, (long long)step + 1, (long long)steps,
                     lossSum / samples, rate, clock((epochSamples - from - n) / std::max(rate, 1e-9)).c_str());
      }
      // A signal that arrives after the step's agreement waits for the next
      // step: every rank stops after the same one.
      if (options.step ? stopAgreed : io::cancelRequested()) {
        if (!options.quiet && terminal)
          print("\n");
        return interrupt();
      }
    }
    EpochRecord record;
    record.epoch = epoch + 1;
    record.seconds = secondsSince(start);
    record.trainLoss = samples ? lossSum / samples : 0;
    record.samplesPerSecond = samples / std::max(record.seconds, 1e-9);
    record.samples = samples;
    progress.epoch = epoch + 1;
    progress.step = 0;
    progress.samples = 0;
    // The epoch's training is done (progress says so): a signal during its
    // validation stops the run once the epoch is validated and recorded, so
    // the history, the checkpoint and the progress always agree. With a step
    // of the caller's (data-parallel) the ranks decide together, after a
    // step, whether to stop: a rank that stopped on its own signal here
    // would leave the others waiting in the next step.
    pollCancel_ = false;
    const bool validated = validation.count == 0 || evaluate(validation, batch, record.validation, error);
    pollCancel_ = true;
    if (!validated)
      return TrainResult::Failed;
    if (!options.quiet) {
      std::string line = terminal ? "\r\033[K" : "";
      char text[256];
      std::snprintf(text, sizeof text, "epoch %lld/%lld: train loss %.5f, %.1f s (%.0f samples/s)", (long long)record.epoch,
                    (long long)options.epochs, record.trainLoss, record.seconds, record.samplesPerSecond);
      line += text;
      if (validation.count > 0) {
        std::snprintf(text, sizeof text, "; validation loss %.5f", record.validation.loss);
        line += text;
        if (record.validation.accuracy >= 0)
          std::snprintf(text, sizeof text, ", accuracy %.4f", record.validation.accuracy);
        else
          std::snprintf(text, sizeof text, ", R2 %.4f", record.validation.r2);
        line += text;
      }
      print("%s\n", line.c_str());
    }
    history.push_back(record);
    if (validation.count > 0) {
      lastWasBest_ = record.validation.loss < bestValidation;
      if (lastWasBest_) {
        bestValidation = record.validation.loss;
        bestEpoch = record.epoch;
        const float *params = model_.params(instance_);
        bestParams_.assign(params, params + model_.info().param_elements);
      }
    }
    // The best epoch so far, over the whole run (a resumed one included: the
    // checkpoint keeps the best loss), goes to PATH.best.
    const double current = validation.count > 0 ? record.validation.loss : record.trainLoss;
    const bool best = std::isfinite(current) && !(current >= bestLoss);
    if (best)
      bestLoss = current;
    progress.bestLoss = bestLoss;
    if (!options.checkpoint.empty()) {
      if (!save(options.checkpoint, progress, options, error))
        return TrainResult::Failed;
      if (best && !runtime::saveTrainingState(options.checkpoint + ".best", model_, instance_, progress,
                                              options.metadata, error))
        return TrainResult::Failed;
    }
    if (!options.step && epoch + 1 < options.epochs && io::cancelRequested())
      return interrupt();
  }
  return TrainResult::Completed;
}

int64_t Trainer::restoreBestParameters() {
  if (bestParams_.empty() || lastWasBest_)
    return 0;
  std::copy(bestParams_.begin(), bestParams_.end(), model_.params(instance_));
  model_.paramsChanged(instance_);
  return bestEpoch;
}

bool Trainer::predict(const SplitView &split, int64_t batch, std::vector<float> &outputs, std::string &error) {
  const rnnc_tensor_desc &output = model_.info().outputs[0];
  int64_t width = 1;
  for (int32_t k = 1; k < output.rank; ++k)
    width *= output.dims[k];
  outputs.assign(split.count * width, 0.0f);
  if (std::string problem = checkLengths(split, "input"); !problem.empty()) {
    error = problem;
    return false;
  }
  std::vector<int64_t> order(split.count);
  std::iota(order.begin(), order.end(), 0);
  auto start = std::chrono::steady_clock::now();
  for (int64_t from = 0; from < split.count; from += batch) {
    if (pollCancel_ && io::cancelRequested()) {
      error = "interrupted after " + std::to_string(from) + " of " + std::to_string(split.count) + " samples";
      return false;
    }
    const int64_t n = std::min(batch, split.count - from);
    gather(split, order, from, n);
    const std::vector<const void *> inputs = batchInputs(split);
    float *out[] = {&outputs[from * width]};
    const int32_t status = model_.forward(instance_, n, inputs.data(), out);
    if (status != RNNC_OK) {
      error = std::string("forward failed: ") + rnnc_binding_status_message(status);
      return false;
    }
  }
  predictSeconds += secondsSince(start);
  predictSamples += split.count;
  return true;
}

bool Trainer::evaluate(const SplitView &split, int64_t batch, Scores &scores, std::string &error) {
  std::vector<float> outputs;
  if (!predict(split, batch, outputs, error))
    return false;
  const std::vector<float> targets = split.y ? std::vector<float>(split.y, split.y + split.count) : std::vector<float>();
  const std::vector<int32_t> labels =
      split.labels ? std::vector<int32_t>(split.labels, split.labels + split.count) : std::vector<int32_t>();
  scores = score(task_, loss_, outputs, classes_, targets, labels, denormalize_, context_);
  return true;
}

} // namespace rnnc::train
