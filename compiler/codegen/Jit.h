//===- Jit.h - Compile and run a model in-process with ORC LLJIT -*- C++ -*-===//
#pragma once

#include "rnnc/plan.h"

#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace llvm::orc {
class LLJIT;
}

namespace rnnc::codegen {

/// A model compiled in-process: the same module AOT would write to a .so,
/// run through ORC's LLJIT. Keeps the JIT (and so the code) alive.
class JitModel {
public:
  /// Compiles an optimized module. Returns null and sets `error` on failure.
  static std::unique_ptr<JitModel> create(std::unique_ptr<llvm::Module> module,
                                          std::unique_ptr<llvm::LLVMContext> context, std::string &error);
  ~JitModel();
  const rnnc_model_binding &binding() const { return binding_; }

private:
  JitModel() = default;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  rnnc_model_binding binding_{};
};

} // namespace rnnc::codegen
