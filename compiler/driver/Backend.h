//===- Backend.h - Graph to LLVM module, object, model.so or JIT -*- C++ -*-===//
#pragma once

#include "compiler/codegen/Codegen.h"
#include "compiler/codegen/Jit.h"
#include "compiler/ir/Graph.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace rnnc {

struct BackendOptions {
  plan::PlanOptions plan;
  std::string targetCpu = "host";
  int optLevel = 2;
  std::string compilerVersion;
  /// Embed imported (stored) weights in the library; false leaves them out.
  bool storeWeights = true;
};

enum class OutputKind { LLVM, Object, Assembly, SharedLibrary };

/// An optimized module and the machine it targets.
struct CompiledModule {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
  std::unique_ptr<llvm::TargetMachine> machine;
  codegen::TargetInfo target;
};

/// The back end, step by step: differentiate (if the model has a loss) ->
/// plan (symbolic or imperative) -> emit the program(s) -> model info. The
/// module is verified but not optimized.
std::unique_ptr<llvm::Module> buildModule(const ir::Graph &graph, const codegen::CodegenOptions &options,
                                          llvm::LLVMContext &context);

/// The whole pipeline: target machine -> buildModule -> -O pipeline.
bool compileGraph(const ir::Graph &graph, const BackendOptions &options, CompiledModule &out, std::string &error);

/// Writes the compiled module as LLVM IR text, an object file, assembly, or a
/// shared library (object + model runtime, linked by ld.lld).
bool writeOutput(CompiledModule &compiled, OutputKind kind, const std::string &path, std::string &error);

/// Compiles the graph in-process with ORC LLJIT. The compiler stops at the
/// binding (rnnc/plan.h); a program that links the runtime's loader too makes
/// it a runtime::Model: runtime::openBinding(jit->binding(), jit).
std::shared_ptr<codegen::JitModel> compileForJit(const ir::Graph &graph, const BackendOptions &options,
                                                 std::string &error);

} // namespace rnnc
