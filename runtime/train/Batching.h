//===- Batching.h - The order of the samples in an epoch --------*- C++ -*-===//
//
// Which samples make up each batch of an epoch. Plain shuffling, or bucketing
// by length for a model whose sequences run for their own lengths: a batch of
// similar lengths ends early, so the padding it carries (and, with kernels
// that stop at each sequence's end, its idle rows) is small. The order is a
// function of the seed, the epoch and the lengths alone, so every rank of a
// data-parallel run (which all hold the same training split) derives the same
// batches, and a resumed epoch the batches it stopped in.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <vector>

namespace rnnc::train {

struct BatchingOptions {
  int64_t batch = 32;
  bool shuffle = true;
  /// Sort by length within windows of `window` batches, then shuffle the
  /// batches (needs lengths).
  bool bucket = false;
  int64_t window = 16;
};

/// The default of the train block's bucket_window.
constexpr int64_t kDefaultBucketWindow = 16;

/// The order in which an epoch visits `count` samples: batch k is
/// order[k*batch, (k+1)*batch), the last one possibly partial. Steps:
///   1) with shuffle, shuffle 0..count-1 with std::mt19937_64(seed) (what
///      training has always done; without bucketing this is the order);
///   2) bucketing (`lengths` of `count` samples): set aside the last
///      count % batch samples of that order as the partial batch;
///   3) split the rest into windows of `window` batches (the last window may
///      be shorter) and sort each window by length, stably (equal lengths keep
///      the shuffled order);
///   4) with shuffle, shuffle the full batches (Fisher-Yates over the same
///      generator, the same with every standard library);
///   5) the partial batch, sorted by length, comes last (dropped with
///      drop-last, like any last partial batch: it is a random choice of
///      samples, not the longest ones).
std::vector<int64_t> epochOrder(int64_t count, const int32_t *lengths, const BatchingOptions &options, uint64_t seed);

/// The time steps the batches of `order` run when each is padded to its
/// longest sample: the sum over batches of (rows x the longest length).
int64_t paddedSteps(const std::vector<int64_t> &order, const int32_t *lengths, int64_t batch);

} // namespace rnnc::train
