//===- Data.cpp - Data sets, tokenization and normalization for Python ----===//
//
// Everything here is runtime/train/Datasets' (the loaders rnnrun uses, the
// same splits, vocabulary, windows and scaling); this file only turns its
// splits into NumPy arrays, moving the vectors rather than copying them.
#include "python/src/Data.h"

#include "python/src/Arrays.h"
#include "runtime/checkpoint/Metadata.h"
#include "runtime/train/Datasets.h"

#include <pybind11/functional.h>
#include <pybind11/stl.h>

namespace rnnc::python {
namespace {

/// (x, y) of a split: x shaped like the model's input, y one value per sample.
py::tuple arraysOf(const rnnc_model_info &info, train::Split &split) {
  const std::vector<py::ssize_t> shape = shapeOf(info.inputs[checkpoint::dataInputOf(info)], split.count);
  py::object x = split.idInputs ? arrayOf(std::move(split.ids), shape) : arrayOf(std::move(split.x), shape);
  const std::vector<py::ssize_t> one = {static_cast<py::ssize_t>(split.count)};
  if (checkpoint::lengthsInputOf(info) >= 0) // (tokens, lengths), as the model's inputs take them
    x = py::make_tuple(x, arrayOf(std::move(split.lengths), one));
  py::object y = split.labelTargets ? arrayOf(std::move(split.labels), one) : arrayOf(std::move(split.y), one);
  return py::make_tuple(x, y);
}

train::DataFlags flagsOf(const std::string &dataDir, const std::string &missing,
                         const std::vector<std::string> &naValues) {
  train::DataFlags flags;
  flags.dataDir = dataDir;
  flags.missing = missing;
  flags.naValues = naValues;
  return flags;
}

py::dict loadData(Session &session, const std::string &name, const std::string &dataDir, int64_t limit,
                  uint64_t seed, double validation, const std::string &missing,
                  const std::vector<std::string> &naValues, bool quiet,
                  const std::function<void(const std::string &)> &print) {
  const auto claim = session.claim();
  train::DataFlags flags = flagsOf(dataDir, missing, naValues);
  flags.data = name;
  flags.limit = limit;
  flags.seed = seed;
  flags.validation = validation;
  flags.quiet = quiet;
  flags.print = [&print](const std::string &text) {
    py::gil_scoped_acquire gil;
    try {
      print(text);
    } catch (const py::error_already_set &) {
    }
  };
  train::LoadedData data;
  std::string error;
  bool ok;
  {
    py::gil_scoped_release release;
    ok = train::loadData(session.info(), flags, data, error);
  }
  if (!ok)
    raise(ErrorKind::Data, error);
  bindMetadata(session, data.metadata);
  py::dict out;
  out["kind"] = data.kind;
  out["description"] = data.description;
  out["loss"] = data.loss;
  out["classes"] = data.classes;
  out["vocab"] = data.vocab;
  out["metadata"] = data.metadata;
  out["target_min"] = data.targetMin;
  out["target_max"] = data.targetMax;
  out["train"] = arraysOf(session.info(), data.train);
  out["validation"] = arraysOf(session.info(), data.validation);
  out["test"] = arraysOf(session.info(), data.test);
  return out;
}

py::object encodeReviews(const std::vector<std::string> &reviews, const std::vector<std::string> &vocab,
                         int64_t maxlen, bool leftAligned) {
  if (maxlen < 1)
    throw py::value_error("maxlen must be at least 1, got " + std::to_string(maxlen));
  if (vocab.size() < 2)
    throw py::value_error("the vocabulary has " + std::to_string(vocab.size()) +
                          " words; rnnc's IMDB vocabularies start with <pad> and <unk>");
  std::vector<int32_t> lengths;
  std::vector<int32_t> ids = train::encodeReviews(reviews, vocab, maxlen, leftAligned ? &lengths : nullptr);
  py::array tokens = arrayOf(std::move(ids), {static_cast<py::ssize_t>(reviews.size()), static_cast<py::ssize_t>(maxlen)});
  if (!leftAligned)
    return tokens;
  return py::make_tuple(tokens, arrayOf(std::move(lengths), {static_cast<py::ssize_t>(reviews.size())}));
}

py::tuple csvWindows(Session &session, const std::string &path, const std::string &missing,
                     const std::vector<std::string> &naValues) {
  const auto claim = session.claim();
  const auto normalization = session.metadata.find("normalization");
  train::CsvPredictionInput input;
  std::string error;
  bool ok;
  {
    py::gil_scoped_release release;
    ok = train::loadCsvForPrediction(session.info(), flagsOf("", missing, naValues), path,
                                     normalization == session.metadata.end() ? "" : normalization->second, input,
                                     error);
  }
  if (!ok)
    raise(ErrorKind::Data, error);
  const int64_t count = input.split.count;
  py::array x = arrayOf(std::move(input.split.x), shapeOf(session.info().inputs[checkpoint::dataInputOf(session.info())], count));
  py::array actual = arrayOf(std::move(input.actual), {static_cast<py::ssize_t>(count)});
  return py::make_tuple(x, actual, input.targetMin, input.targetMax);
}

py::array denormalize(const py::array_t<double, py::array::c_style | py::array::forcecast> &values, double low,
                      double high) {
  std::vector<double> out(values.size());
  const double *in = values.data();
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = train::denormalizeTarget(in[i], low, high);
  return arrayOf(std::move(out), std::vector<py::ssize_t>(values.shape(), values.shape() + values.ndim()));
}

} // namespace

void bindMetadata(Session &session, const std::map<std::string, std::string> &metadata) {
  session.metadata.clear();
  for (const auto &[key, value] : metadata) // saveTrainingState writes these four itself
    if (key != "format" && key != "model" && key != "plan" && key != "compiler")
      session.metadata[key] = value;
  const auto normalization = metadata.find("normalization");
  session.scaled = normalization != metadata.end() &&
                   train::targetRangeOf(normalization->second, session.targetMin, session.targetMax);
}

void defineData(py::module_ &m) {
  m.def("load_data", &loadData, py::arg("session"), py::arg("name"), py::arg("data_dir"), py::arg("limit"),
        py::arg("seed"), py::arg("validation"), py::arg("missing"), py::arg("na_values"), py::arg("quiet"),
        py::arg("print"));
  m.def("encode_reviews", &encodeReviews, py::arg("reviews"), py::arg("vocab"), py::arg("maxlen"),
        py::arg("left_aligned") = false);
  m.def("csv_windows", &csvWindows, py::arg("session"), py::arg("path"), py::arg("missing"), py::arg("na_values"));
  m.def("denormalize", &denormalize, py::arg("values"), py::arg("low"), py::arg("high"));
}

} // namespace rnnc::python
