//===- rnnc.cpp - The rnnc command line: flags in, libraries do the work --===//
#include "compiler/driver/Backend.h"
#include "compiler/driver/Frontend.h"

#include "runtime/support/OutputFile.h"

#include <boost/program_options.hpp>

#include <fstream>
#include <optional>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0, kExitModelError = 1, kExitUsage = 2;

const char *kUsage = R"(usage: rnnc FILE... [options]

Compiles model descriptions (.rnn) or printed graph IR (.ir). With no --emit,
rnnc checks each model and reports its errors and warnings.

Exit status: 0 success, 1 errors in the model, 2 bad usage.

Options)";

} // namespace

int main(int argc, char **argv) {
  po::options_description visible(kUsage);
  visible.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("emit", po::value<std::string>()->value_name("STAGE"),
       "print a stage: ast (syntax tree), ir (typed graph IR), summary (inputs and parameter table), "
       "llvm (optimized LLVM IR), asm, obj, so (shared library)")
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
      ("print-locs", "with --emit=ir, print each op's source location as loc(\"file\":line:col)")
      ("language,x", po::value<std::string>()->value_name("LANG"),
       "read FILE as rnn or ir regardless of its extension")
      ("no-warnings,w", "do not print warnings")
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
    else {
      std::cerr << "rnnc: error: unknown --emit stage '" << emit << "' (expected ast, ir, summary, llvm, asm, obj or so)\n";
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
  backend.targetCpu = vm["target-cpu"].as<std::string>();
  backend.optLevel = vm["opt"].as<int>();
  if (backend.optLevel < 0 || backend.optLevel > 3) {
    std::cerr << "rnnc: error: -O takes 0, 1, 2 or 3, got " << backend.optLevel << "\n";
    return kExitUsage;
  }

  if (vm.count("language")) {
    options.inputLanguage = vm["language"].as<std::string>();
    if (options.inputLanguage != "rnn" && options.inputLanguage != "ir") {
      std::cerr << "rnnc: error: unknown input language '" << options.inputLanguage
                << "' (expected rnn or ir)\n";
      return kExitUsage;
    }
  }
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
    if (!rnnc::io::checkOutput(vm["output"].as<std::string>(), kind, inputs, "-o", error)) {
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
    if (backendOutput) {
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
