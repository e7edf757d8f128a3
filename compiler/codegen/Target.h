//===- Target.h - Target machines, optimization, object emission -*- C++ -*-===//
#pragma once

#include "compiler/codegen/Codegen.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace rnnc::codegen {

/// Creates the target machine for `cpu` ("host" or an LLVM CPU name such as
/// znver3, skylake-avx512, x86-64-v2) and fills `info` (features, vector
/// width). Returns null and sets `error` for an unknown CPU.
std::unique_ptr<llvm::TargetMachine> createTargetMachine(const std::string &cpu, int optLevel, TargetInfo &info,
                                                         std::string &error);

/// Runs LLVM's standard -O<level> pipeline on the module.
void optimizeModule(llvm::Module &module, llvm::TargetMachine &machine, int optLevel);

enum class FileKind { Object, Assembly };
/// The module as an object file or assembly, in memory.
bool emitToMemory(llvm::Module &module, llvm::TargetMachine &machine, FileKind kind, llvm::SmallVectorImpl<char> &bytes,
                  std::string &error);
/// Writes the module as an object file or assembly. Returns false and sets
/// `error` on failure.
bool emitFile(llvm::Module &module, llvm::TargetMachine &machine, FileKind kind, const std::string &path,
              std::string &error);

/// Links an object file and the model runtime into a shared library with
/// LLD (`ld.lld`). Returns false and sets `error` on failure.
bool linkSharedLibrary(const std::string &object, const std::string &output, std::string &error);

/// The CPU features a loader checks before running code built for `info`.
std::string checkedFeatureList(llvm::TargetMachine &machine);

} // namespace rnnc::codegen
