//===- Metrics.cpp - Accuracy, R2, MAE, MAPE, and the baselines -----------===//
#include "runtime/train/Metrics.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace rnnc::train {

Task taskOfLoss(const std::string &loss) {
  if (loss == "softmax_cross_entropy")
    return Task::Classification;
  if (loss == "bce_with_logits")
    return Task::Binary;
  return Task::Regression;
}

Scores score(Task task, const std::string &loss, const std::vector<float> &outputs, int64_t classes,
             const std::vector<float> &targets, const std::vector<int32_t> &labels,
             double (*denormalize)(double, const void *), const void *context) {
  Scores s;
  if (task == Task::Classification) {
    s.count = static_cast<int64_t>(labels.size());
    int64_t correct = 0;
    for (int64_t i = 0; i < s.count; ++i) {
      const float *row = &outputs[i * classes];
      const int64_t best = std::max_element(row, row + classes) - row;
      correct += best == labels[i];
      double m = *std::max_element(row, row + classes), sum = 0;
      for (int64_t k = 0; k < classes; ++k)
        sum += std::exp(row[k] - m);
      s.loss += m + std::log(sum) - row[labels[i]];
    }
    s.loss /= std::max<int64_t>(s.count, 1);
    s.accuracy = static_cast<double>(correct) / std::max<int64_t>(s.count, 1);
    return s;
  }
  s.count = static_cast<int64_t>(targets.size());
  if (task == Task::Binary) {
    int64_t correct = 0;
    for (int64_t i = 0; i < s.count; ++i) {
      const double p = outputs[i], t = targets[i];
      s.loss += std::max(p, 0.0) - p * t + std::log1p(std::exp(-std::fabs(p)));
      correct += (p > 0) == (t > 0.5);
    }
    s.loss /= std::max<int64_t>(s.count, 1);
    s.accuracy = static_cast<double>(correct) / std::max<int64_t>(s.count, 1);
    return s;
  }
  double mean = 0;
  for (float t : targets)
    mean += t;
  mean /= std::max<int64_t>(s.count, 1);
  double residual = 0, total = 0, absolute = 0, percent = 0, meanMagnitude = 0;
  int64_t percentCount = 0;
  for (float t : targets)
    meanMagnitude += std::fabs(denormalize ? denormalize(t, context) : t);
  meanMagnitude /= std::max<int64_t>(s.count, 1);
  for (int64_t i = 0; i < s.count; ++i) {
    const double p = outputs[i], t = targets[i], d = p - t;
    s.loss += loss == "mae" ? std::fabs(d) : d * d;
    residual += d * d;
    total += (t - mean) * (t - mean);
    const double pu = denormalize ? denormalize(p, context) : p, tu = denormalize ? denormalize(t, context) : t;
    absolute += std::fabs(pu - tu);
    if (std::fabs(tu) >= 0.1 * meanMagnitude && std::fabs(tu) > 1e-12) { // MAPE is meaningless near zero
      percent += std::fabs((pu - tu) / tu);
      ++percentCount;
    }
  }
  const double n = static_cast<double>(std::max<int64_t>(s.count, 1));
  s.loss /= n;
  s.r2 = total > 0 ? 1 - residual / total : 0;
  s.mae = absolute / n;
  s.mape = percentCount ? 100.0 * percent / percentCount : 0;
  return s;
}

double majorityBaseline(const std::vector<int32_t> &trainLabels, const std::vector<int32_t> &labels) {
  std::map<int32_t, int64_t> counts;
  for (int32_t l : trainLabels)
    ++counts[l];
  int32_t majority = 0;
  int64_t best = -1;
  for (const auto &[label, n] : counts)
    if (n > best)
      best = n, majority = label;
  int64_t correct = 0;
  for (int32_t l : labels)
    correct += l == majority;
  return labels.empty() ? 0 : static_cast<double>(correct) / labels.size();
}

std::vector<float> linearBaseline(const std::vector<float> &trainX, const std::vector<float> &trainY, int64_t width,
                                  const std::vector<float> &x) {
  const int64_t n = static_cast<int64_t>(trainY.size()), d = width + 1; // + intercept
  // Normal equations (X^T X + 1e-6 I) w = X^T y, solved by Cholesky.
  std::vector<double> a(d * d, 0.0), b(d, 0.0);
  std::vector<double> row(d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < width; ++k)
      row[k] = trainX[i * width + k];
    row[width] = 1.0;
    for (int64_t r = 0; r < d; ++r) {
      b[r] += row[r] * trainY[i];
      for (int64_t c = 0; c <= r; ++c)
        a[r * d + c] += row[r] * row[c];
    }
  }
  for (int64_t r = 0; r < d; ++r)
    a[r * d + r] += 1e-6 * std::max<int64_t>(n, 1);
  for (int64_t j = 0; j < d; ++j) { // in place: lower triangle becomes L
    double diagonal = a[j * d + j];
    for (int64_t k = 0; k < j; ++k)
      diagonal -= a[j * d + k] * a[j * d + k];
    a[j * d + j] = std::sqrt(std::max(diagonal, 1e-300));
    for (int64_t i = j + 1; i < d; ++i) {
      double v = a[i * d + j];
      for (int64_t k = 0; k < j; ++k)
        v -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = v / a[j * d + j];
    }
  }
  std::vector<double> w(d);
  for (int64_t i = 0; i < d; ++i) { // L z = b
    double v = b[i];
    for (int64_t k = 0; k < i; ++k)
      v -= a[i * d + k] * w[k];
    w[i] = v / a[i * d + i];
  }
  for (int64_t i = d - 1; i >= 0; --i) { // L^T w = z
    double v = w[i];
    for (int64_t k = i + 1; k < d; ++k)
      v -= a[k * d + i] * w[k];
    w[i] = v / a[i * d + i];
  }
  const int64_t count = static_cast<int64_t>(x.size()) / std::max<int64_t>(width, 1);
  std::vector<float> predictions(count);
  for (int64_t i = 0; i < count; ++i) {
    double v = w[width];
    for (int64_t k = 0; k < width; ++k)
      v += w[k] * x[i * width + k];
    predictions[i] = static_cast<float>(v);
  }
  return predictions;
}

} // namespace rnnc::train
