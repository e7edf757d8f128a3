//===- Codegen.h - Graph + plan to an LLVM module ---------------*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/plan/ImperativePlan.h"
#include "compiler/plan/SymbolicPlan.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace rnnc::codegen {

/// What the generated code may assume about the machine.
struct TargetInfo {
  std::string triple;
  std::string cpu;
  std::string features;        ///< LLVM feature string ("+avx2,+fma,...")
  std::string checkedFeatures; ///< what a loader must find on the host ("avx,avx2,fma")
  unsigned vectorWidth = 8;    ///< floats per vector register
};

struct CodegenOptions {
  plan::PlanOptions plan;
  TargetInfo target;
  std::string compilerVersion;
  /// Embed the values of stored parameters (false: rnnc --external-weights).
  bool storeWeights = true;
};

// The emitters, one per file; compiler/driver/Backend.cpp runs them in turn.

/// For the symbolic plan: one entry function (__rnnc_symbolic_forward, or
/// __rnnc_symbolic_train for a training plan) that runs the whole graph
/// through one specialized kernel per op, plus the packing function
/// (__rnnc_pack) unless `withPack` is false.
void emitSymbolicPlan(const ir::Graph &graph, const plan::SymbolicPlan &plan, llvm::Module &module,
                      unsigned vectorWidth, bool withPack = true);
/// For the imperative plan: one generic kernel per primitive, one product
/// kernel per distinct matrix product shape in `plan` (through
/// emitProductFunction), and the op list the runtime dispatches
/// (__rnnc_imperative_plan).
void emitImperativeKernels(const plan::ImperativePlan &plan, llvm::Module &module, unsigned vectorWidth);
void emitImperativePlan(const plan::ImperativePlan &plan, llvm::Module &module);
/// The layout of one matrix product for the register-tiled product generator
/// every kernel shares (SymbolicMatmul.cpp):
///   y[r*yStride + j] = sum_{kk < k} x[r*xStride + kk*xkStride] wT[kk*wStride + j]
/// for r < rows, j < n; each element sums over kk in order from zero.
struct ProductShape {
  int64_t xStride = 0, xkStride = 1, wStride = 0, yStride = 0, n = 0;
};
/// Defines `name` (internal linkage) as void(ptr x, ptr wT, ptr y, i64 rows,
/// i64 k): the shared product for callers outside the symbolic plan (the
/// imperative plan's per-shape product kernels). Returns the function.
llvm::Function *emitProductFunction(llvm::Module &module, unsigned vectorWidth, const std::string &name,
                                    const ProductShape &shape);

/// What the model info describes of the planned program(s).
struct ModelLayout {
  std::vector<ir::ValueId> inputs, targets, params;
  std::vector<int64_t> paramOffsets;
  int64_t paramElements = 0, arenaPerSample = 0, packedElements = 0, arenaFixed = 0;
  bool hasTrainStep = false;
};
/// The model's metadata (__rnnc_info, see runtime/include/rnnc/abi.h).
void emitModelInfo(const ir::Graph &graph, const ModelLayout &layout, const CodegenOptions &options,
                   llvm::Module &module);

} // namespace rnnc::codegen
