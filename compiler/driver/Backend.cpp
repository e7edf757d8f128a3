//===- Backend.cpp - The back-end pipeline as a script --------------------===//
#include "compiler/driver/Backend.h"

#include "compiler/codegen/Jit.h"
#include "compiler/codegen/Target.h"
#include "compiler/passes/Autodiff.h"
#include "compiler/plan/ImperativePlan.h"
#include "compiler/plan/SymbolicPlan.h"
#include "compiler/support/Diagnostics.h"
#include "runtime/support/OutputFile.h"

#include "llvm/IR/Verifier.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <optional>
#include <unistd.h>

namespace rnnc {

namespace {

/// The training program's graph: the model with its gradient graph, if the
/// model has a loss (a graph read back from --emit=ir may carry it already).
std::optional<ir::Graph> trainingGraph(const ir::Graph &graph) {
  if (!graph.loss)
    return std::nullopt;
  ir::Graph training = graph;
  if (training.gradients.empty())
    differentiate(training);
  return training;
}

/// Symbolic plan: one program for inference and, with a loss, one for a
/// training step; both share the packed weights (emitted once).
codegen::ModelLayout planAndEmitSymbolic(const ir::Graph &graph, const std::optional<ir::Graph> &training,
                                         const codegen::CodegenOptions &options, llvm::Module &module) {
  plan::SymbolicPlan forward = plan::planSymbolic(graph, options.plan);
  codegen::emitSymbolicPlan(graph, forward, module, options.target.vectorWidth);
  codegen::ModelLayout layout{forward.inputs,         {}, forward.params, forward.paramOffsets, forward.paramElements,
                              forward.arenaPerSample, forward.packedElements, 0, false};
  if (training) {
    plan::SymbolicPlan trainPlan = plan::planSymbolic(*training, options.plan, /*training=*/true);
    RNNC_ASSERT(trainPlan.packedElements == forward.packedElements, "both programs share one packed layout");
    codegen::emitSymbolicPlan(*training, trainPlan, module, options.target.vectorWidth, /*withPack=*/false);
    layout.targets = trainPlan.targets;
    layout.arenaPerSample = std::max(layout.arenaPerSample, trainPlan.arenaPerSample);
    layout.arenaFixed = trainPlan.arenaFixed;
    layout.hasTrainStep = true;
  }
  return layout;
}

/// Imperative plan: the generic kernels, one kernel per product shape and
/// one op list the runtime walks.
codegen::ModelLayout planAndEmitImperative(const ir::Graph &graph, const std::optional<ir::Graph> &training,
                                           const codegen::CodegenOptions &options, llvm::Module &module) {
  plan::ImperativePlan imperative = plan::planImperative(graph, training ? &*training : nullptr);
  codegen::emitImperativeKernels(imperative, module, options.target.vectorWidth);
  codegen::emitImperativePlan(imperative, module);
  return {imperative.inputs,       imperative.targets, imperative.params, imperative.paramOffsets,
          imperative.paramElements, 0, imperative.packedElements, 0, training.has_value()};
}

} // namespace

std::unique_ptr<llvm::Module> buildModule(const ir::Graph &graph, const codegen::CodegenOptions &options,
                                          llvm::LLVMContext &context) {
  auto module = std::make_unique<llvm::Module>(graph.name, context);
  module->setTargetTriple(options.target.triple);
  const std::optional<ir::Graph> training = trainingGraph(graph);                    // 1. differentiate
  const codegen::ModelLayout layout = options.plan.kind == plan::PlanKind::Symbolic // 2-3. plan, emit
                                          ? planAndEmitSymbolic(graph, training, options, *module)
                                          : planAndEmitImperative(graph, training, options, *module);
  codegen::emitModelInfo(graph, layout, options, *module);                          // 4. model info
  RNNC_ASSERT(!llvm::verifyModule(*module, &llvm::errs()), "the generated module is valid IR");
  return module;
}

bool compileGraph(const ir::Graph &graph, const BackendOptions &options, CompiledModule &out, std::string &error) {
  if (!graph.output) {
    error = "model '" + graph.name + "' has no output to compute";
    return false;
  }
  if (graph.op(*graph.output).type.dtype != ir::DType::F32) {
    error = "the output of model '" + graph.name + "' must be f32, got " + graph.op(*graph.output).type.str();
    return false;
  }
  out.machine = codegen::createTargetMachine(options.targetCpu, options.optLevel, out.target, error);
  if (!out.machine)
    return false;
  out.context = std::make_unique<llvm::LLVMContext>();
  out.module = buildModule(graph, {options.plan, out.target, options.compilerVersion, options.storeWeights}, *out.context); // 1-4
  codegen::optimizeModule(*out.module, *out.machine, options.optLevel);                             // 5. optimize
  // 6. writeOutput (object, model.so via ld.lld) or compileForJit (ORC LLJIT).
  return true;
}

bool writeOutput(CompiledModule &compiled, OutputKind kind, const std::string &path, std::string &error) {
  switch (kind) {
  case OutputKind::LLVM:
  case OutputKind::Object:
  case OutputKind::Assembly: {
    // Made in memory, then written atomically (io::AtomicFile): the target
    // names the old file or the whole new one, never a part of it.
    llvm::SmallVector<char, 0> bytes;
    if (kind == OutputKind::LLVM) {
      llvm::raw_svector_ostream text(bytes);
      compiled.module->print(text, nullptr);
    } else if (!codegen::emitToMemory(*compiled.module, *compiled.machine,
                                      kind == OutputKind::Object ? codegen::FileKind::Object : codegen::FileKind::Assembly,
                                      bytes, error)) {
      return false;
    }
    if (path == "-") {
      llvm::outs().write(bytes.data(), bytes.size());
      llvm::outs().flush();
      return true;
    }
    return io::writeFileAtomically(path, kind == OutputKind::Object ? io::OutputKind::Object : io::OutputKind::Text,
                                   std::string(bytes.data(), bytes.size()), error);
  }
  case OutputKind::SharedLibrary: {
    llvm::SmallString<128> object;
    int fd = -1;
    if (llvm::sys::fs::createTemporaryFile("rnnc-model", "o", fd, object)) {
      error = "cannot create a temporary object file";
      return false;
    }
    ::close(fd);
    // Link into a temporary next to the target, then rename: a failed or
    // interrupted build never leaves a half-written library behind.
    const std::string partial = path + ".partial";
    bool ok = codegen::emitFile(*compiled.module, *compiled.machine, codegen::FileKind::Object, object.str().str(), error) &&
              codegen::linkSharedLibrary(object.str().str(), partial, error);
    llvm::sys::fs::remove(object);
    if (ok && llvm::sys::fs::rename(partial, path)) {
      error = "cannot write '" + path + "'";
      ok = false;
    }
    if (!ok)
      llvm::sys::fs::remove(partial);
    return ok;
  }
  }
  return false;
}

std::shared_ptr<codegen::JitModel> compileForJit(const ir::Graph &graph, const BackendOptions &options,
                                                 std::string &error) {
  CompiledModule compiled;
  if (!compileGraph(graph, options, compiled, error))
    return nullptr;
  compiled.module->setDataLayout(compiled.machine->createDataLayout());
  return codegen::JitModel::create(std::move(compiled.module), std::move(compiled.context), error);
}

} // namespace rnnc
