//===- rnnrun.cpp - Load a compiled model (or JIT one) and run it ---------===//
#include "compiler/driver/Backend.h"
#include "compiler/driver/Frontend.h"
#include "runtime/loader/Loader.h"
#include "runtime/state/TrainingState.h"
#include "tools/rnnrun/Flags.h"
#include "tools/rnnrun/Distributed.h"
#include "tools/rnnrun/Training.h"

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2;

const char *kUsage = R"(usage: rnnrun MODEL [options]

Runs a compiled model: MODEL is a model.so made by `rnnc model.rnn -o model.so`,
or a .rnn file, compiled in-process by the JIT.

By default rnnrun trains the model on the data set its `data` block names
(found in --data-dir, $RNN_DATA_DIR, ./data or ../shared/data), evaluates on
the validation split after each epoch and on the test split at the end, and
prints a report. --eval only evaluates; --predict predicts; --forward runs
one batch of given (or seeded random) inputs and prints the outputs.

Exit status: 0 success, 1 errors (model, library, data), 2 bad usage,
3 interrupted (Ctrl-C: the current step finishes and a checkpoint is written).

Options)";

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t perSample(const rnnc_tensor_desc &d) {
  int64_t n = 1;
  for (int32_t k = 1; k < d.rank; ++k)
    n *= d.dims[k];
  return n;
}

std::string shapeOf(const rnnc_tensor_desc &d, int64_t batch) {
  std::string s = d.dtype == RNNC_I32 ? "i32[" : "f32[";
  for (int32_t k = 0; k < d.rank; ++k)
    s += (k ? "," : "") + std::to_string(d.dims[k] < 0 ? batch : d.dims[k]);
  return s + "]";
}

/// Reads whitespace-separated numbers. Returns false with a message naming
/// the file and the first bad token.
bool readNumbers(const std::string &path, bool integers, std::vector<double> &out, std::string &error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open input file '" + path + "'";
    return false;
  }
  std::string token;
  size_t index = 0;
  while (in >> token) {
    char *end = nullptr;
    double v = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size() || (integers && v != static_cast<int64_t>(v))) {
      error = "'" + path + "': value " + std::to_string(index + 1) + " ('" + token + "') is not " +
              (integers ? "an integer" : "a number");
      return false;
    }
    out.push_back(v);
    ++index;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  po::options_description visible(kUsage);
  visible.add_options()
      ("help,h", "print this help and exit")
      ("info", "print the model's metadata and exit")
      ("forward", "run forward on one batch of --input values (or seeded random ones) and print the outputs")
      ("data", po::value<std::string>()->value_name("SET"), "imdb or csv:PATH (default: the model's data block)")
      ("data-dir", po::value<std::string>()->value_name("DIR"), "where data sets are (default: $RNN_DATA_DIR, ./data, ../shared/data)")
      ("epochs", po::value<int64_t>()->value_name("N"), "epochs to train (default: the model's)")
      ("lr", po::value<float>()->value_name("RATE"), "learning rate (default: the model's)")
      ("limit", po::value<int64_t>()->value_name("N")->default_value(0), "use at most N samples of each split (quick runs)")
      ("checkpoint", po::value<std::string>()->value_name("PATH"), "save the last epoch to PATH and the best to PATH.best; with --eval/--predict/--resume, load it")
      ("resume", "continue training from --checkpoint (parameters, optimizer state, epoch and step)")
      ("test-last", "score the test split with the last epoch's parameters only (default: also with those of the "
                    "epoch of lowest validation loss, which the report leads with)")
      ("eval", "evaluate the test split (parameters from --checkpoint)")
      ("predict", po::value<std::string>()->value_name("FILE"), "predict: IMDB one review per line, CSV windows of a CSV file; - is stdin")
      ("missing", po::value<std::string>()->value_name("HOW"), "CSV missing cells: error, drop or ffill")
      ("na-values", po::value<std::vector<std::string>>()->value_name("V")->multitoken(), "CSV cell values that mean missing (e.g. -200)")
      ("json", po::value<std::string>()->value_name("FILE"), "write every epoch's metrics and the report as JSON")
      ("plot", po::value<std::string>()->value_name("FILE.svg"), "draw loss and metric per epoch")
      ("drop-last", "drop the last partial batch of each epoch (by default it is trained on)")
      ("threads", po::value<int32_t>()->value_name("N")->default_value(1),
       "threads: each batch is split into N chunks of rows run in parallel")
      ("quiet,q", "no progress output")
      ("no-distributed", "under mpirun, train in each process on its own instead of data-parallel across the ranks")
      ("batch", po::value<int64_t>()->value_name("N"), "samples per batch (default: the model's for training, 1 for --forward)")
      ("input", po::value<std::vector<std::string>>()->value_name("NAME=FILE"),
       "values of an input: whitespace-separated numbers, batch-major (the batch follows from the count)")
      ("seed", po::value<uint64_t>()->value_name("S")->default_value(0), "seed of parameter init and random inputs")
      ("print", po::value<int64_t>()->value_name("ROWS")->default_value(8), "output rows to print")
      ("repeat", po::value<int>()->value_name("K")->default_value(1), "run forward K times and report the median time")
      ("train", po::value<std::string>()->value_name("STUB.rnn"),
       "an ONNX model: the training stub (loss, optimizer, train and data blocks) that makes it trainable, as rnnc "
       "--train; see docs/onnx.md")
      ("plan", po::value<std::string>()->value_name("PLAN")->default_value("symbolic"), "JIT: symbolic or imperative")
      ("target-cpu", po::value<std::string>()->value_name("CPU")->default_value("host"), "JIT: target CPU")
      ("opt,O", po::value<int>()->value_name("N")->default_value(2), "JIT: optimization level 0-3");
  po::options_description hidden;
  hidden.add_options()("model", po::value<std::string>(), "model");
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("model", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error &e) {
    std::cerr << "rnnrun: error: " << e.what() << " (see rnnrun --help)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return kExitOk;
  }
  if (!vm.count("model")) {
    std::cerr << "rnnrun: error: no model (usage: rnnrun MODEL [options]; see rnnrun --help)\n";
    return kExitUsage;
  }
  const std::string path = vm["model"].as<std::string>();
  const bool follower =
      rnnc::distributed::launchedByMpirun() && !vm.count("no-distributed") && rnnc::distributed::launchRank() != 0;
  if (!checkFlags(vm, path, follower))
    return kExitUsage;
  const bool forwardOnly = vm.count("forward") || vm.count("input");
  int64_t batch = vm.count("batch") ? vm["batch"].as<int64_t>() : 1;
  if (batch < 1 || batch > (1 << 24)) {
    std::cerr << "rnnrun: error: --batch must be in [1, 16777216], got " << batch << "\n";
    return kExitUsage;
  }

  rnnc::train::installInterruptHandlers(); // every long phase from here on stops on SIGINT / SIGTERM

  // 1. The model: a shared library, or a .rnn / .ir / .onnx compiled by the JIT.
  std::unique_ptr<rnnc::runtime::Model> model;
  std::string error;
  auto loadStart = std::chrono::steady_clock::now();
  if (endsWith(path, ".rnn") || endsWith(path, ".ir") || endsWith(path, ".onnx")) {
    rnnc::Diagnostics diag(std::cerr);
    std::optional<rnnc::ir::Graph> graph;
    std::ostringstream ignored;
    rnnc::FrontendOptions frontend;
    if (vm.count("train"))
      frontend.trainStub = vm["train"].as<std::string>();
    if (!rnnc::runFrontend(path, frontend, diag, ignored, &graph))
      return kExitError;
    rnnc::BackendOptions options;
    const std::string plan = vm["plan"].as<std::string>();
    if (plan != "symbolic" && plan != "imperative") {
      std::cerr << "rnnrun: error: unknown --plan '" << plan << "' (expected symbolic or imperative)\n";
      return kExitUsage;
    }
    options.plan.kind = plan == "symbolic" ? rnnc::plan::PlanKind::Symbolic : rnnc::plan::PlanKind::Imperative;
    options.targetCpu = vm["target-cpu"].as<std::string>();
    options.optLevel = vm["opt"].as<int>();
    options.compilerVersion = "rnnc (JIT)";
    std::shared_ptr<rnnc::codegen::JitModel> jit = rnnc::compileForJit(*graph, options, error);
    model = jit ? rnnc::runtime::openBinding(jit->binding(), jit) : nullptr;
    if (model && !rnnc::runtime::checkRunsHere(model->info(), "the JIT-compiled '" + path + "'", error))
      model.reset(); // the same check as for a model.so: never run code this CPU lacks
  } else {
    model = rnnc::runtime::openSharedLibrary(path, error);
  }
  if (!model) {
    std::cerr << "rnnrun: error: " << error << "\n";
    return kExitError;
  }
  const double loadMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - loadStart).count();
  const rnnc_model_info &info = model->info();
  if (vm.count("info")) {
    std::cout << "model " << info.model_name << " (" << info.plan << " plan, " << info.compiler_version
              << ", target " << info.target_cpu << ": " << info.target_features << ")\n";
    for (int32_t i = 0; i < info.num_inputs; ++i)
      std::cout << "  input  " << info.inputs[i].name << ": " << shapeOf(info.inputs[i], -1) << "\n";
    for (int32_t i = 0; i < info.num_outputs; ++i)
      std::cout << "  output " << info.outputs[i].name << ": " << shapeOf(info.outputs[i], -1) << "\n";
    std::cout << "  " << info.num_params << " parameter tensors, " << info.param_elements << " floats\n";
    std::cout << "  working memory: " << info.arena_per_sample * 4 << " bytes per sample + "
              << (info.arena_fixed + info.packed_elements) * 4 << " bytes"
              << (info.train.has_train_step ? "; has a train step" : "") << "\n";
    return kExitOk;
  }
  if (!forwardOnly) {
    std::unique_ptr<rnnc::distributed::Session> session;
    if (rnnc::distributed::launchedByMpirun() && !vm.count("no-distributed"))
      session = std::make_unique<rnnc::distributed::Session>(&argc, &argv);
    rnnc::train::installInterruptHandlers(); // again: MPI_Init may have replaced them
    const int status = runTraining(*model, vm, path, loadMs / 1e3, session.get());
    // Past training the ranks agreed on the status (Session::finish) and end
    // together, through MPI_Finalize. Before it, this rank failed alone or
    // was interrupted while the others may be waiting for it.
    if (session && !session->finished() && session->size() > 1 && status == 3) {
      std::cout.flush(), std::cerr.flush();
      std::_Exit(status); // interrupted while loading: the others were signalled too
    }
    if (session && !session->finished() && session->size() > 1 && status != kExitOk)
      session->abort(status); // the other ranks may be waiting for this one: end them all
    return status;
  }

  // 2. Inputs: from files, or seeded random values.
  std::map<std::string, std::string> files;
  if (vm.count("input"))
    for (const std::string &spec : vm["input"].as<std::vector<std::string>>()) {
      size_t eq = spec.find('=');
      if (eq == std::string::npos) {
        std::cerr << "rnnrun: error: --input takes NAME=FILE, got '" << spec << "'\n";
        return kExitUsage;
      }
      files[spec.substr(0, eq)] = spec.substr(eq + 1);
    }
  for (const auto &[name, file] : files) {
    bool known = false;
    for (int32_t i = 0; i < info.num_inputs; ++i)
      known |= name == info.inputs[i].name;
    if (!known) {
      std::cerr << "rnnrun: error: model " << info.model_name << " has no input '" << name << "'\n";
      return kExitError;
    }
  }
  std::mt19937_64 rng(vm["seed"].as<uint64_t>());
  std::vector<std::vector<float>> floatInputs(info.num_inputs);
  std::vector<std::vector<int32_t>> intInputs(info.num_inputs);
  std::vector<const void *> inputPointers;
  for (int32_t i = 0; i < info.num_inputs; ++i) {
    const rnnc_tensor_desc &d = info.inputs[i];
    const int64_t n = batch * perSample(d);
    const bool ids = d.dtype == RNNC_I32;
    std::vector<double> values;
    if (files.count(d.name)) {
      if (!readNumbers(files[d.name], ids, values, error)) {
        std::cerr << "rnnrun: error: " << error << "\n";
        return kExitError;
      }
      if (static_cast<int64_t>(values.size()) != n) {
        std::cerr << "rnnrun: error: input '" << d.name << "' of type " << shapeOf(d, batch) << " needs " << n
                  << " values for --batch " << batch << ", '" << files[d.name] << "' has " << values.size() << "\n";
        return kExitError;
      }
    } else {
      std::uniform_real_distribution<double> uniform(-1, 1);
      // token ids in [0, vocab); sequence lengths (offset -T) in [1, T]
      std::uniform_int_distribution<int64_t> token(d.offset < 0 ? 1 : 0, d.offset < 0 ? -d.offset : std::max<int64_t>(d.offset, 1) - 1);
      for (int64_t k = 0; k < n; ++k)
        values.push_back(ids ? static_cast<double>(token(rng)) : uniform(rng));
    }
    if (ids) {
      intInputs[i].assign(values.begin(), values.end());
      inputPointers.push_back(intInputs[i].data());
    } else {
      floatInputs[i].assign(values.begin(), values.end());
      inputPointers.push_back(floatInputs[i].data());
    }
  }

  // 3. Run.
  rnnc_instance *instance = model->create(batch);
  if (!instance) {
    std::cerr << "rnnrun: error: cannot allocate an instance for batch " << batch << "\n";
    return kExitError;
  }
  model->initParams(instance, vm["seed"].as<uint64_t>());
  if (model->setThreads(instance, vm["threads"].as<int32_t>()) != RNNC_OK) {
    model->destroy(instance);
    std::cerr << "rnnrun: error: cannot allocate working memory for " << vm["threads"].as<int32_t>() << " threads\n";
    return kExitError;
  }
  if (vm.count("checkpoint")) { // parameters from a checkpoint (ours, or a PyTorch state dict)
    rnnc::runtime::TrainingProgress progress;
    std::map<std::string, std::string> metadata;
    if (!rnnc::runtime::loadTrainingState(vm["checkpoint"].as<std::string>(), *model, instance, progress, metadata, error)) {
      model->destroy(instance);
      std::cerr << "rnnrun: error: " << error << "\n";
      return kExitError;
    }
  }
  std::vector<std::vector<float>> outputs(info.num_outputs);
  std::vector<float *> outputPointers;
  for (int32_t i = 0; i < info.num_outputs; ++i) {
    outputs[i].assign(batch * perSample(info.outputs[i]), 0.0f);
    outputPointers.push_back(outputs[i].data());
  }
  std::vector<double> times;
  int32_t status = RNNC_OK;
  for (int r = 0; r < std::max(1, vm["repeat"].as<int>()) && status == RNNC_OK; ++r) {
    auto start = std::chrono::steady_clock::now();
    status = model->forward(instance, batch, inputPointers.data(), outputPointers.data());
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  model->destroy(instance);
  if (status != RNNC_OK) {
    std::cerr << "rnnrun: error: forward failed: " << rnnc_binding_status_message(status) << "\n";
    return kExitError;
  }
  std::sort(times.begin(), times.end());

  // 4. Outputs.
  const int64_t rows = std::min<int64_t>(batch, vm["print"].as<int64_t>());
  for (int32_t i = 0; i < info.num_outputs; ++i) {
    const rnnc_tensor_desc &d = info.outputs[i];
    const int64_t width = perSample(d);
    std::cout << "output " << d.name << ": " << shapeOf(d, batch) << "\n";
    for (int64_t r = 0; r < rows; ++r) {
      std::cout << "  [" << r << "]";
      for (int64_t k = 0; k < std::min<int64_t>(width, 16); ++k) {
        char text[32];
        std::snprintf(text, sizeof text, " %.6g", outputs[i][r * width + k]);
        std::cout << text;
      }
      std::cout << (width > 16 ? " ..." : "") << "\n";
    }
    if (rows < batch)
      std::cout << "  (" << batch - rows << " more rows)\n";
  }
  std::printf("%s plan: load %.2f ms, forward %.3f ms (median of %zu), batch %lld\n", info.plan, loadMs,
              times[times.size() / 2], times.size(), static_cast<long long>(batch));
  return kExitOk;
}
