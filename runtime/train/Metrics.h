//===- Metrics.h - Losses, scores and the baselines to beat -----*- C++ -*-===//
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnc::train {

/// What a model's predictions are scored on, by its loss.
enum class Task { Regression, Classification, Binary };
Task taskOfLoss(const std::string &loss);

struct Scores {
  double loss = 0;        ///< the model's loss, in double precision
  double accuracy = -1;   ///< classification: fraction correct
  double r2 = -1e300;     ///< regression: coefficient of determination
  double mae = -1, mape = -1; ///< regression, in the target's units
  int64_t count = 0;
};

/// Scores predictions against targets. Classification: `outputs` holds
/// `classes` logits per sample and `labels` class ids; Binary: one logit per
/// sample and 0/1 targets; Regression: one value per sample. `denormalize`
/// maps values back to the target's units for MAE and MAPE (MAPE skips
/// targets smaller than a tenth of the mean |target|, where percentages blow up).
Scores score(Task task, const std::string &loss, const std::vector<float> &outputs, int64_t classes,
             const std::vector<float> &targets, const std::vector<int32_t> &labels,
             double (*denormalize)(double, const void *) = nullptr, const void *context = nullptr);

/// The majority class's accuracy on `labels`, for the classes seen in `trainLabels`.
double majorityBaseline(const std::vector<int32_t> &trainLabels, const std::vector<int32_t> &labels);

/// Ordinary least squares on flattened windows (with an intercept and a
/// tiny ridge term for stability), fitted on the training split: returns its
/// predictions for `x` (count rows of `width` features).
std::vector<float> linearBaseline(const std::vector<float> &trainX, const std::vector<float> &trainY, int64_t width,
                                  const std::vector<float> &x);

} // namespace rnnc::train
