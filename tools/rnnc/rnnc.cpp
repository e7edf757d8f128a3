//===- rnnc.cpp - The rnnc command line: flags in, libraries do the work --===//
#include "compiler/driver/Frontend.h"

#include <boost/program_options.hpp>

#include <fstream>
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
       "print a stage: ast (syntax tree), ir (typed graph IR) or summary (inputs and parameter table)")
      ("output,o", po::value<std::string>()->value_name("FILE"), "write the emitted stage to FILE instead of stdout")
      ("print-locs", "with --emit=ir, print each op's source location as loc(\"file\":line:col)")
      ("language,x", po::value<std::string>()->value_name("LANG"),
       "read FILE as rnn or ir regardless of its extension")
      ("no-warnings,w", "do not print warnings");
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
  if (vm.count("emit")) {
    std::string emit = vm["emit"].as<std::string>();
    if (emit == "ast")
      options.emit = rnnc::EmitKind::AST;
    else if (emit == "ir")
      options.emit = rnnc::EmitKind::IR;
    else if (emit == "summary")
      options.emit = rnnc::EmitKind::Summary;
    else {
      std::cerr << "rnnc: error: unknown --emit stage '" << emit << "' (expected ast, ir or summary)\n";
      return kExitUsage;
    }
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

  rnnc::Diagnostics diag(std::cerr);
  diag.setWarningsEnabled(!vm.count("no-warnings"));
  bool allOk = true;
  for (const std::string &input : inputs) {
    std::ostringstream emitted;
    if (!rnnc::runFrontend(input, options, diag, emitted)) {
      allOk = false;
      continue;
    }
    if (vm.count("output")) {
      const std::string path = vm["output"].as<std::string>();
      std::ofstream file(path, std::ios::binary);
      if (!(file << emitted.str()) || !file.flush()) {
        std::cerr << "rnnc: error: cannot write '" << path << "'\n";
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
