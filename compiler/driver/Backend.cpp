//===- Backend.cpp - The back-end pipeline as a script --------------------===//
#include "compiler/driver/Backend.h"

#include "compiler/codegen/Jit.h"
#include "compiler/codegen/Target.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <unistd.h>

namespace rnnc {

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
  codegen::CodegenOptions codegenOptions{options.plan, out.target, options.compilerVersion, options.storeWeights};
  out.context = std::make_unique<llvm::LLVMContext>();
  out.module = codegen::generateModule(graph, codegenOptions, *out.context);
  codegen::optimizeModule(*out.module, *out.machine, options.optLevel);
  return true;
}

bool writeOutput(CompiledModule &compiled, OutputKind kind, const std::string &path, std::string &error) {
  switch (kind) {
  case OutputKind::LLVM: {
    std::error_code ec;
    llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_Text);
    if (ec) {
      error = "cannot write '" + path + "': " + ec.message();
      return false;
    }
    compiled.module->print(out, nullptr);
    return true;
  }
  case OutputKind::Object:
    return codegen::emitFile(*compiled.module, *compiled.machine, codegen::FileKind::Object, path, error);
  case OutputKind::Assembly:
    return codegen::emitFile(*compiled.module, *compiled.machine, codegen::FileKind::Assembly, path, error);
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

std::unique_ptr<runtime::Model> compileForJit(const ir::Graph &graph, const BackendOptions &options, std::string &error) {
  CompiledModule compiled;
  if (!compileGraph(graph, options, compiled, error))
    return nullptr;
  compiled.module->setDataLayout(compiled.machine->createDataLayout());
  std::shared_ptr<codegen::JitModel> jit =
      codegen::JitModel::create(std::move(compiled.module), std::move(compiled.context), error);
  if (!jit)
    return nullptr;
  return runtime::wrapBinding(jit->binding(), jit);
}

} // namespace rnnc
