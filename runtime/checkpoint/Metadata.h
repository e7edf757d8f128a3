//===- Metadata.h - A checkpoint's metadata, checked against the model -*- C++ -*-===//
//
// Everything in a checkpoint is untrusted input: each metadata record rnnrun
// and Python use (vocab, maxlen, normalization, best_loss) is parsed and
// checked against the model before use, with a message naming the field;
// parameters and optimizer state must be finite.
#pragma once

#include "rnnc/abi.h"
#include "runtime/checkpoint/Checkpoint.h"

#include <map>
#include <string>
#include <vector>

namespace rnnc::checkpoint {

/// The index of the model's lengths input (i32[batch]: each sample's
/// sequence length, see compiler/lower/DataBinding.h), or -1.
inline int32_t lengthsInputOf(const rnnc_model_info &info) {
  for (int32_t i = 0; i < info.num_inputs; ++i)
    if (info.inputs[i].dtype == RNNC_I32 && info.inputs[i].rank == 1)
      return i;
  return -1;
}

/// The input the data feeds (token ids, windows): the first that is not the
/// lengths, or -1.
inline int32_t dataInputOf(const rnnc_model_info &info) {
  for (int32_t i = 0; i < info.num_inputs; ++i)
    if (i != lengthsInputOf(info))
      return i;
  return -1;
}

/// Whether the data feeds the model: one data input, and a lengths input
/// at most.
inline bool dataFeeds(const rnnc_model_info &info) {
  return info.num_inputs == (lengthsInputOf(info) >= 0 ? 2 : 1) && dataInputOf(info) >= 0;
}

/// A CSV model's scaling, as training saved it ("normalization").
struct Normalization {
  std::vector<std::string> features;
  std::vector<double> min, max;
  std::string target;
  double targetMin = 0, targetMax = 1;
};

/// Parses "normalization": an object with `features` (strings), `min` and
/// `max` (finite numbers, one per feature, min <= max), `target` (a string),
/// `target_min` <= `target_max` (finite). `features` > 0: the count the
/// model's input needs.
bool parseNormalization(const std::string &text, int64_t features, Normalization &out, std::string &error);

/// Parses "vocab": a JSON array of at least 3 distinct strings, "<pad>" and
/// "<unk>" first, at most `maxWords` (> 0: the model's embedding rows).
bool parseVocabulary(const std::string &text, int64_t maxWords, std::vector<std::string> &out, std::string &error);

/// Checks every known metadata record against the model: vocab, maxlen,
/// normalization, best_loss. The error names the field.
bool checkMetadata(const std::map<std::string, std::string> &metadata, const rnnc_model_info &info,
                   std::string &error);

/// The index of the first NaN or infinity in data[0, n), or n.
size_t firstNonFinite(const float *data, size_t n);

/// What a checkpoint of this model can need: its tensors (parameters, two
/// optimizer states, a few scalars) and a header with a vocabulary.
LoadLimits limitsFor(const rnnc_model_info &info);

} // namespace rnnc::checkpoint
