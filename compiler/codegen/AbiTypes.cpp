//===- AbiTypes.cpp - The C ABI's structs as LLVM types -------------------===//
#include "compiler/codegen/AbiTypes.h"

#include <type_traits>

namespace rnnc::codegen::abi {

using namespace llvm;

namespace {

/// The element count of a C array member, e.g. length(&rnnc_op::in) == 4.
template <typename S, typename T> constexpr uint64_t length(T S::*) { return std::extent_v<T>; }

struct Types {
  Type *ptr, *i32, *i64, *f32;
  explicit Types(LLVMContext &ctx)
      : ptr(PointerType::getUnqual(ctx)), i32(Type::getInt32Ty(ctx)), i64(Type::getInt64Ty(ctx)),
        f32(Type::getFloatTy(ctx)) {}
};

} // namespace

StructType *tensorDescType(LLVMContext &ctx) {
  Types t(ctx);
  // { name, dtype, rank, dims[8], offset, init, init_scale }
  return StructType::get(ctx, {t.ptr, t.i32, t.i32, ArrayType::get(t.i64, length(&rnnc_tensor_desc::dims)), t.i64,
                               t.i32, t.f32});
}

StructType *trainInfoType(LLVMContext &ctx) {
  Types t(ctx);
  // { has_train_step, optimizer, lr, beta1, beta2, eps, weight_decay, momentum, nesterov, clip,
  //   seed, batch, epochs, num_targets, targets }
  return StructType::get(ctx, {t.i32, t.i32, t.f32, t.f32, t.f32, t.f32, t.f32, t.f32, t.i32, t.f32, t.i64, t.i64,
                               t.i64, t.i32, t.ptr});
}

StructType *modelInfoType(LLVMContext &ctx) {
  Types t(ctx);
  // { abi_version, model_name, compiler_version, plan, target_cpu, target_features, num_inputs, inputs,
  //   num_outputs, outputs, num_params, params, param_elements, arena_per_sample, packed_elements,
  //   arena_fixed, train, config_json, stored_values }
  return StructType::get(ctx, {t.i32, t.ptr, t.ptr, t.ptr, t.ptr, t.ptr, t.i32, t.ptr, t.i32, t.ptr, t.i32, t.ptr,
                               t.i64, t.i64, t.i64, t.i64, trainInfoType(ctx), t.ptr, t.ptr});
}

StructType *kernelArgsType(LLVMContext &ctx) {
  Types t(ctx);
  Type *fields[kNumKernelArgsFields];
  fields[kArgOut] = t.ptr;
  fields[kArgIn] = ArrayType::get(t.ptr, length(&rnnc_kernel_args::in));
  fields[kArgBatch] = t.i64;
  fields[kArgP] = ArrayType::get(t.i64, length(&rnnc_kernel_args::p));
  fields[kArgSeed] = t.i64;
  fields[kArgStep] = t.i64;
  return StructType::get(ctx, ArrayRef<Type *>(fields));
}

StructType *opType(LLVMContext &ctx) {
  Types t(ctx);
  // { kernel, num_in, in[4], out, flags, out_per_sample, out_fixed, p[6], num_free, free_slots[5] }
  return StructType::get(ctx, {t.ptr, t.i32, ArrayType::get(t.i32, length(&rnnc_op::in)), t.i32, t.i32, t.i64, t.i64,
                               ArrayType::get(t.i64, length(&rnnc_op::p)), t.i32,
                               ArrayType::get(t.i32, length(&rnnc_op::free_slots))});
}

StructType *imperativePlanType(LLVMContext &ctx) {
  Types t(ctx);
  // { num_ops, num_slots, ops, num_outputs, output_slots, num_train_ops, train_num_slots, train_ops,
  //   loss_slot, num_grads, grad_slots, grad_params, num_packed, packed_offsets, packed_slots, train_packed_slots }
  return StructType::get(ctx, {t.i32, t.i32, t.ptr, t.i32, t.ptr, t.i32, t.i32, t.ptr, t.i32, t.i32, t.ptr, t.ptr, t.i32,
                               t.ptr, t.ptr, t.ptr});
}

} // namespace rnnc::codegen::abi
