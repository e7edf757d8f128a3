//===- Module.cpp - The _rnnc extension: compile, load, train, predict ----===//
//
// The binding of rnnc's C++ runtime for the Python package (python/rnnc). It
// adds no computation of its own: compiling is the driver's (runFrontend,
// compileForJit), loading the loader's (openSharedLibrary), training,
// prediction and metrics are runtime/train's Trainer, checkpoints are
// runtime/state's. Long calls release the GIL; fit routes Ctrl-C to
// the runtime's interrupt flag, so it stops after the current step.
#include "compiler/driver/Backend.h"
#include "compiler/driver/Frontend.h"
#include "python/src/Arrays.h"
#include "python/src/Data.h"
#include "python/src/Session.h"
#include "runtime/loader/Loader.h"
#include "runtime/train/Datasets.h"

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <sstream>

namespace rnnc::python {
namespace {

const char *dtypeName(int32_t dtype) { return dtype == RNNC_I32 ? "int32" : "float32"; }

py::dict describe(const rnnc_tensor_desc &d, bool parameter) {
  py::dict out;
  out["name"] = d.name;
  py::list shape;
  for (int32_t k = 0; k < d.rank; ++k)
    shape.append(d.dims[k] < 0 ? py::object(py::none()) : py::object(py::int_(d.dims[k])));
  out["shape"] = py::tuple(shape);
  out["dtype"] = dtypeName(d.dtype);
  if (parameter) {
    static const char *inits[] = {"uniform", "normal", "zeros", "stored"};
    out["init"] = d.init >= 0 && d.init <= 3 ? inits[d.init] : "?";
  }
  return out;
}

/// The metadata rnnrun --info prints, as plain Python values (the Python
/// layer adds the model file's settings from config_json).
py::dict infoOf(Session &session) {
  const rnnc_model_info &info = session.info();
  py::dict out;
  out["name"] = info.model_name;
  out["plan"] = info.plan;
  out["compiler"] = info.compiler_version;
  out["target_cpu"] = info.target_cpu;
  out["target_features"] = info.target_features;
  out["source"] = session.source();
  py::list inputs, outputs, targets, params;
  for (int32_t i = 0; i < info.num_inputs; ++i) {
    py::dict d = describe(info.inputs[i], false);
    if (info.inputs[i].dtype == RNNC_I32)
      d["vocab"] = info.inputs[i].offset;
    inputs.append(d);
  }
  for (int32_t i = 0; i < info.num_outputs; ++i)
    outputs.append(describe(info.outputs[i], false));
  for (int32_t i = 0; i < info.train.num_targets; ++i) {
    py::dict d = describe(info.train.targets[i], false);
    if (info.train.targets[i].dtype == RNNC_I32)
      d["classes"] = info.train.targets[i].offset;
    targets.append(d);
  }
  int64_t count = 0;
  for (int32_t i = 0; i < info.num_params; ++i) {
    params.append(describe(info.params[i], true));
    int64_t n = 1;
    for (int32_t k = 0; k < info.params[i].rank; ++k)
      n *= info.params[i].dims[k];
    count += n;
  }
  out["inputs"] = inputs;
  out["outputs"] = outputs;
  out["targets"] = targets;
  out["parameters"] = params;
  out["parameter_count"] = count;
  out["has_train_step"] = info.train.has_train_step != 0;
  out["loss"] = session.loss();
  out["working_memory_bytes_per_sample"] = info.arena_per_sample * 4;
  out["working_memory_bytes_fixed"] = (info.arena_fixed + info.packed_elements) * 4;
  out["config_json"] = info.config_json ? info.config_json : "{}";
  return out;
}

std::unique_ptr<Session> compileModel(const std::string &path, const std::string &plan, const std::string &targetCpu,
                                      int optLevel, bool fuse, bool hoist, bool memplan, const std::string &train) {
  if (plan != "symbolic" && plan != "imperative")
    throw py::value_error("plan must be 'symbolic' or 'imperative', got '" + plan + "'");
  if (optLevel < 0 || optLevel > 3)
    throw py::value_error("opt_level must be 0-3, got " + std::to_string(optLevel));
  std::ostringstream messages, ignored;
  std::optional<ir::Graph> graph;
  std::unique_ptr<runtime::Model> model;
  std::string error;
  bool parsed;
  {
    py::gil_scoped_release release;
    Diagnostics diag(messages);
    FrontendOptions frontend;
    frontend.trainStub = train; // rnnc --train STUB.rnn: an ONNX import made trainable
    parsed = runFrontend(path, frontend, diag, ignored, &graph);
    if (parsed) {
      BackendOptions options; // as rnnrun's JIT: the same code, the same checkpoints
      options.plan.kind = plan == "symbolic" ? plan::PlanKind::Symbolic : plan::PlanKind::Imperative;
      options.plan.fuseCells = fuse;
      options.plan.hoistInputProjection = hoist;
      options.plan.planMemory = memplan;
      options.targetCpu = targetCpu;
      options.optLevel = optLevel;
      options.compilerVersion = "rnnc (JIT)";
      std::shared_ptr<codegen::JitModel> jit = compileForJit(*graph, options, error);
      model = jit ? runtime::openBinding(jit->binding(), jit) : nullptr;
    }
  }
  if (!parsed)
    raise(ErrorKind::Compile, messages.str().empty() ? "cannot compile '" + path + "'" : messages.str());
  if (!model)
    raise(ErrorKind::Compile, path + ": " + error);
  if (!messages.str().empty() && PyErr_WarnEx(PyExc_UserWarning, messages.str().c_str(), 2) < 0)
    throw py::error_already_set();
  return std::make_unique<Session>(std::move(model), path);
}

std::unique_ptr<Session> loadLibrary(const std::string &path) {
  std::string error;
  std::unique_ptr<runtime::Model> model;
  {
    py::gil_scoped_release release;
    model = runtime::openSharedLibrary(path, error);
  }
  if (!model)
    raise(ErrorKind::Load, error);
  return std::make_unique<Session>(std::move(model), path);
}

py::dict scoresOf(const train::Scores &s) {
  py::dict out;
  out["loss"] = s.loss;
  if (s.accuracy >= 0)
    out["accuracy"] = s.accuracy;
  else {
    out["r2"] = s.r2;
    out["mae"] = s.mae;
    out["mape"] = s.mape;
  }
  return out;
}

/// The largest batch the trainer will run over splits of these sizes (the
/// instance needs room for no more).
int64_t largestBatch(int64_t batch, std::initializer_list<int64_t> counts) {
  int64_t largest = 1;
  for (int64_t count : counts)
    largest = std::max(largest, std::min(batch, count));
  return largest;
}

void requireLoss(Session &session) {
  if (session.loss().empty())
    throw py::value_error(std::string("model '") + session.info().model_name +
                          "' has no loss to train or evaluate (add a `loss` line to its .rnn file)");
}

py::array predict(Session &session, const py::object &x, int64_t batch) {
  const auto claim = session.claim();
  const train::SplitView view = viewOf(session.info(), x, py::none());
  session.reserve(largestBatch(batch, {view.count}));
  std::vector<float> outputs;
  std::string error;
  bool ok;
  {
    py::gil_scoped_release release;
    train::Trainer trainer = session.trainer();
    ok = trainer.predict(view, batch, outputs, error);
  }
  if (!ok)
    throw std::runtime_error(error);
  return arrayOf(std::move(outputs), shapeOf(session.info().outputs[0], view.count));
}

py::dict evaluate(Session &session, const py::object &x, const py::array &y, int64_t batch) {
  const auto claim = session.claim();
  requireLoss(session);
  const train::SplitView view = viewOf(session.info(), x, y);
  session.reserve(largestBatch(batch, {view.count}));
  train::Scores scores;
  std::string error;
  bool ok;
  {
    py::gil_scoped_release release;
    train::Trainer trainer = session.trainer();
    ok = trainer.evaluate(view, batch, scores, error);
  }
  if (!ok)
    throw std::runtime_error(error);
  return scoresOf(scores);
}

/// One fit call: the runtime's training loop over the arrays, from the
/// session's progress when resuming. Returns what the Python layer turns
/// into a History (and an exception when it failed or was interrupted).
py::dict fit(Session &session, const py::object &x, const py::array &y, const py::object &vx, const py::object &vy,
             int64_t epochs, int64_t batch, float lr, bool shuffle, uint64_t seed, int verbose, bool stepLines,
             const std::string &checkpoint, bool resume, int64_t initialEpoch, bool restoreBest, bool dropLast,
             const std::function<void(const std::string &)> &print) {
  const auto claim = session.claim();
  requireLoss(session);
  const train::SplitView train = viewOf(session.info(), x, y);
  const train::SplitView validation = vx.is_none() ? train::SplitView() : viewOf(session.info(), vx, vy);
  session.reserve(largestBatch(batch, {train.count, validation.count}));
  if (lr > 0)
    session.setLearningRate(lr);
  train::TrainOptions options = train::trainOptionsOf(session.info());
  options.epochs = epochs;
  options.batch = batch;
  options.lr = lr;
  options.seed = seed;
  options.shuffle = shuffle;
  options.dropLast = dropLast;
  options.checkpoint = checkpoint;
  options.interruptCheckpoint = ""; // an interrupted fit saves only where asked
  options.quiet = verbose == 0;
  options.stepProgress = stepLines ? 1 : 0;
  options.metadata = session.metadata;
  options.print = [&print](const std::string &text) {
    py::gil_scoped_acquire gil;
    try {
      print(text);
    } catch (const py::error_already_set &) { // a closed stream stops progress, not training
    }
  };
  runtime::TrainingProgress progress = session.progress;
  if (!resume)
    progress = {initialEpoch, 0, seed};
  std::vector<train::EpochRecord> history;
  std::string error;
  train::TrainResult result;
  int64_t bestEpoch = 0;
  std::string written;
  {
    py::gil_scoped_release release;
    train::Trainer trainer = session.trainer();
    {
      train::InterruptScope interrupts;
      result = trainer.train(train, validation, options, progress, history, error);
    }
    if (result == train::TrainResult::Completed && restoreBest)
      trainer.restoreBestParameters();
    bestEpoch = trainer.bestEpoch;
    written = trainer.checkpointPath;
  }
  session.progress = progress;
  py::list epochs_;
  for (const train::EpochRecord &r : history) {
    py::dict e;
    e["epoch"] = r.epoch;
    e["loss"] = r.trainLoss;
    e["seconds"] = r.seconds;
    e["samples_per_second"] = r.samplesPerSecond;
    if (validation.count > 0)
      e["validation"] = scoresOf(r.validation);
    epochs_.append(e);
  }
  py::dict out;
  out["epochs"] = epochs_;
  out["result"] = result == train::TrainResult::Completed ? "completed"
                  : result == train::TrainResult::Interrupted ? "interrupted" : "failed";
  out["error"] = error;
  out["epoch"] = progress.epoch;
  out["step"] = progress.step;
  out["best_epoch"] = bestEpoch;
  out["checkpoint"] = written;
  return out;
}

void save(Session &session, const std::string &path) {
  const auto claim = session.claim();
  std::string error;
  bool ok;
  {
    py::gil_scoped_release release;
    ok = runtime::saveTrainingState(path, session.model(), session.instance(), session.progress, session.metadata,
                                    error);
  }
  if (!ok)
    raise(ErrorKind::Checkpoint, error);
}

py::dict loadWeights(Session &session, const std::string &path) {
  const auto claim = session.claim();
  std::string error;
  std::map<std::string, std::string> metadata;
  runtime::TrainingProgress progress;
  bool ok;
  {
    py::gil_scoped_release release;
    ok = runtime::loadTrainingState(path, session.model(), session.instance(), progress, metadata, error);
  }
  if (!ok)
    raise(ErrorKind::Checkpoint, error);
  session.progress = progress;
  bindMetadata(session, metadata);
  return py::cast(metadata);
}

/// The parameters under their PyTorch names, as the checkpoint holds them.
py::dict stateDict(Session &session) {
  const auto claim = session.claim();
  checkpoint::Checkpoint ckpt = runtime::makeTrainingState(session.model(), session.instance(), session.progress, {});
  py::dict out;
  for (checkpoint::Tensor &t : ckpt.tensors) {
    if (t.dtype != checkpoint::DType::F32 || t.name.rfind("optimizer.", 0) == 0)
      continue;
    std::vector<float> values(t.bytes.size() / sizeof(float));
    std::memcpy(values.data(), t.bytes.data(), t.bytes.size());
    out[py::str(t.name)] = arrayOf(std::move(values), std::vector<py::ssize_t>(t.shape.begin(), t.shape.end()));
  }
  return out;
}

/// Loads {name: float32 array} through the checkpoint loader's checks (every
/// parameter, exact shapes, nothing unknown; nothing changes on failure).
void loadStateDict(Session &session, const py::dict &state) {
  const auto claim = session.claim();
  checkpoint::Checkpoint ckpt;
  for (const auto &[key, value] : state) {
    const py::array_t<float, py::array::c_style> a = value.cast<py::array_t<float, py::array::c_style>>();
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    ckpt.tensors.push_back(checkpoint::makeF32(key.cast<std::string>(), shape, a.data()));
  }
  std::string error;
  std::map<std::string, std::string> metadata;
  runtime::TrainingProgress progress;
  if (!runtime::loadTrainingState(ckpt, "state dict", session.model(), session.instance(), progress, metadata, error))
    raise(ErrorKind::Checkpoint, error);
  session.progress = progress;
}

} // namespace
} // namespace rnnc::python

using namespace rnnc::python;

PYBIND11_MODULE(_rnnc, m) {
  m.doc() = "rnnc's C++ runtime, bound for the rnnc package (use `import rnnc`, not this module).";
  registerErrors(m);
  m.def("compile", &compileModel, py::arg("path"), py::arg("plan"), py::arg("target_cpu"), py::arg("opt_level"),
        py::arg("fuse"), py::arg("hoist"), py::arg("memplan"), py::arg("train"));
  m.def("load", &loadLibrary, py::arg("path"));

  py::class_<Session>(m, "Session")
      .def("info", &infoOf)
      .def("init", [](Session &s, uint64_t seed) { const auto claim = s.claim(); s.init(seed); }, py::arg("seed"))
      .def_property_readonly("seed", &Session::seed)
      .def_property("threads", &Session::threads,
                    [](Session &s, int32_t threads) {
                      const auto claim = s.claim();
                      s.setThreads(threads);
                    })
      .def_property_readonly("capacity", &Session::capacity)
      .def_property_readonly("progress",
                             [](Session &s) {
                               return py::make_tuple(s.progress.epoch, s.progress.step, s.progress.dataSeed);
                             })
      .def_property_readonly("metadata", [](Session &s) { return s.metadata; })
      .def_property_readonly("vocab", [](Session &s) { return rnnc::train::vocabularyOf(s.metadata); })
      .def_property_readonly("target_range",
                             [](Session &s) -> py::object {
                               if (!s.scaled)
                                 return py::none();
                               return py::make_tuple(s.targetMin, s.targetMax);
                             })
      .def("predict", &predict, py::arg("x"), py::arg("batch"))
      .def("evaluate", &evaluate, py::arg("x"), py::arg("y"), py::arg("batch"))
      .def("fit", &fit, py::arg("x"), py::arg("y"), py::arg("vx"), py::arg("vy"), py::arg("epochs"), py::arg("batch"),
           py::arg("lr"), py::arg("shuffle"), py::arg("seed"), py::arg("verbose"), py::arg("step_lines"),
           py::arg("checkpoint"), py::arg("resume"), py::arg("initial_epoch"), py::arg("restore_best"),
           py::arg("drop_last"), py::arg("print"))
      .def("save", &save, py::arg("path"))
      .def("load_weights", &loadWeights, py::arg("path"))
      .def("state_dict", &stateDict)
      .def("load_state_dict", &loadStateDict, py::arg("state"));
  defineData(m);
}
