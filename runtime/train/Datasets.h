//===- Datasets.h - A model's data binding to in-memory splits --*- C++ -*-===//
#pragma once

#include "runtime/train/Trainer.h"

#include "rnnc/abi.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rnnc::train {

/// What the user asked for on the command line (all optional).
struct DataFlags {
  std::string data;       ///< "imdb", "csv:PATH", or "" for the model's own binding
  std::string dataDir;    ///< --data-dir
  int64_t limit = 0;      ///< --limit: at most this many samples per split
  double validation = 0.1; ///< IMDB: the fraction of the training reviews held out
  std::string missing;    ///< CSV: "error", "drop", "ffill" (overrides the model)
  std::vector<std::string> naValues; ///< CSV: extra missing-value sentinels
  uint64_t seed = 0;
  bool quiet = false;
  /// Progress messages (IMDB tokenizing, the cache): by default to stderr.
  std::function<void(const std::string &)> print;
};

struct LoadedData {
  std::string kind, description;
  Split train, validation, test;
  std::string loss;
  int64_t classes = 0;
  double targetMin = 0, targetMax = 1; ///< CSV: to report errors in the target's units
  std::vector<std::string> vocab;      ///< IMDB: id -> word
  std::map<std::string, std::string> metadata; ///< what prediction needs, kept in checkpoints
};

/// Undoes the min-max scaling of a CSV target (context: the LoadedData).
double denormalizeTarget(double value, const void *context);
/// The same for a target whose training range was [low, high].
/// A constant target (high == low) was scaled by 1, not by a zero range.
inline double denormalizeTarget(double value, double low, double high) {
  return low + value * (high > low ? high - low : 1.0);
}

/// Loads the data the model is bound to (or `flags.data`) from the data
/// directory and checks it against the model's input and target: 1) parse
/// the model's config, 2) find the file (the error lists the paths searched
/// and how to obtain the set), 3) load and split it, 4) check widths, the
/// vocabulary and the class count.
/// A --data-dir that is not a directory is an error (never a silent fall
/// back to the other data directories).
bool loadData(const rnnc_model_info &info, const DataFlags &flags, LoadedData &out, std::string &error);

/// Step 1 of loadData alone: kind, loss and classes, no data read (for
/// prediction from a checkpoint that holds the vocabulary or normalization).
bool bindData(const rnnc_model_info &info, const DataFlags &flags, LoadedData &out, std::string &error);

/// What prediction on a new CSV file needs: its windows scaled as at
/// training time, each window's actual target (in the target's units), and
/// the target's training range, to report predictions in its units.
struct CsvPredictionInput {
  Split split;
  std::vector<double> actual;
  double targetMin = 0, targetMax = 1;
};

/// CSV prediction input: every window of `path` (with the model's columns),
/// scaled with the normalization saved at training time (`normalization`,
/// the checkpoint's JSON).
bool loadCsvForPrediction(const rnnc_model_info &info, const DataFlags &flags, const std::string &path,
                          const std::string &normalization, CsvPredictionInput &out, std::string &error);

/// The target's training range from a checkpoint's "normalization" entry
/// (saved when training on a CSV series); false if it has none.
bool targetRangeOf(const std::string &normalization, double &targetMin, double &targetMax);

/// The vocabulary a checkpoint's metadata holds (its "vocab" entry, saved
/// when training on IMDB); empty if it has none.
std::vector<std::string> vocabularyOf(const std::map<std::string, std::string> &metadata);

/// IMDB prediction input: each review encoded with the training vocabulary,
/// as the data loader does: with `lengths` (for a model with a lengths
/// input) left-aligned, each review's length appended to it; else in Keras'
/// layout (data::encode).
std::vector<int32_t> encodeReviews(const std::vector<std::string> &reviews, const std::vector<std::string> &vocab,
                                   int64_t maxlen, std::vector<int32_t> *lengths = nullptr);

} // namespace rnnc::train
