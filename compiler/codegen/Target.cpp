//===- Target.cpp - Host detection, -O pipelines, objects, linking --------===//
#include "compiler/codegen/Target.h"

#include "runtime/support/Checksum.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Host.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <mutex>

namespace rnnc::codegen {

using namespace llvm;

namespace {

void initializeTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    InitializeNativeTarget();
    InitializeNativeTargetAsmPrinter();
    InitializeNativeTargetAsmParser();
  });
}

/// Features a loader can check with __builtin_cpu_supports.
const char *const kCheckable[] = {"sse4.2", "avx", "avx2", "fma", "f16c", "bmi2", "fma4", "xop",
                                  "avx512f", "avx512bw", "avx512dq", "avx512vl"};

} // namespace

std::string checkedFeatureList(TargetMachine &machine) {
  const MCSubtargetInfo *sti = machine.getMCSubtargetInfo();
  std::string list;
  for (const char *feature : kCheckable)
    if (sti->checkFeatures(std::string("+") + feature))
      list += (list.empty() ? "" : ",") + std::string(feature);
  return list;
}

std::unique_ptr<TargetMachine> createTargetMachine(const std::string &cpuName, int optLevel, TargetInfo &info,
                                                   std::string &error) {
  initializeTargets();
  info.triple = sys::getProcessTriple();
  std::string cpu = cpuName, features;
  if (cpu.empty() || cpu == "host") {
    cpu = sys::getHostCPUName().str();
    StringMap<bool> hostFeatures;
    if (sys::getHostCPUFeatures(hostFeatures))
      for (const auto &f : hostFeatures)
        features += (features.empty() ? "" : ",") + std::string(f.getValue() ? "+" : "-") + f.getKey().str();
  }
  const Target *target = TargetRegistry::lookupTarget(info.triple, error);
  if (!target)
    return nullptr;
  if (!target->createMCSubtargetInfo(info.triple, cpu, "")->isCPUStringValid(cpu)) {
    error = "unknown target CPU '" + cpu + "' (try host, x86-64-v3, znver3, skylake-avx512)";
    return nullptr;
  }
  TargetOptions options;
  CodeGenOpt::Level level = optLevel <= 0 ? CodeGenOpt::None
                            : optLevel == 1 ? CodeGenOpt::Less
                            : optLevel == 2 ? CodeGenOpt::Default
                                            : CodeGenOpt::Aggressive;
  std::unique_ptr<TargetMachine> machine(
      target->createTargetMachine(info.triple, cpu, features, options, Reloc::PIC_, std::nullopt, level));
  if (!machine) {
    error = "cannot create a target machine for " + info.triple;
    return nullptr;
  }
  info.cpu = cpu;
  info.features = features;
  info.checkedFeatures = checkedFeatureList(*machine);
  const MCSubtargetInfo *sti = machine->getMCSubtargetInfo();
  info.vectorWidth = sti->checkFeatures("+avx512f") ? 16 : sti->checkFeatures("+avx") ? 8 : 4;
  return machine;
}

void optimizeModule(Module &module, TargetMachine &machine, int optLevel) {
  module.setDataLayout(machine.createDataLayout());
  for (Function &f : module)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", machine.getTargetCPU());
      f.addFnAttr("target-features", machine.getTargetFeatureString());
    }
  if (optLevel <= 0)
    return;
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  OptimizationLevel level = optLevel == 1 ? OptimizationLevel::O1 : optLevel == 2 ? OptimizationLevel::O2 : OptimizationLevel::O3;
  ModulePassManager passes = builder.buildPerModuleDefaultPipeline(level);
  passes.run(module, mam);
}

bool emitToMemory(Module &module, TargetMachine &machine, FileKind kind, SmallVectorImpl<char> &bytes,
                  std::string &error) {
  raw_svector_ostream out(bytes);
  legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, out, nullptr, kind == FileKind::Object ? CGFT_ObjectFile : CGFT_AssemblyFile)) {
    error = "the target cannot emit this file type";
    return false;
  }
  passes.run(module);
  return true;
}

bool emitFile(Module &module, TargetMachine &machine, FileKind kind, const std::string &path, std::string &error) {
  SmallVector<char, 0> bytes;
  if (!emitToMemory(module, machine, kind, bytes, error))
    return false;
  std::error_code ec;
  raw_fd_ostream out(path, ec, sys::fs::OF_None);
  if (ec) {
    error = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  out.write(bytes.data(), bytes.size());
  out.flush();
  if (out.has_error()) {
    error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}

bool linkSharedLibrary(const std::string &object, const std::string &output, std::string &error) {
  const char *lldOverride = std::getenv("RNNC_LLD");
  const char *runtimeOverride = std::getenv("RNNC_MODEL_RUNTIME");
  const std::string lld = lldOverride ? lldOverride : RNNC_LLD_PATH;
  const std::string runtime = runtimeOverride ? runtimeOverride : RNNC_MODEL_RUNTIME_PATH;
  if (!sys::fs::exists(runtime)) {
    error = "the model runtime library '" + runtime + "' is missing (set RNNC_MODEL_RUNTIME)";
    return false;
  }
  std::vector<StringRef> args = {lld, "-shared", "--no-undefined", "-z", "now", "-z", "noexecstack",
                                 "-o", output, object, "--whole-archive", runtime, "--no-whole-archive",
                                 "-L/usr/lib/x86_64-linux-gnu", "-L/lib/x86_64-linux-gnu", "-lm", "-lc"};
  std::string message;
  int rc = sys::ExecuteAndWait(lld, args, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    error = "linking with " + lld + " failed" + (message.empty() ? "" : ": " + message) + " (exit " +
            std::to_string(rc) + ")";
    return false;
  }
  return io::appendLibraryChecksum(output, error); // verified before every dlopen
}

} // namespace rnnc::codegen
