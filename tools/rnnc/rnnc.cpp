//===- rnnc.cpp - The rnnc command line: flags in, libraries do the work --===//
#include "compiler/driver/Backend.h"
#include "compiler/driver/Frontend.h"
#include "compiler/onnx/Export.h"
#include "runtime/loader/Loader.h"
#include "runtime/state/TrainingState.h"
#include "runtime/checkpoint/Checkpoint.h"

#include "runtime/support/OutputFile.h"

#include <boost/program_options.hpp>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0, kExitModelError = 1, kExitUsage = 2;

const char *kUsage = R"(usage: rnnc FILE... [options]

Compiles model descriptions (.rnn), printed graph IR (.ir) or ONNX models
(.onnx, docs/onnx.md). With no --emit,
rnnc checks each model and reports its errors and warnings.

Exit status: 0 success, 1 errors in the model, 2 bad usage.

Options)";

/// --emit=onnx: the parameters (rnnc_init_params from --seed, then
/// --checkpoint) read from a JIT-compiled instance, and the graph written.
bool exportOnnx(const rnnc::ir::Graph &graph, rnnc::BackendOptions backend, const po::variables_map &vm,
                std::string &error) {
  backend.compilerVersion = "rnnc (export)";
  std::shared_ptr<rnnc::codegen::JitModel> jit = rnnc::compileForJit(graph, backend, error);
  if (!jit)
    return false;
  std::unique_ptr<rnnc::runtime::Model> model = rnnc::runtime::openBinding(jit->binding(), jit);
  rnnc_instance *instance = model->create(1);
  if (!instance) {
    error = "cannot allocate an instance";
    return false;
  }
  model->initParams(instance, vm["seed"].as<uint64_t>());
  if (vm.count("checkpoint")) {
    rnnc::runtime::TrainingProgress progress;
    std::map<std::string, std::string> metadata;
    if (!rnnc::runtime::loadTrainingState(vm["checkpoint"].as<std::string>(), *model, instance, progress, metadata,
                                          error)) {
      model->destroy(instance);
      return false;
    }
  }
  const rnnc_model_info &info = model->info();
  const float *values = model->params(instance);
  std::map<std::string, std::vector<float>> params;
  for (int32_t k = 0; k < info.num_params; ++k) {
    const rnnc_tensor_desc &p = info.params[k];
    int64_t n = 1;
    for (int32_t d = 0; d < p.rank; ++d)
      n *= p.dims[d];
    params[p.name].assign(values + p.offset, values + p.offset + n);
  }
  model->destroy(instance);
  return rnnc::onnx::exportModel(graph, params, vm["output"].as<std::string>(), error);
}

/// --external-weights: the imported weights as a checkpoint beside the library.
bool writeStoredWeights(const rnnc::ir::Graph &graph, const std::string &path, std::ostream &err) {
  rnnc::checkpoint::Checkpoint ckpt;
  for (const auto &[id, values] : graph.storedValues) {
    const rnnc::ir::Op &op = graph.op(id);
    std::vector<int64_t> shape;
    for (const rnnc::ir::Dim &d : op.type.dims)
      shape.push_back(d.size);
    ckpt.tensors.push_back(rnnc::checkpoint::makeF32(op.name, shape, values->data()));
  }
  std::string error;
  if (!rnnc::checkpoint::save(path, ckpt, error)) {
    err << "rnnc: error: " << error << "\n";
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  po::options_description visible(kUsage);
  visible.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("emit", po::value<std::string>()->value_name("STAGE"),
       "print a stage: ast (syntax tree), ir (typed graph IR), summary (inputs and parameter table), "
       "llvm (optimized LLVM IR), asm, obj, so (shared library), onnx (the forward graph as an ONNX model)")
      ("output,o", po::value<std::string>()->value_name("FILE"),
       "write to FILE; with no --emit, -o FILE writes the model as a shared library (model.so)")
      ("plan", po::value<std::string>()->value_name("PLAN")->default_value("symbolic"),
       "execution plan: symbolic (whole graph, fused cells) or imperative (op by op)")
      ("target-cpu", po::value<std::string>()->value_name("CPU")->default_value("host"),
       "CPU to generate code for (host, x86-64-v3, znver3, skylake-avx512, ...)")
      ("opt,O", po::value<int>()->value_name("N")->default_value(2), "optimization level 0-3")
      ("no-fuse", "symbolic plan: write gate pre-activations to memory between the cell's steps")
      ("no-hoist", "symbolic plan: compute the input projection inside the recurrence, step by step")
      ("no-memplan", "symbolic plan: give every buffer its own arena space (no reuse)")
      ("no-concurrent-directions",
       "symbolic plan: never run the two directions of a bidirectional layer at the same time")
      ("print-locs", "with --emit=ir, print each op's source location as loc(\"file\":line:col)")
      ("language,x", po::value<std::string>()->value_name("LANG"),
       "read FILE as rnn, ir or onnx regardless of its extension")
      ("onnx-dim", po::value<std::vector<std::string>>()->value_name("NAME=N")->composing(),
       "ONNX: give the dynamic dimension NAME (a dim_param, e.g. a sequence length) the size N")
      ("train", po::value<std::string>()->value_name("STUB.rnn"),
       "ONNX input: a training stub, a model block in the .rnn language that adds a target, the loss on the "
       "import's output, optimizer, train and data blocks, so that the import can be trained (fine-tuned) by "
       "rnnrun; see docs/onnx.md")
      ("no-warnings,w", "do not print warnings")
      ("checkpoint", po::value<std::string>()->value_name("PATH"),
       "--emit=onnx: the parameters to export (an rnnrun checkpoint or a PyTorch state dict); default: "
       "rnnc_init_params with --seed")
      ("seed", po::value<uint64_t>()->value_name("S")->default_value(0), "--emit=onnx: seed of the parameters' init")
      ("external-weights", "ONNX input: leave the imported weights out of the library and write them to "
       "FILE.safetensors beside it (load with rnnrun --checkpoint)")
      ("autodiff", "append the gradient graph of the loss (back-propagation through time); see it with --emit=ir");
  po::options_description hidden;
  hidden.add_options()("input", po::value<std::vector<std::string>>(), "input file");
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("input", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error &e) {
    std::cerr << "rnnc: error: " << e.what() << " (see rnnc --help)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return kExitOk;
  }
  if (vm.count("version")) {
    std::cout << "rnnc " << RNNC_VERSION << "\n";
    return kExitOk;
  }
  std::vector<std::string> inputs =
      vm.count("input") ? vm["input"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (inputs.empty()) {
    std::cerr << "rnnc: error: no input file (usage: rnnc FILE... [options]; see rnnc --help)\n";
    return kExitUsage;
  }
  if (inputs.size() > 1 && vm.count("output")) {
    std::cerr << "rnnc: error: -o takes one input file, got " << inputs.size() << "\n";
    return kExitUsage;
  }

  rnnc::FrontendOptions options;
  std::optional<rnnc::OutputKind> backendOutput;
  bool emitOnnx = false;
  if (vm.count("emit")) {
    std::string emit = vm["emit"].as<std::string>();
    if (emit == "ast")
      options.emit = rnnc::EmitKind::AST;
    else if (emit == "ir")
      options.emit = rnnc::EmitKind::IR;
    else if (emit == "summary")
      options.emit = rnnc::EmitKind::Summary;
    else if (emit == "llvm")
      backendOutput = rnnc::OutputKind::LLVM;
    else if (emit == "asm")
      backendOutput = rnnc::OutputKind::Assembly;
    else if (emit == "obj")
      backendOutput = rnnc::OutputKind::Object;
    else if (emit == "so")
      backendOutput = rnnc::OutputKind::SharedLibrary;
    else if (emit == "onnx")
      emitOnnx = true;
    else {
      std::cerr << "rnnc: error: unknown --emit stage '" << emit << "' (expected ast, ir, summary, llvm, asm, obj, so or onnx)\n";
      return kExitUsage;
    }
  } else if (vm.count("output")) {
    backendOutput = rnnc::OutputKind::SharedLibrary;
  }
  if (backendOutput && (*backendOutput == rnnc::OutputKind::Object || *backendOutput == rnnc::OutputKind::SharedLibrary) &&
      !vm.count("output")) {
    std::cerr << "rnnc: error: --emit=obj and --emit=so need -o FILE\n";
    return kExitUsage;
  }
  if (emitOnnx && !vm.count("output")) {
    std::cerr << "rnnc: error: --emit=onnx needs -o FILE.onnx\n";
    return kExitUsage;
  }
  if (vm.count("checkpoint") && !emitOnnx) {
    std::cerr << "rnnc: error: --checkpoint goes with --emit=onnx\n";
    return kExitUsage;
  }
  if (vm.count("external-weights") && !backendOutput) {
    std::cerr << "rnnc: error: --external-weights goes with -o FILE.so\n";
    return kExitUsage;
  }
  rnnc::BackendOptions backend;
  backend.compilerVersion = std::string("rnnc ") + RNNC_VERSION;
  const std::string planName = vm["plan"].as<std::string>();
  if (planName == "symbolic")
    backend.plan.kind = rnnc::plan::PlanKind::Symbolic;
  else if (planName == "imperative")
    backend.plan.kind = rnnc::plan::PlanKind::Imperative;
  else {
    std::cerr << "rnnc: error: unknown --plan '" << planName << "' (expected symbolic or imperative)\n";
    return kExitUsage;
  }
  backend.plan.fuseCells = !vm.count("no-fuse");
  backend.plan.hoistInputProjection = !vm.count("no-hoist");
  backend.plan.planMemory = !vm.count("no-memplan");
  backend.plan.concurrentDirections = !vm.count("no-concurrent-directions");
  backend.targetCpu = vm["target-cpu"].as<std::string>();
  backend.optLevel = vm["opt"].as<int>();
  if (backend.optLevel < 0 || backend.optLevel > 3) {
    std::cerr << "rnnc: error: -O takes 0, 1, 2 or 3, got " << backend.optLevel << "\n";
    return kExitUsage;
  }

  if (vm.count("language")) {
    options.inputLanguage = vm["language"].as<std::string>();
    if (options.inputLanguage != "rnn" && options.inputLanguage != "ir" && options.inputLanguage != "onnx") {
      std::cerr << "rnnc: error: unknown input language '" << options.inputLanguage
                << "' (expected rnn, ir or onnx)\n";
      return kExitUsage;
    }
  }
  if (vm.count("onnx-dim"))
    for (const std::string &spec : vm["onnx-dim"].as<std::vector<std::string>>()) {
      const size_t eq = spec.find('=');
      char *end = nullptr;
      const long long n = eq == std::string::npos ? 0 : std::strtoll(spec.c_str() + eq + 1, &end, 10);
      if (eq == 0 || eq == std::string::npos || !end || *end || n < 1 || n > (1ll << 31)) {
        std::cerr << "rnnc: error: --onnx-dim takes NAME=N with N a positive size, got '" << spec << "'\n";
        return kExitUsage;
      }
      options.onnxDims[spec.substr(0, eq)] = n;
    }
  if (vm.count("train"))
    options.trainStub = vm["train"].as<std::string>();
  options.printLocations = vm.count("print-locs") > 0;
  options.autodiff = vm.count("autodiff") > 0;

  // The output is checked before any work: never replace what is not ours.
  if (vm.count("output") && vm["output"].as<std::string>() != "-") { // "-": standard output
    using rnnc::io::OutputKind;
    const OutputKind kind = !backendOutput ? OutputKind::Text
                            : *backendOutput == rnnc::OutputKind::SharedLibrary ? OutputKind::Library
                            : *backendOutput == rnnc::OutputKind::Object ? OutputKind::Object
                                                                          : OutputKind::Text;
    std::string error;
    std::vector<std::string> read = inputs;
    if (!options.trainStub.empty())
      read.push_back(options.trainStub);
    if (!rnnc::io::checkOutput(vm["output"].as<std::string>(), kind, read, "-o", error)) {
      std::cerr << "rnnc: error: " << error << "\n";
      return kExitUsage;
    }
  }
  rnnc::Diagnostics diag(std::cerr);
  diag.setWarningsEnabled(!vm.count("no-warnings"));
  bool allOk = true;
  for (const std::string &input : inputs) {
    std::ostringstream emitted;
    std::optional<rnnc::ir::Graph> graph;
    if (!rnnc::runFrontend(input, options, diag, emitted, &graph)) {
      allOk = false;
      continue;
    }
    if (emitOnnx) {
      std::string error;
      if (!exportOnnx(*graph, backend, vm, error)) {
        std::cerr << "rnnc: error: " << input << ": " << error << "\n";
        allOk = false;
      }
      continue;
    }
    if (backendOutput) {
      backend.storeWeights = !vm.count("external-weights");
      if (!backend.storeWeights && !graph->storedValues.empty() &&
          !writeStoredWeights(*graph, vm["output"].as<std::string>() + ".safetensors", std::cerr)) {
        allOk = false;
        continue;
      }
      rnnc::CompiledModule compiled;
      std::string error;
      const std::string path = vm.count("output") && vm["output"].as<std::string>() != "-"
                                   ? rnnc::io::resolveOutputPath(vm["output"].as<std::string>())
                                   : "-";
      if (!rnnc::compileGraph(*graph, backend, compiled, error) ||
          !rnnc::writeOutput(compiled, *backendOutput, path, error)) {
        std::cerr << "rnnc: error: " << input << ": " << error << "\n";
        allOk = false;
      }
      continue;
    }
    if (vm.count("output")) {
      std::string error;
      if (!rnnc::io::writeFileAtomically(vm["output"].as<std::string>(), rnnc::io::OutputKind::Text, emitted.str(),
                                         error)) {
        std::cerr << "rnnc: error: " << error << "\n";
        return kExitModelError;
      }
    } else {
      std::cout << emitted.str() << std::flush;
    }
  }
  if (!allOk)
    return kExitModelError;
  return kExitOk;
}
