//===- Flags.cpp - rnnrun's flag checks ------------------------------------===//
#include "tools/rnnrun/Flags.h"

#include "runtime/support/OutputFile.h"
#include "runtime/support/Text.h"

#include <iostream>
#include <sys/stat.h>
#include <vector>

namespace po = boost::program_options;

namespace {

bool refuse(const std::string &message) {
  std::cerr << "rnnrun: error: " << message << "\n";
  return false;
}

bool given(const po::variables_map &vm, const char *name) { return vm.count(name) && !vm[name].defaulted(); }

} // namespace

bool checkFlags(const po::variables_map &vm, const std::string &modelPath, bool follower) {
  const bool jit = modelPath.size() > 4 && (modelPath.compare(modelPath.size() - 4, 4, ".rnn") == 0 ||
                                            modelPath.compare(modelPath.size() - 3, 3, ".ir") == 0 ||
                                            modelPath.compare(modelPath.size() - 5, 5, ".onnx") == 0);
  const char *pairs[][2] = {{"eval", "resume"}, {"eval", "predict"}, {"predict", "resume"}, {"forward", "eval"},
                            {"forward", "predict"}, {"forward", "resume"}, {"info", "eval"}, {"info", "predict"},
                            {"info", "resume"}, {"input", "eval"}, {"input", "predict"}, {"input", "resume"}};
  for (const auto &pair : pairs)
    if (vm.count(pair[0]) && vm.count(pair[1]))
      return refuse(std::string("--") + pair[0] + " and --" + pair[1] + " cannot be used together");
  if (!jit)
    for (const char *flag : {"plan", "target-cpu", "opt"})
      if (given(vm, flag))
        return refuse(std::string("--") + flag + " applies to the JIT (a .rnn, .ir or .onnx model); '" +
                      rnnc::io::escapeForMessage(modelPath) + "' is already compiled (give it to rnnc instead)");
  const bool onnx = modelPath.size() > 5 && modelPath.compare(modelPath.size() - 5, 5, ".onnx") == 0;
  if (vm.count("train") && !onnx)
    return refuse("--train STUB.rnn adds training to an ONNX model (a .onnx file); '" +
                  rnnc::io::escapeForMessage(modelPath) + "' is not one" +
                  (jit ? "" : " (compile the stub in: rnnc model.onnx --train STUB.rnn -o model.so)"));
  const int opt = vm["opt"].as<int>();
  if (opt < 0 || opt > 3)
    return refuse("-O takes 0, 1, 2 or 3, got " + std::to_string(opt));
  const int32_t threads = vm["threads"].as<int32_t>();
  if (threads < 1 || threads > 64)
    return refuse("--threads must be in [1, 64], got " + std::to_string(threads));
  if (follower)
    return true; // rank 0 alone reads the data and writes the outputs
  if (vm.count("data-dir")) {
    const std::string dir = vm["data-dir"].as<std::string>();
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return refuse("--data-dir '" + rnnc::io::escapeForMessage(dir) + "' " +
                    (::stat(dir.c_str(), &st) != 0 ? "does not exist" : "is not a directory"));
  }
  // Outputs: checked now, not after training.
  const bool writesCheckpoint = vm.count("checkpoint") && !vm.count("eval") && !vm.count("predict") &&
                                !vm.count("forward") && !vm.count("input") && !vm.count("info");
  struct Output {
    const char *flag;
    rnnc::io::OutputKind kind;
  };
  std::vector<std::string> inputs = {modelPath};
  if (vm.count("train"))
    inputs.push_back(vm["train"].as<std::string>());
  if (vm.count("predict"))
    inputs.push_back(vm["predict"].as<std::string>());
  std::vector<std::pair<std::string, std::string>> seen; // resolved path, flag
  for (const Output &o : {Output{"json", rnnc::io::OutputKind::Json}, Output{"plot", rnnc::io::OutputKind::Svg},
                          Output{"checkpoint", rnnc::io::OutputKind::Checkpoint}}) {
    if (!vm.count(o.flag) || (o.kind == rnnc::io::OutputKind::Checkpoint && !writesCheckpoint))
      continue;
    const std::string path = vm[o.flag].as<std::string>(), flag = std::string("--") + o.flag;
    std::string error;
    if (!rnnc::io::checkOutput(path, o.kind, inputs, flag, error))
      return refuse(error);
    if (o.kind == rnnc::io::OutputKind::Checkpoint &&
        !rnnc::io::checkOutput(path + ".best", o.kind, inputs, flag + " (its .best copy)", error))
      return refuse(error);
    const std::string resolved = rnnc::io::resolveOutputPath(path);
    for (const auto &[other, otherFlag] : seen)
      if (other == resolved)
        return refuse(flag + " and " + otherFlag + " name the same file '" + rnnc::io::escapeForMessage(path) + "'");
    seen.emplace_back(resolved, flag);
  }
  return true;
}
