//===- LayerTable.cpp - Functions, parameters, defaults and ranges --------===//
#include "compiler/lower/LayerTable.h"

#include "compiler/support/Format.h"

namespace rnnc {
namespace {

using ir::Attr;

ParamSpec intParam(const std::string &name, double min, double max, std::optional<int64_t> def,
                   std::string help) {
  ParamSpec p{name, ParamType::Int};
  p.required = !def;
  if (def)
    p.defaultValue = Attr::ofInt(*def);
  p.min = min;
  p.max = max;
  p.help = std::move(help);
  return p;
}

ParamSpec floatParam(const std::string &name, double min, double max, bool maxExclusive,
                     std::optional<double> def, std::string help, bool minExclusive = false) {
  ParamSpec p{name, ParamType::Float};
  p.required = !def;
  if (def)
    p.defaultValue = Attr::ofFloat(*def);
  p.min = min;
  p.max = max;
  p.maxExclusive = maxExclusive;
  p.minExclusive = minExclusive;
  p.help = std::move(help);
  return p;
}

ParamSpec boolParam(const std::string &name, bool def, std::string help) {
  ParamSpec p{name, ParamType::Bool};
  p.defaultValue = Attr::ofBool(def);
  p.help = std::move(help);
  return p;
}

/// A setting whose default depends on the rest of the model (left absent
/// when omitted; the compiler or the runtime decides).
ParamSpec optionalParam(ParamSpec p) {
  p.required = false;
  p.defaultValue.reset();
  return p;
}

ParamSpec stringParam(const std::string &name, std::vector<std::string> choices,
                      std::optional<std::string> def, std::string help) {
  ParamSpec p{name, ParamType::String};
  p.required = !def;
  if (def)
    p.defaultValue = Attr::ofString(*def);
  p.choices = std::move(choices);
  p.help = std::move(help);
  return p;
}

ParamSpec listParam(const std::string &name, ParamType type, std::string help) {
  ParamSpec p{name, type};
  p.help = std::move(help);
  return p;
}

constexpr double kMaxIndex = 2147483647.0; // 2^31 - 1

std::vector<CallSpec> buildCalls() {
  std::vector<CallSpec> calls;
  auto layer = [&](std::string name, int minIn, int maxIn, std::vector<ParamSpec> params,
                   std::string summary) {
    calls.push_back({std::move(name), CallKind::Layer, minIn, maxIn, std::move(params),
                     std::move(summary)});
  };
  const std::vector<std::string> activations = {"identity", "relu", "tanh", "sigmoid", "softmax"};

  layer("embedding", 1, 1,
        {intParam("vocab", 1, kMaxIndex, std::nullopt, "number of rows (token ids 0..vocab-1)"),
         intParam("dim", 1, 65536, std::nullopt, "width of each embedding vector")},
        "token ids i32[B,T] -> vectors f32[B,T,dim]; parameter <name>.weight [vocab, dim]");
  for (const char *cell : {"lstm", "gru"}) {
    layer(cell, 1, 1,
          {intParam("hidden", 1, 65536, std::nullopt, "hidden size H"),
           intParam("layers", 1, 64, 1, "number of stacked layers"),
           boolParam("bidirectional", false, "also run a reverse direction; outputs are concatenated"),
           stringParam("returns", {"sequence", "last"}, std::string("sequence"),
                       "\"sequence\": every step [B,T,D*H]; \"last\": the final state of each direction [B,D*H]"),
           floatParam("dropout", 0, 1, true, 0.0, "dropout between stacked layers"),
           stringParam("init", {"default", "xavier"}, std::string("default"),
                       "weight initialization: PyTorch's default, or Xavier (Glorot) uniform"),
           listParam("lengths", ParamType::Tensor,
                     "an i32[B] model input: the length of each sequence (left-aligned; steps >= length are 0, "
                     "as PyTorch's packed sequences)")},
          std::string(cell) + " layer(s) over x f32[B,T,I], PyTorch layout and gate order");
  }
  layer("dense", 1, 1,
        {intParam("units", 1, 1 << 20, std::nullopt, "output width"),
         stringParam("activation", activations, std::string("identity"), "applied after the affine map"),
         boolParam("bias", true, "add a bias vector"),
         stringParam("init", {"default", "xavier"}, std::string("default"),
                     "weight initialization: PyTorch's default (Kaiming uniform), or Xavier (Glorot) uniform")},
        "affine map over the last axis; parameters <name>.weight [units, in], <name>.bias [units]");
  layer("dropout", 1, 1, {floatParam("p", 0, 1, true, std::nullopt, "probability of zeroing an element")},
        "zeroes elements with probability p while training, scales the rest by 1/(1-p)");
  layer("concat", 1, -1, {intParam("axis", -16, 15, -1, "axis to join along; negative counts from the end")},
        "joins tensors along an axis");
  layer("first", 1, 1, {}, "the first time step: [B,T,F] -> [B,F]");
  layer("last", 1, 1, {}, "the last time step: [B,T,F] -> [B,F]");
  layer("mean", 1, 1, {}, "the mean over the time steps: [B,T,F] -> [B,F] (with lengths: over each sample's steps)");
  layer("max", 1, 1, {}, "the element-wise max over the time steps: [B,T,F] -> [B,F] (with lengths: over each sample's steps)");
  for (const std::string &a : activations)
    layer(a, 1, 1, {}, a + " applied element-wise" + (a == "softmax" ? " (over the last axis)" : ""));

  auto loss = [&](std::string name, std::string summary) {
    calls.push_back({std::move(name), CallKind::Loss, 2, 2, {}, std::move(summary)});
  };
  loss("mse", "mean squared error: (prediction f32, target f32 of the same shape)");
  loss("mae", "mean absolute error: (prediction f32, target f32 of the same shape)");
  loss("bce_with_logits", "binary cross-entropy on logits: (logits f32, target f32 in {0,1})");
  loss("softmax_cross_entropy", "cross-entropy of softmax: (logits f32[B,C], class ids i32[B])");

  auto optimizer = [&](std::string name, std::vector<ParamSpec> params, std::string summary) {
    calls.push_back({std::move(name), CallKind::Optimizer, 0, 0, std::move(params), std::move(summary)});
  };
  optimizer("adam",
            {floatParam("lr", 0, 1e3, false, 0.001, "learning rate", true),
             floatParam("beta1", 0, 1, true, 0.9, "first-moment decay"),
             floatParam("beta2", 0, 1, true, 0.999, "second-moment decay"),
             floatParam("eps", 0, 1, false, 1e-8, "added outside the square root", true),
             floatParam("weight_decay", 0, 1e3, false, 0.0, "L2 penalty added to the gradient")},
            "Adam as torch.optim.Adam (bias-corrected)");
  optimizer("sgd",
            {floatParam("lr", 0, 1e3, false, std::nullopt, "learning rate", true),
             floatParam("momentum", 0, 1, false, 0.0, "momentum factor"),
             floatParam("weight_decay", 0, 1e3, false, 0.0, "L2 penalty added to the gradient"),
             boolParam("nesterov", false, "Nesterov momentum")},
            "stochastic gradient descent as torch.optim.SGD");

  auto settings = [&](std::string name, std::vector<ParamSpec> params, std::string summary) {
    calls.push_back({std::move(name), CallKind::Settings, 0, 0, std::move(params), std::move(summary)});
  };
  settings("train",
           {intParam("batch", 1, 1 << 20, 32, "samples per optimizer step"),
            intParam("epochs", 1, 1e6, 1, "passes over the training split"),
            intParam("seed", 0, 9.2e18, 0, "seed of initialization, shuffling and dropout"),
            floatParam("clip", 0, 1e30, false, 0.0, "clip gradients to this global norm (0: off)"),
            boolParam("shuffle", true, "shuffle the training split each epoch"),
            optionalParam(boolParam("bucket", false,
                                    "batch samples of similar length: sort within windows of batches, then shuffle "
                                    "the batches (default: true for a model with a lengths input, else false)")),
            optionalParam(intParam("bucket_window", 1, 1 << 20, 1,
                                   "batches per sorting window of bucket (default 16)"))},
           "training settings");
  settings("imdb",
           {intParam("vocab", 3, kMaxIndex, std::nullopt, "vocabulary size, including <pad>=0 and <unk>=1"),
            intParam("maxlen", 1, 1 << 20, std::nullopt, "reviews are padded or truncated to this many tokens"),
            stringParam("path", {}, std::string(""), "file or directory inside the data directory (default: found by name)")},
           "the IMDB movie review set (aclImdb): text -> token ids, labels 0 (neg) / 1 (pos)");
  settings("csv",
           {stringParam("file", {}, std::nullopt, "CSV file, relative to the data directory"),
            stringParam("target", {}, std::nullopt, "column to predict"),
            listParam("features", ParamType::StringList, "input columns (default: every numeric column)"),
            intParam("window", 1, 1 << 20, std::nullopt, "time steps per sample: rows t-window..t-1 predict the target at t"),
            listParam("split", ParamType::FloatList, "train/validation/test fractions (default [0.7, 0.1, 0.2])"),
            listParam("na_values", ParamType::ValueList, "cell values that mean missing (e.g. [-200, \"NA\"])"),
            stringParam("missing", {"error", "drop", "ffill"}, std::string("error"), "what to do with missing cells"),
            stringParam("separator", {",", ";", "\t", "\\t", "tab", "|"}, std::string(","), "field separator (\";\" for many European exports)"),
            stringParam("decimal", {".", ","}, std::string("."), "decimal mark of the numbers (\",\" for decimal commas)")},
           "a multivariate time series in a CSV file with a header");
  return calls;
}

const std::vector<CallSpec> &calls() {
  static const std::vector<CallSpec> table = buildCalls();
  return table;
}

} // namespace

const ParamSpec *CallSpec::param(const std::string &paramName) const {
  for (const ParamSpec &p : params)
    if (p.name == paramName)
      return &p;
  return nullptr;
}

const CallSpec *findCall(CallKind kind, const std::string &name) {
  for (const CallSpec &c : calls())
    if (c.kind == kind && c.name == name && c.name != "train")
      return &c;
  return nullptr;
}

std::vector<const CallSpec *> callsOfKind(CallKind kind) {
  std::vector<const CallSpec *> result;
  for (const CallSpec &c : calls())
    if (c.kind == kind)
      result.push_back(&c);
  return result;
}

const CallSpec &trainSpec() {
  for (const CallSpec &c : calls())
    if (c.name == "train")
      return c;
  return calls().front();
}

const CallSpec *dataSpec(const std::string &kind) { return findCall(CallKind::Settings, kind); }

std::vector<std::string> dataKinds() { return {"imdb", "csv"}; }

const char *paramTypeName(ParamType type) {
  switch (type) {
  case ParamType::Int: return "an integer";
  case ParamType::Float: return "a number";
  case ParamType::Bool: return "true or false";
  case ParamType::String: return "a string";
  case ParamType::StringList: return "a list of strings";
  case ParamType::FloatList: return "a list of numbers";
  case ParamType::ValueList: return "a list of numbers or strings";
  case ParamType::Tensor: return "a tensor";
  }
  return "?";
}

std::optional<std::string> closestName(const std::string &name,
                                       const std::vector<std::string> &candidates) {
  std::optional<std::string> best;
  // A plausible typo changes at most a third of the name, and never all of it.
  size_t bestDistance = std::max<size_t>(1, name.size() / 3) + 1;
  for (const std::string &c : candidates) {
    size_t d = editDistance(name, c);
    if (d < bestDistance && d < name.size()) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

} // namespace rnnc
