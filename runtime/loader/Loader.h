//===- Loader.h - Open a model.so and check it can run here -----*- C++ -*-===//
#pragma once

#include "rnnc/plan.h"

#include <functional>
#include <memory>
#include <string>

namespace rnnc::runtime {

/// The ABI's functions of one compiled model (rnnc/abi_functions.h), filled
/// by dlsym from a model.so (openSharedLibrary) or with the model runtime's
/// rnnc_binding_ functions for an in-process binding (openBinding).
struct ModelFunctions {
  const rnnc_model_info *info = nullptr;
  /// rnnc_create, or rnnc_binding_create with the binding.
  std::function<rnnc_instance *(int64_t maxBatch)> create;
#define RNNC_FUNCTION_POINTER(type, name, method, params, args) type(*name) params = nullptr;
  RNNC_ABI_FUNCTIONS(RNNC_FUNCTION_POINTER, RNNC_FUNCTION_POINTER)
#undef RNNC_FUNCTION_POINTER
};

/// A compiled model, from a model.so or from the JIT: its metadata and the
/// ABI's functions, one member per function of rnnc/abi_functions.h
/// (forward, trainStep, ...), each calling the table.
class Model {
public:
  /// `keepAlive` owns the code the functions live in (the dlopen handle, the JIT).
  Model(ModelFunctions functions, std::shared_ptr<void> keepAlive)
      : fn_(std::move(functions)), keepAlive_(std::move(keepAlive)) {}
  const rnnc_model_info &info() const { return *fn_.info; }
  rnnc_instance *create(int64_t maxBatch) { return fn_.create(maxBatch); }
#define RNNC_MODEL_METHOD(type, name, method, params, args)                                                          \
  type method params { return fn_.name args; }
  RNNC_ABI_FUNCTIONS(RNNC_MODEL_METHOD, RNNC_MODEL_METHOD)
#undef RNNC_MODEL_METHOD

private:
  ModelFunctions fn_;
  std::shared_ptr<void> keepAlive_;
};

/// Opens a model.so with dlopen and checks, before running any of its code,
/// that its ABI version is ours and that this CPU has every feature it was
/// compiled for, and that the file is whole: its rnnc checksum trailer
/// (runtime/support/Checksum.h) matches its contents. Returns null and sets `error` (naming the file) otherwise.
std::unique_ptr<Model> openSharedLibrary(const std::string &path, std::string &error);

/// Whether this CPU has every feature the model was compiled for (the check
/// for a model.so and for the JIT alike); else false, `error` naming `what`.
bool checkRunsHere(const rnnc_model_info &info, const std::string &what, std::string &error);

/// A model over an in-process binding (the JIT's code, which `keepAlive`
/// owns): the same Model as for a model.so, its table filled with the model
/// runtime's rnnc_binding_ functions. The CPU check is checkRunsHere's.
std::unique_ptr<Model> openBinding(const rnnc_model_binding &binding, std::shared_ptr<void> keepAlive);

/// The features in `list` (comma-separated) this CPU lacks, comma-separated;
/// empty if it has them all. Unknown names count as missing.
std::string missingCpuFeatures(const std::string &list);

} // namespace rnnc::runtime
