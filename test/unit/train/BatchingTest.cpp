//===- BatchingTest.cpp - The order of an epoch, bucketed by length -------===//
#include "runtime/train/Batching.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

namespace rnnc::train {
namespace {

/// Lengths drawn like IMDB's reviews (a long-tailed distribution, median
/// about 170 words, cut at `cut`): log-normal, at least 1.
std::vector<int32_t> reviewLengths(int64_t count, int32_t cut, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::lognormal_distribution<double> words(5.1, 0.75);
  std::vector<int32_t> lengths(static_cast<size_t>(count));
  for (int32_t &length : lengths)
    length = static_cast<int32_t>(std::clamp(std::round(words(random)), 1.0, double(cut)));
  return lengths;
}

BatchingOptions bucketed(int64_t batch, int64_t window = kDefaultBucketWindow) {
  BatchingOptions options;
  options.batch = batch;
  options.bucket = true;
  options.window = window;
  return options;
}

bool isPermutation(std::vector<int64_t> order, int64_t count) {
  std::sort(order.begin(), order.end());
  std::vector<int64_t> all(static_cast<size_t>(count));
  std::iota(all.begin(), all.end(), 0);
  return order == all;
}

int64_t realSteps(const std::vector<int32_t> &lengths) {
  return std::accumulate(lengths.begin(), lengths.end(), int64_t(0));
}

TEST(BatchingTest, EverySampleOnceInEveryShapeOfEpoch) {
  for (int64_t count : {1, 7, 32, 33, 100, 1000, 1023})
    for (int64_t batch : {1, 3, 32, 64, 2000})
      for (int64_t window : {1, 2, 16, 1000})
        for (bool shuffle : {true, false})
          for (bool bucket : {true, false}) {
            const std::vector<int32_t> lengths = reviewLengths(count, 256, uint64_t(count * 31 + batch));
            BatchingOptions options = bucketed(batch, window);
            options.shuffle = shuffle;
            options.bucket = bucket;
            EXPECT_TRUE(isPermutation(epochOrder(count, lengths.data(), options, 5), count))
                << "count " << count << " batch " << batch << " window " << window << " shuffle " << shuffle
                << " bucket " << bucket;
          }
}

TEST(BatchingTest, WithoutBucketingTheOrderIsTheShuffleTrainingAlwaysUsed) {
  const std::vector<int32_t> lengths = reviewLengths(500, 256, 1);
  for (uint64_t seed : {0ull, 42ull * 1000003 + 3}) {
    std::vector<int64_t> expected(500);
    std::iota(expected.begin(), expected.end(), 0);
    std::shuffle(expected.begin(), expected.end(), std::mt19937_64(seed));
    BatchingOptions options;
    options.batch = 32;
    EXPECT_EQ(epochOrder(500, lengths.data(), options, seed), expected);
    EXPECT_EQ(epochOrder(500, nullptr, bucketed(32), seed), expected) << "bucketing needs lengths";
  }
  BatchingOptions inOrder;
  inOrder.shuffle = false;
  std::vector<int64_t> identity(500);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(epochOrder(500, lengths.data(), inOrder, 9), identity);
}

TEST(BatchingTest, TheSeedDecidesTheOrder) {
  const std::vector<int32_t> lengths = reviewLengths(2000, 256, 2);
  const std::vector<int64_t> a = epochOrder(2000, lengths.data(), bucketed(64), 77);
  EXPECT_EQ(a, epochOrder(2000, lengths.data(), bucketed(64), 77));
  const std::vector<int64_t> b = epochOrder(2000, lengths.data(), bucketed(64), 78);
  EXPECT_NE(a, b);
  // Another seed gives other batches, not just the same batches reordered.
  auto firstBatch = [](const std::vector<int64_t> &order) {
    return std::set<int64_t>(order.begin(), order.begin() + 64);
  };
  std::set<std::set<int64_t>> batchesOfA;
  for (size_t from = 0; from + 64 <= a.size(); from += 64)
    batchesOfA.insert(std::set<int64_t>(a.begin() + from, a.begin() + from + 64));
  EXPECT_FALSE(batchesOfA.count(firstBatch(b)));
}

TEST(BatchingTest, BucketingCutsThePadding) {
  // An IMDB-sized epoch: 22500 reviews, batches of 256, cut at 256 tokens.
  const int64_t count = 22500, batch = 256;
  const std::vector<int32_t> lengths = reviewLengths(count, 256, 3);
  BatchingOptions plain;
  plain.batch = batch;
  const int64_t real = realSteps(lengths);
  const int64_t shuffled = paddedSteps(epochOrder(count, lengths.data(), plain, 11), lengths.data(), batch);
  const int64_t sorted = paddedSteps(epochOrder(count, lengths.data(), bucketed(batch), 11), lengths.data(), batch);
  const int64_t perBatch = paddedSteps(epochOrder(count, lengths.data(), bucketed(batch, 1), 11), lengths.data(), batch);
  // Shuffled, nearly every batch holds a review at the cut: padded to 256.
  EXPECT_GT(double(shuffled), 0.95 * double(count * 256));
  // Sorted in windows of 16 batches, the batches are padded by a few percent
  // (about 5% here, against 55% shuffled): a tenth of the padding, or less.
  EXPECT_LT(double(sorted), 1.08 * double(real)) << "real " << real << ", shuffled " << shuffled;
  EXPECT_LT(double(sorted - real), 0.1 * double(shuffled - real)) << "real " << real << ", shuffled " << shuffled;
  // A window of one batch sorts only inside the batch: no padding saved.
  EXPECT_EQ(perBatch, shuffled);
  // A wider window saves at least as much as a narrower one.
  const int64_t wide = paddedSteps(epochOrder(count, lengths.data(), bucketed(batch, 100), 11), lengths.data(), batch);
  EXPECT_LE(wide, sorted);
}

TEST(BatchingTest, BatchesComeFromOneWindowAndArePaddedLittle) {
  const int64_t count = 1000, batch = 10, window = 4;
  const std::vector<int32_t> lengths = reviewLengths(count, 256, 4);
  const std::vector<int64_t> order = epochOrder(count, lengths.data(), bucketed(batch, window), 8);
  // Each batch is a run of consecutive samples of one sorted window: its
  // samples are sorted by length.
  for (int64_t from = 0; from < count; from += batch)
    EXPECT_TRUE(std::is_sorted(order.begin() + from, order.begin() + from + batch,
                               [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; }));
  // The batches are shuffled: the epoch does not run short to long.
  std::vector<int32_t> longest;
  for (int64_t from = 0; from < count; from += batch)
    longest.push_back(lengths[order[from + batch - 1]]);
  EXPECT_FALSE(std::is_sorted(longest.begin(), longest.end()));
}

TEST(BatchingTest, ThePartialBatchIsLastAndARandomChoice) {
  const int64_t count = 1030, batch = 100;
  std::vector<int32_t> lengths = reviewLengths(count, 256, 5);
  const uint64_t seed = 21;
  const std::vector<int64_t> order = epochOrder(count, lengths.data(), bucketed(batch), seed);
  // The last 30 are the last 30 of the plain shuffle (as without bucketing,
  // so drop-last drops a random choice, not the longest reviews).
  std::vector<int64_t> shuffled(static_cast<size_t>(count));
  std::iota(shuffled.begin(), shuffled.end(), 0);
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(seed));
  EXPECT_EQ(std::set<int64_t>(order.end() - 30, order.end()), std::set<int64_t>(shuffled.end() - 30, shuffled.end()));
  EXPECT_TRUE(std::is_sorted(order.end() - 30, order.end(), [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; }));
}

TEST(BatchingTest, EqualLengthsKeepTheShuffle) {
  const std::vector<int32_t> lengths(300, 17);
  const std::vector<int64_t> order = epochOrder(300, lengths.data(), bucketed(30), 4);
  EXPECT_TRUE(isPermutation(order, 300));
  EXPECT_EQ(paddedSteps(order, lengths.data(), 30), 300 * 17);
  std::vector<int64_t> identity(300);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(order, identity);
}

TEST(BatchingTest, PaddedStepsCountsEachBatchAtItsLongest) {
  const std::vector<int32_t> lengths = {1, 5, 2, 2, 9};
  EXPECT_EQ(paddedSteps({0, 1, 2, 3, 4}, lengths.data(), 2), 2 * 5 + 2 * 2 + 1 * 9);
  EXPECT_EQ(paddedSteps({0, 2, 3, 1, 4}, lengths.data(), 3), 3 * 2 + 2 * 9);
  EXPECT_EQ(paddedSteps({}, lengths.data(), 3), 0);
}

} // namespace
} // namespace rnnc::train
