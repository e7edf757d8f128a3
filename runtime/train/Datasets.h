//===- Datasets.h - A model's data binding to in-memory splits --*- C++ -*-===//
#pragma once

#include "runtime/train/Trainer.h"

#include "rnnc/abi.h"

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

/// Loads the data the model is bound to (or `flags.data`) from the data
/// directory and checks it against the model's input and target: 1) parse
/// the model's config, 2) find the file (the error lists the paths searched
/// and how to obtain the set), 3) load and split it, 4) check widths, the
/// vocabulary and the class count.
bool loadData(const rnnc_model_info &info, const DataFlags &flags, LoadedData &out, std::string &error);

/// CSV prediction input: every window of `path` (with the model's columns),
/// scaled with the normalization saved at training time (`normalization`,
/// the checkpoint's JSON). `targets` receives each window's actual target.
bool loadCsvForPrediction(const rnnc_model_info &info, const DataFlags &flags, const std::string &path,
                          const std::string &normalization, Split &out, std::vector<double> &targets,
                          std::string &error);

/// IMDB prediction input: each review encoded with the training vocabulary.
std::vector<int32_t> encodeReviews(const std::vector<std::string> &reviews, const std::vector<std::string> &vocab,
                                   int64_t maxlen);

} // namespace rnnc::train
