//===- Jit.cpp - ORC LLJIT for the same module AOT compiles ---------------===//
#include "compiler/codegen/Jit.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/Support/TargetSelect.h"

namespace rnnc::codegen {

using namespace llvm;

JitModel::~JitModel() = default;

std::unique_ptr<JitModel> JitModel::create(std::unique_ptr<Module> module, std::unique_ptr<LLVMContext> context,
                                           std::string &error) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  auto jit = orc::LLJITBuilder().create();
  if (!jit) {
    error = toString(jit.takeError());
    return nullptr;
  }
  // Optimized code may call libc (memset, memcpy): resolve from this process.
  auto generator = orc::DynamicLibrarySearchGenerator::GetForCurrentProcess((*jit)->getDataLayout().getGlobalPrefix());
  if (!generator) {
    error = toString(generator.takeError());
    return nullptr;
  }
  (*jit)->getMainJITDylib().addGenerator(std::move(*generator));
  if (Error e = (*jit)->addIRModule(orc::ThreadSafeModule(std::move(module), std::move(context)))) {
    error = toString(std::move(e));
    return nullptr;
  }
  std::unique_ptr<JitModel> model(new JitModel());
  model->jit_ = std::move(*jit);
  std::string lookupError;
  auto find = [&](const char *name) -> void * {
    auto symbol = model->jit_->lookup(name);
    if (!symbol) {
      std::string message = toString(symbol.takeError());
      if (message.find("Symbols not found: [ " + std::string(name) + " ]") == std::string::npos)
        lookupError = message; // a failure to compile, not an absent optional symbol
      return nullptr;
    }
    return symbol->toPtr<void *>();
  };
  model->binding_.info = static_cast<const rnnc_model_info *>(find("__rnnc_info"));
  model->binding_.forward = reinterpret_cast<rnnc_symbolic_forward_fn>(find("__rnnc_symbolic_forward"));
  model->binding_.pack = reinterpret_cast<rnnc_pack_fn>(find("__rnnc_pack"));
  model->binding_.train = reinterpret_cast<rnnc_symbolic_train_fn>(find("__rnnc_symbolic_train"));
  model->binding_.adam_update = reinterpret_cast<rnnc_adam_update_fn>(find("__rnnc_adam_update"));
  model->binding_.imperative = static_cast<const rnnc_imperative_plan *>(find("__rnnc_imperative_plan"));
  if (!model->binding_.info || (!model->binding_.forward && !model->binding_.imperative)) {
    error = lookupError.empty() ? "the compiled module lacks __rnnc_info or an entry point" : lookupError;
    return nullptr;
  }
  return model;
}

} // namespace rnnc::codegen
