//===- Datasets.cpp - IMDB and CSV series as training splits --------------===//
#include "runtime/train/Datasets.h"

#include "runtime/checkpoint/Metadata.h"
#include "runtime/data/CsvSeries.h"
#include "runtime/data/DataDir.h"
#include "runtime/data/Imdb.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <unordered_map>

namespace rnnc::train {
namespace {

using nlohmann::json;

std::string join(const std::vector<std::string> &items, const std::string &separator) {
  std::string out;
  for (const std::string &item : items)
    out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string shapeOf(const rnnc_tensor_desc &d) {
  std::string s = d.dtype == RNNC_I32 ? "i32[batch" : "f32[batch";
  for (int32_t k = 1; k < d.rank; ++k)
    s += "," + std::to_string(d.dims[k]);
  return s + "]";
}

/// The input the data feeds (token ids, windows), not the lengths.
const rnnc_tensor_desc &dataInput(const rnnc_model_info &info) {
  return info.inputs[std::max(checkpoint::dataInputOf(info), 0)];
}

Split tokenSplit(const data::TokenSplit &s, int64_t maxlen, bool labelTargets) {
  Split out;
  out.count = s.count;
  out.inputWidth = maxlen;
  out.idInputs = true;
  out.ids = s.tokens;
  out.lengths = s.lengths;
  out.labelTargets = labelTargets;
  if (labelTargets)
    out.labels = s.labels;
  else
    out.y.assign(s.labels.begin(), s.labels.end());
  return out;
}

/// "lengths 10..256, mean 231.0" of a split's lengths.
std::string lengthSummary(const std::vector<int32_t> &lengths, int64_t maxlen) {
  if (lengths.empty())
    return "no reviews";
  const auto [shortest, longest] = std::minmax_element(lengths.begin(), lengths.end());
  const double mean = std::accumulate(lengths.begin(), lengths.end(), 0.0) / double(lengths.size());
  const int64_t cut = std::count(lengths.begin(), lengths.end(), static_cast<int32_t>(maxlen));
  char text[160];
  std::snprintf(text, sizeof text, "lengths %d..%d, mean %.1f, %.0f%% at the full %lld", *shortest, *longest, mean,
                100.0 * double(cut) / double(lengths.size()), static_cast<long long>(maxlen));
  return text;
}

Split seriesSplit(const data::SeriesSplit &s, int64_t width) {
  Split out;
  out.count = s.count;
  out.inputWidth = width;
  out.x = s.x;
  out.y = s.y;
  return out;
}

bool loadImdbData(const rnnc_model_info &info, const json &settings, const DataFlags &flags, LoadedData &out,
                  std::string &error) {
  const rnnc_tensor_desc &input = dataInput(info);
  const int64_t maxlen = settings.value("maxlen", int64_t(256)), vocab = settings.value("vocab", int64_t(20000));
  if (input.dtype != RNNC_I32 || input.rank != 2 || input.dims[1] != maxlen) {
    error = "data imdb gives token ids i32[batch," + std::to_string(maxlen) + "], but the model's input '" +
            input.name + "' is " + shapeOf(input);
    return false;
  }
  if (input.offset && input.offset < vocab) {
    error = "the IMDB vocabulary has " + std::to_string(vocab) + " words, but the model's embedding has " +
            std::to_string(input.offset) + " rows";
    return false;
  }
  std::vector<std::string> searched;
  const std::string given = settings.value("path", std::string());
  std::vector<std::string> candidates = {"aclImdb_v1_labeled.tar.gz", "aclImdb_v1.tar.gz", "aclImdb"};
  if (!given.empty())
    candidates.insert(candidates.begin(), given);
  const std::string location = data::findData(data::dataSearchPath(flags.dataDir), candidates, searched);
  if (location.empty()) {
    error = "the IMDB data set is not in the data directory; looked for " + join(candidates, ", ") + " in:\n  " +
            join(data::dataSearchPath(flags.dataDir), "\n  ") + "\n" + data::imdbHowToObtain();
    return false;
  }
  data::ImdbOptions options;
  options.vocab = vocab;
  options.maxlen = maxlen;
  options.limit = flags.limit;
  options.seed = flags.seed;
  options.cacheDir = data::cacheDirectory();
  options.leftAligned = checkpoint::lengthsInputOf(info) >= 0;
  data::ImdbDataset set;
  auto progress = [&](const std::string &message) {
    if (flags.quiet)
      return;
    if (flags.print)
      flags.print(message + "\n");
    else
      std::fprintf(stderr, "%s\n", message.c_str());
  };
  if (!data::loadImdb(location, options, set, error, progress))
    return false;
  const bool labels = info.train.num_targets == 1 && info.train.targets[0].dtype == RNNC_I32;
  Split all = tokenSplit(set.train, maxlen, labels);
  // Hold out a validation part of the training reviews (they come sorted by
  // label, so shuffle first, with the run's seed).
  std::vector<int64_t> order(all.count);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(flags.seed + 17));
  Split shuffled = all;
  for (int64_t i = 0; i < all.count; ++i) {
    std::copy_n(&all.ids[order[i] * maxlen], maxlen, &shuffled.ids[i * maxlen]);
    if (labels)
      shuffled.labels[i] = all.labels[order[i]];
    else
      shuffled.y[i] = all.y[order[i]];
    if (!all.lengths.empty())
      shuffled.lengths[i] = all.lengths[order[i]];
  }
  const int64_t held = static_cast<int64_t>(all.count * flags.validation);
  out.train = shuffled.range(0, all.count - held);
  out.validation = shuffled.range(all.count - held, all.count);
  out.test = tokenSplit(set.test, maxlen, labels);
  out.classes = 2;
  out.vocab = set.vocab;
  out.description = "IMDB (" + location + (set.fromCache ? ", cached" : "") + "): " + std::to_string(out.train.count) +
                    " training, " + std::to_string(out.validation.count) + " validation, " +
                    std::to_string(out.test.count) + " test reviews, vocabulary " + std::to_string(set.vocab.size()) +
                    ", length " + std::to_string(maxlen) +
                    (options.leftAligned ? " (left-aligned, " + lengthSummary(out.train.lengths, maxlen) + ")" : "");
  out.metadata["data"] = "imdb";
  out.metadata["vocab"] = json(set.vocab).dump();
  out.metadata["maxlen"] = std::to_string(maxlen);
  return true;
}

data::CsvOptions csvOptions(const rnnc_model_info &info, const json &settings, const DataFlags &flags) {
  const rnnc_tensor_desc &input = dataInput(info);
  data::CsvOptions options;
  options.target = settings.value("target", std::string());
  options.features = settings.value("features", std::vector<std::string>());
  options.window = settings.value("window", input.rank == 3 ? input.dims[1] : int64_t(1));
  if (settings.contains("split"))
    options.split = settings["split"].get<std::vector<double>>();
  for (const json &na : settings.value("na_values", json::array()))
    options.naValues.push_back(na.is_string() ? na.get<std::string>() : na.dump());
  for (const std::string &na : flags.naValues)
    options.naValues.push_back(na);
  const std::string missing = flags.missing.empty() ? settings.value("missing", std::string("error")) : flags.missing;
  options.missing = missing == "drop" ? data::Missing::Drop : missing == "ffill" ? data::Missing::Ffill : data::Missing::Error;
  const std::string separator = settings.value("separator", std::string(",")), decimal = settings.value("decimal", std::string("."));
  options.separator = separator == "\\t" || separator == "tab" ? '\t' : separator.empty() ? ',' : separator[0];
  options.decimal = decimal.empty() ? '.' : decimal[0];
  return options;
}

bool loadCsvData(const rnnc_model_info &info, const json &settings, const std::string &file, const DataFlags &flags,
                 LoadedData &out, std::string &error) {
  const rnnc_tensor_desc &input = dataInput(info);
  if (checkpoint::lengthsInputOf(info) >= 0) {
    error = "a CSV series has no sequence lengths (every window is full), but the model's input '" +
            std::string(info.inputs[checkpoint::lengthsInputOf(info)].name) + "' takes them";
    return false;
  }
  if (input.dtype != RNNC_F32 || input.rank != 3) {
    error = "a CSV series feeds windows f32[batch, window, features], but the model's input '" +
            std::string(input.name) + "' is " + shapeOf(input);
    return false;
  }
  data::CsvOptions options = csvOptions(info, settings, flags);
  if (options.target.empty()) {
    error = std::string("model '") + info.model_name + "' has no csv data block naming the target column";
    return false;
  }
  std::vector<std::string> searched;
  const std::string path = file.find('/') != std::string::npos && std::ifstream(file).good()
                               ? file
                               : data::findData(data::dataSearchPath(flags.dataDir), {file}, searched);
  if (path.empty()) {
    error = "the CSV file '" + file + "' is not in the data directory; looked in:\n  " +
            join(data::dataSearchPath(flags.dataDir), "\n  ");
    return false;
  }
  data::SeriesDataset set;
  if (!data::loadCsvSeries(path, options, set, error))
    return false;
  if (input.dtype != RNNC_F32 || input.rank != 3 || input.dims[1] != set.window || input.dims[2] != set.features) {
    error = path + " gives windows of " + std::to_string(set.window) + " rows of " + std::to_string(set.features) +
            " features (" + join(set.featureNames, ", ") + "), but the model's input '" + input.name + "' is " +
            shapeOf(input);
    return false;
  }
  const int64_t width = set.window * set.features;
  out.train = seriesSplit(set.train, width).head(flags.limit);
  out.validation = seriesSplit(set.validation, width).head(flags.limit);
  out.test = seriesSplit(set.test, width).head(flags.limit);
  out.targetMin = set.targetMin;
  out.targetMax = set.targetMax;
  out.description = path + ": " + std::to_string(set.rows) + " rows; windows of " + std::to_string(set.window) +
                    " rows of " + std::to_string(set.features) + " features predict " + set.target + "; " +
                    std::to_string(out.train.count) + " training, " + std::to_string(out.validation.count) +
                    " validation, " + std::to_string(out.test.count) + " test windows";
  if (set.droppedRows || set.filledCells || set.skippedWindows)
    out.description += "; missing values: " + std::to_string(set.droppedRows) + " rows dropped, " +
                       std::to_string(set.filledCells) + " cells forward-filled, " + std::to_string(set.skippedWindows) +
                       " windows left out (spanning a dropped row or with a filled target, which is never scored)";
  out.metadata["data"] = "csv";
  out.metadata["normalization"] = json{{"features", set.featureNames}, {"min", set.featureMin}, {"max", set.featureMax},
                                       {"target", set.target}, {"target_min", set.targetMin},
                                       {"target_max", set.targetMax}}.dump();
  return true;
}

} // namespace

double denormalizeTarget(double value, const void *context) {
  const auto *loaded = static_cast<const LoadedData *>(context);
  return denormalizeTarget(value, loaded->targetMin, loaded->targetMax);
}

namespace {

/// The model's data binding: kind, loss, settings and file; no data read.
bool bindSettings(const rnnc_model_info &info, const DataFlags &flags, LoadedData &out, json &settings,
                  std::string &file, std::string &error) {
  json config = json::parse(info.config_json ? info.config_json : "{}", nullptr, false);
  if (config.is_discarded())
    config = json::object();
  out.loss = config.value("loss", std::string());
  if (out.loss.empty() || !info.train.has_train_step) {
    error = std::string("model '") + info.model_name + "' has no loss to train";
    return false;
  }
  if (!checkpoint::dataFeeds(info) || info.train.num_targets != 1) {
    error = std::string("model '") + info.model_name + "' has " + std::to_string(info.num_inputs) + " inputs and " +
            std::to_string(info.train.num_targets) +
            " targets; the data loaders feed one of each (and the sequence lengths, to an i32[batch] input)";
    return false;
  }
  if (!flags.dataDir.empty() && !data::isDirectory(flags.dataDir)) {
    error = "the data directory '" + flags.dataDir + "' does not exist or is not a directory";
    return false;
  }
  settings = config.value("data", json::object());
  std::string kind = settings.value("kind", std::string());
  file = settings.value("file", std::string());
  if (!flags.data.empty()) {
    if (flags.data == "imdb") {
      if (kind != "imdb")
        settings = {{"kind", "imdb"}, {"maxlen", dataInput(info).dims[1]}, {"vocab", dataInput(info).offset}};
      kind = "imdb";
    } else if (flags.data.rfind("csv:", 0) == 0) {
      kind = "csv";
      file = flags.data.substr(4);
    } else {
      error = "unknown --data '" + flags.data + "' (expected imdb or csv:PATH)";
      return false;
    }
  }
  if (kind.empty()) {
    error = std::string("model '") + info.model_name + "' names no data set; give --data imdb or --data csv:PATH";
    return false;
  }
  out.kind = kind;
  out.classes = kind == "imdb" ? 2 : 0;
  return true;
}

} // namespace

bool bindData(const rnnc_model_info &info, const DataFlags &flags, LoadedData &out, std::string &error) {
  json settings;
  std::string file;
  return bindSettings(info, flags, out, settings, file, error);
}

bool loadData(const rnnc_model_info &info, const DataFlags &flags, LoadedData &out, std::string &error) {
  json settings;
  std::string file;
  if (!bindSettings(info, flags, out, settings, file, error))
    return false;
  if (out.kind == "imdb")
    return loadImdbData(info, settings, flags, out, error);
  return loadCsvData(info, settings, file, flags, out, error);
}

bool loadCsvForPrediction(const rnnc_model_info &info, const DataFlags &flags, const std::string &path,
                          const std::string &normalization, CsvPredictionInput &out, std::string &error) {
  json config = json::parse(info.config_json ? info.config_json : "{}", nullptr, false);
  if (normalization.empty()) {
    error = "the checkpoint holds no CSV normalization; train the model with --checkpoint first";
    return false;
  }
  const int64_t features = dataInput(info).rank == 3 ? dataInput(info).dims[2] : 0;
  checkpoint::Normalization saved;
  if (!checkpoint::parseNormalization(normalization, features, saved, error))
    return false;
  out.targetMin = saved.targetMin;
  out.targetMax = saved.targetMax;
  data::CsvOptions options = csvOptions(info, config.is_object() ? config.value("data", json::object()) : json::object(), flags);
  options.features = saved.features;
  options.target = saved.target.empty() ? options.target : saved.target;
  options.split = {1.0, 0.0, 0.0};
  data::SeriesDataset set;
  if (!data::loadCsvSeries(path, options, set, error))
    return false;
  // The loader scaled by this file's ranges: undo that, apply the training ranges.
  auto rescale = [](double v, double fromMin, double fromMax, double toMin, double toMax) {
    const double raw = fromMin + v * data::scaleRange(fromMin, fromMax);
    return (raw - toMin) / data::scaleRange(toMin, toMax);
  };
  out.split = seriesSplit(set.train, set.window * set.features);
  std::vector<float> &x = out.split.x;
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    const int64_t k = i % set.features;
    x[i] = static_cast<float>(rescale(x[i], set.featureMin[k], set.featureMax[k], saved.min[k], saved.max[k]));
  }
  out.actual.clear();
  for (float y : out.split.y)
    out.actual.push_back(set.denormalize(y));
  return true;
}

bool targetRangeOf(const std::string &normalization, double &targetMin, double &targetMax) {
  const json saved = json::parse(normalization.empty() ? "null" : normalization, nullptr, false);
  if (!saved.is_object() || !saved.contains("target_min") || !saved.contains("target_max") ||
      !saved["target_min"].is_number() || !saved["target_max"].is_number())
    return false;
  targetMin = saved["target_min"].get<double>();
  targetMax = saved["target_max"].get<double>();
  return true;
}

std::vector<std::string> vocabularyOf(const std::map<std::string, std::string> &metadata) {
  const auto entry = metadata.find("vocab");
  if (entry == metadata.end())
    return {};
  std::vector<std::string> words;
  std::string error;
  return checkpoint::parseVocabulary(entry->second, 0, words, error) ? words : std::vector<std::string>();
}

std::vector<int32_t> encodeReviews(const std::vector<std::string> &reviews, const std::vector<std::string> &vocab,
                                   int64_t maxlen, std::vector<int32_t> *lengths) {
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < vocab.size(); ++i)
    ids.emplace(vocab[i], static_cast<int32_t>(i));
  std::vector<int32_t> out, encoded;
  for (const std::string &review : reviews) {
    if (lengths)
      lengths->push_back(data::encodeLeftAligned(data::tokenize(review), ids, maxlen, encoded));
    else
      encoded = data::encode(data::tokenize(review), ids, maxlen);
    out.insert(out.end(), encoded.begin(), encoded.end());
  }
  return out;
}

} // namespace rnnc::train
