// The LLVM types the compiler emits the ABI structs with must lay out every
// field where the C compiler puts it (runtime/include/rnnc/abi.h, plan.h).
#include "compiler/codegen/AbiTypes.h"
#include "compiler/codegen/Target.h"

#include "llvm/IR/DataLayout.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

namespace {

namespace abi = rnnc::codegen::abi;
using rnnc::codegen::createTargetMachine;
using rnnc::codegen::TargetInfo;

class AbiTypes : public ::testing::Test {
protected:
  void SetUp() override {
    std::string error;
    TargetInfo info;
    machine_ = createTargetMachine("host", 2, info, error);
    ASSERT_TRUE(machine_) << error;
  }
  /// Checks the size and each field's offset of `type` against the C struct.
  void expectLayout(llvm::StructType *type, size_t size, const std::vector<size_t> &offsets) {
    const llvm::DataLayout layout = machine_->createDataLayout();
    const llvm::StructLayout *s = layout.getStructLayout(type);
    ASSERT_EQ(type->getNumElements(), offsets.size()) << "one LLVM field per C field";
    for (unsigned k = 0; k < offsets.size(); ++k)
      EXPECT_EQ(s->getElementOffset(k), offsets[k]) << "field " << k;
    EXPECT_EQ(layout.getTypeAllocSize(type), size);
  }
  llvm::LLVMContext ctx_;
  std::unique_ptr<llvm::TargetMachine> machine_;
};

#define AT(S, f) offsetof(S, f)

TEST_F(AbiTypes, TensorDescMatchesC) {
  using S = rnnc_tensor_desc;
  expectLayout(abi::tensorDescType(ctx_), sizeof(S),
               {AT(S, name), AT(S, dtype), AT(S, rank), AT(S, dims), AT(S, offset), AT(S, init), AT(S, init_scale)});
}

TEST_F(AbiTypes, TrainInfoMatchesC) {
  using S = rnnc_train_info;
  expectLayout(abi::trainInfoType(ctx_), sizeof(S),
               {AT(S, has_train_step), AT(S, optimizer), AT(S, lr), AT(S, beta1), AT(S, beta2), AT(S, eps),
                AT(S, weight_decay), AT(S, momentum), AT(S, nesterov), AT(S, clip), AT(S, seed), AT(S, batch),
                AT(S, epochs), AT(S, num_targets), AT(S, targets)});
}

TEST_F(AbiTypes, ModelInfoMatchesC) {
  using S = rnnc_model_info;
  expectLayout(abi::modelInfoType(ctx_), sizeof(S),
               {AT(S, abi_version), AT(S, model_name), AT(S, compiler_version), AT(S, plan), AT(S, target_cpu),
                AT(S, target_features), AT(S, num_inputs), AT(S, inputs), AT(S, num_outputs), AT(S, outputs),
                AT(S, num_params), AT(S, params), AT(S, param_elements), AT(S, arena_per_sample),
                AT(S, packed_elements), AT(S, arena_fixed), AT(S, train), AT(S, config_json), AT(S, stored_values)});
}

TEST_F(AbiTypes, KernelArgsMatchC) {
  using S = rnnc_kernel_args;
  expectLayout(abi::kernelArgsType(ctx_), sizeof(S),
               {AT(S, out), AT(S, in), AT(S, batch), AT(S, p), AT(S, seed), AT(S, step)});
}

// The field names the imperative kernels load their arguments by.
TEST_F(AbiTypes, KernelArgsFieldsNameTheirCFields) {
  using S = rnnc_kernel_args;
  const llvm::StructLayout *s = machine_->createDataLayout().getStructLayout(abi::kernelArgsType(ctx_));
  EXPECT_EQ(s->getElementOffset(abi::kArgOut), AT(S, out));
  EXPECT_EQ(s->getElementOffset(abi::kArgIn), AT(S, in));
  EXPECT_EQ(s->getElementOffset(abi::kArgBatch), AT(S, batch));
  EXPECT_EQ(s->getElementOffset(abi::kArgP), AT(S, p));
  EXPECT_EQ(s->getElementOffset(abi::kArgSeed), AT(S, seed));
  EXPECT_EQ(s->getElementOffset(abi::kArgStep), AT(S, step));
}

TEST_F(AbiTypes, OpMatchesC) {
  using S = rnnc_op;
  expectLayout(abi::opType(ctx_), sizeof(S),
               {AT(S, kernel), AT(S, num_in), AT(S, in), AT(S, out), AT(S, flags), AT(S, out_per_sample),
                AT(S, out_fixed), AT(S, p), AT(S, num_free), AT(S, free_slots)});
}

TEST_F(AbiTypes, ImperativePlanMatchesC) {
  using S = rnnc_imperative_plan;
  expectLayout(abi::imperativePlanType(ctx_), sizeof(S),
               {AT(S, num_ops), AT(S, num_slots), AT(S, ops), AT(S, num_outputs), AT(S, output_slots),
                AT(S, num_train_ops), AT(S, train_num_slots), AT(S, train_ops), AT(S, loss_slot), AT(S, num_grads),
                AT(S, grad_slots), AT(S, grad_params), AT(S, num_packed), AT(S, packed_offsets), AT(S, packed_slots),
                AT(S, train_packed_slots)});
}

} // namespace
