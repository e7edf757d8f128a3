//===- AbiTypes.h - The C ABI's structs as LLVM types -----------*- C++ -*-===//
//
// The one place the compiler spells the layouts of runtime/include/rnnc
// (abi.h, plan.h) as LLVM types; array sizes come from the C declarations.
// test/unit/codegen/AbiTypesTest.cpp checks every field offset against
// offsetof. The enum constants (RNNC_ABI_VERSION, RNNC_INIT_*, RNNC_OPT_*,
// RNNC_OP_*) are read from the headers directly.
#pragma once

#include "rnnc/abi.h"
#include "rnnc/plan.h"

#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/LLVMContext.h"

namespace rnnc::codegen::abi {

/// The fields of rnnc_kernel_args in kernelArgsType, which the imperative
/// kernels load their arguments from.
enum KernelArgsField : unsigned { kArgOut, kArgIn, kArgBatch, kArgP, kArgSeed, kArgStep, kNumKernelArgsFields };

llvm::StructType *tensorDescType(llvm::LLVMContext &ctx);     ///< rnnc_tensor_desc
llvm::StructType *trainInfoType(llvm::LLVMContext &ctx);      ///< rnnc_train_info
llvm::StructType *modelInfoType(llvm::LLVMContext &ctx);      ///< rnnc_model_info
llvm::StructType *kernelArgsType(llvm::LLVMContext &ctx);     ///< rnnc_kernel_args
llvm::StructType *opType(llvm::LLVMContext &ctx);             ///< rnnc_op
llvm::StructType *imperativePlanType(llvm::LLVMContext &ctx); ///< rnnc_imperative_plan

} // namespace rnnc::codegen::abi
