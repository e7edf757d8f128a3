//===- Batching.cpp - The order of the samples in an epoch ----------------===//
#include "runtime/train/Batching.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace rnnc::train {

std::vector<int64_t> epochOrder(int64_t count, const int32_t *lengths, const BatchingOptions &options, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(count, 0)));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 random(seed);
  if (options.shuffle)
    std::shuffle(order.begin(), order.end(), random);
  if (!options.bucket || !lengths || count == 0)
    return order;
  const int64_t batch = std::max<int64_t>(options.batch, 1), full = count / batch * batch;
  const int64_t window = std::max<int64_t>(options.window, 1) * batch;
  auto byLength = [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; };
  for (int64_t from = 0; from < full; from += window)
    std::stable_sort(order.begin() + from, order.begin() + std::min(from + window, full), byLength);
  std::stable_sort(order.begin() + full, order.end(), byLength);
  if (!options.shuffle)
    return order;
  std::vector<int64_t> batches(static_cast<size_t>(full / batch));
  std::iota(batches.begin(), batches.end(), 0);
  for (size_t i = batches.size(); i > 1; --i)
    std::swap(batches[i - 1], batches[random() % i]);
  std::vector<int64_t> shuffled;
  shuffled.reserve(order.size());
  for (int64_t k : batches)
    shuffled.insert(shuffled.end(), order.begin() + k * batch, order.begin() + (k + 1) * batch);
  shuffled.insert(shuffled.end(), order.begin() + full, order.end());
  return shuffled;
}

int64_t paddedSteps(const std::vector<int64_t> &order, const int32_t *lengths, int64_t batch) {
  int64_t steps = 0;
  const int64_t count = static_cast<int64_t>(order.size());
  for (int64_t from = 0; from < count; from += batch) {
    const int64_t n = std::min(batch, count - from);
    int32_t longest = 0;
    for (int64_t i = from; i < from + n; ++i)
      longest = std::max(longest, lengths[order[i]]);
    steps += n * longest;
  }
  return steps;
}

} // namespace rnnc::train
