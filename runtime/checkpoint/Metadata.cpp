//===- Metadata.cpp - Checking a checkpoint's metadata ---------------------===//
#include "runtime/checkpoint/Metadata.h"

#include "runtime/support/Text.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

namespace rnnc::checkpoint {
namespace {

using Json = nlohmann::json;

bool fail(std::string &error, const std::string &field, const std::string &why) {
  error = "metadata '" + field + "' " + why;
  return false;
}

bool finiteNumbers(const Json &value, size_t count, std::vector<double> &out) {
  if (!value.is_array() || value.size() != count)
    return false;
  for (const Json &v : value) {
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      return false;
    out.push_back(v.get<double>());
  }
  return true;
}

int64_t modelFeatures(const rnnc_model_info &info) {
  return dataFeeds(info) && info.inputs[dataInputOf(info)].rank == 3 ? info.inputs[dataInputOf(info)].dims[2] : 0;
}

} // namespace

size_t firstNonFinite(const float *data, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(data[i]))
      return i;
  return n;
}

bool parseNormalization(const std::string &text, int64_t features, Normalization &out, std::string &error) {
  const char *field = "normalization";
  const Json json = Json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return fail(error, field, "is not a JSON object");
  const Json names = json.value("features", Json());
  if (!names.is_array() || names.empty())
    return fail(error, field, "has no list of feature names ('features')");
  Normalization n;
  for (const Json &name : names) {
    if (!name.is_string())
      return fail(error, field, "has a feature name that is not a string");
    n.features.push_back(name.get<std::string>());
  }
  if (features > 0 && static_cast<int64_t>(n.features.size()) != features)
    return fail(error, field, "names " + std::to_string(n.features.size()) + " features, but the model's input has " +
                                  std::to_string(features));
  if (!finiteNumbers(json.value("min", Json()), n.features.size(), n.min) ||
      !finiteNumbers(json.value("max", Json()), n.features.size(), n.max))
    return fail(error, field, "needs 'min' and 'max': " + std::to_string(n.features.size()) +
                                  " finite numbers each, one per feature");
  for (size_t k = 0; k < n.min.size(); ++k)
    if (n.min[k] > n.max[k])
      return fail(error, field, "has min > max for feature '" + io::escapeForMessage(n.features[k]) + "'");
  const Json target = json.value("target", Json()), low = json.value("target_min", Json()),
             high = json.value("target_max", Json());
  if (!target.is_string())
    return fail(error, field, "has no target column name ('target')");
  if (!low.is_number() || !high.is_number() || !std::isfinite(low.get<double>()) ||
      !std::isfinite(high.get<double>()) || low.get<double>() > high.get<double>())
    return fail(error, field, "needs finite 'target_min' <= 'target_max'");
  n.target = target.get<std::string>();
  n.targetMin = low.get<double>();
  n.targetMax = high.get<double>();
  out = std::move(n);
  return true;
}

bool parseVocabulary(const std::string &text, int64_t maxWords, std::vector<std::string> &out, std::string &error) {
  const char *field = "vocab";
  const Json json = Json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_array())
    return fail(error, field, "is not a JSON array of words");
  if (json.size() < 3)
    return fail(error, field, "holds " + std::to_string(json.size()) +
                                  " entries: an empty vocabulary (it needs <pad>, <unk> and at least one word)");
  if (maxWords > 0 && static_cast<int64_t>(json.size()) > maxWords)
    return fail(error, field, "holds " + std::to_string(json.size()) + " words, more than the model's " +
                                  std::to_string(maxWords) + " embedding rows");
  std::vector<std::string> words;
  std::set<std::string> seen;
  for (const Json &word : json) {
    if (!word.is_string())
      return fail(error, field, "entry " + std::to_string(words.size()) + " is not a string");
    if (!seen.insert(word.get<std::string>()).second)
      return fail(error, field, "lists '" + io::escapeForMessage(word.get<std::string>()) + "' twice");
    words.push_back(word.get<std::string>());
  }
  if (words[0] != "<pad>" || words[1] != "<unk>")
    return fail(error, field, "must start with \"<pad>\" and \"<unk>\"");
  out = std::move(words);
  return true;
}

bool checkMetadata(const std::map<std::string, std::string> &metadata, const rnnc_model_info &info,
                   std::string &error) {
  const rnnc_tensor_desc *input = dataFeeds(info) ? &info.inputs[dataInputOf(info)] : nullptr;
  const bool tokens = input && input->dtype == RNNC_I32 && input->rank == 2;
  if (auto it = metadata.find("vocab"); it != metadata.end()) {
    std::vector<std::string> vocab;
    if (!tokens)
      return fail(error, "vocab", "is there, but the model's input is not token ids");
    if (!parseVocabulary(it->second, input->offset, vocab, error))
      return false;
  }
  if (auto it = metadata.find("maxlen"); it != metadata.end()) {
    const std::string want = tokens ? std::to_string(input->dims[1]) : "";
    if (!tokens || it->second != want)
      return fail(error, "maxlen", "is '" + io::escapeForMessage(it->second, 40) + "', but the model's input takes " +
                                       (tokens ? want + " tokens" : std::string("no tokens")));
  }
  if (auto it = metadata.find("normalization"); it != metadata.end()) {
    Normalization n;
    if (modelFeatures(info) == 0)
      return fail(error, "normalization", "is there, but the model's input is not a series of features");
    if (!parseNormalization(it->second, modelFeatures(info), n, error))
      return false;
  }
  if (auto it = metadata.find("best_loss"); it != metadata.end()) {
    char *end = nullptr;
    const double value = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end != '\0' || !(value >= 0) || std::isinf(value))
      return fail(error, "best_loss", "is '" + io::escapeForMessage(it->second, 40) + "', not a finite loss >= 0");
  }
  return true;
}

LoadLimits limitsFor(const rnnc_model_info &info) {
  LoadLimits limits;
  const uint64_t tensors = static_cast<uint64_t>(info.num_params) * 3 + 16;
  limits.maxDataBytes = static_cast<uint64_t>(info.param_elements) * 3 * sizeof(float) + tensors * 8;
  uint64_t words = 0;
  for (int32_t i = 0; i < info.num_inputs; ++i)
    words += info.inputs[i].dtype == RNNC_I32 && info.inputs[i].offset > 0 ? info.inputs[i].offset : 0;
  limits.maxHeaderBytes = (1u << 20) + tensors * 512 + words * 256;
  return limits;
}

} // namespace rnnc::checkpoint
