//===- OpTableTest.cpp - The type rule of every op ------------------------===//
#include "compiler/ir/OpTable.h"

#include <gtest/gtest.h>

namespace rnnc::ir {
namespace {

const Dim B = Dim::symbolic("batch");
TensorType f32(std::vector<Dim> dims) { return {DType::F32, std::move(dims)}; }
TensorType i32(std::vector<Dim> dims) { return {DType::I32, std::move(dims)}; }
Dim d(int64_t n) { return Dim::fixed(n); }

AttrMap recurrentAttrs(int64_t hidden) {
  AttrMap a;
  a.set("hidden", Attr::ofInt(hidden));
  a.set("reverse", Attr::ofBool(false));
  return a;
}

std::optional<TensorType> infer(OpKind kind, std::vector<TensorType> in, AttrMap attrs = {}) {
  std::string error;
  auto t = inferType(kind, in, attrs, error);
  if (!t)
    ADD_FAILURE() << error;
  return t;
}

std::string inferError(OpKind kind, std::vector<TensorType> in, AttrMap attrs = {}) {
  std::string error;
  EXPECT_FALSE(inferType(kind, in, attrs, error));
  return error;
}

TEST(OpTable, EveryOpHasAUniqueMnemonic) {
  for (const OpInfo &info : allOps()) {
    EXPECT_EQ(opKindFromMnemonic(info.mnemonic), info.kind);
    EXPECT_EQ(&opInfo(info.kind), &info);
  }
  EXPECT_FALSE(opKindFromMnemonic("softplus"));
}

TEST(OpTable, LstmAndGruFollowPyTorchShapes) {
  // LSTM: 4 gates, GRU: 3 gates, rows = gates * hidden.
  auto lstm = infer(OpKind::Lstm, {f32({B, d(7), d(3)}), f32({d(16), d(3)}), f32({d(16), d(4)}), f32({d(16)}), f32({d(16)})},
                    recurrentAttrs(4));
  EXPECT_EQ(lstm->str(), "f32[batch,7,4]");
  auto gru = infer(OpKind::Gru, {f32({B, d(7), d(3)}), f32({d(12), d(3)}), f32({d(12), d(4)}), f32({d(12)}), f32({d(12)})},
                   recurrentAttrs(4));
  EXPECT_EQ(gru->str(), "f32[batch,7,4]");
  EXPECT_EQ(inferError(OpKind::Gru, {f32({B, d(7), d(3)}), f32({d(16), d(3)}), f32({d(12), d(4)}), f32({d(12)}), f32({d(12)})},
                       recurrentAttrs(4)),
            "gru expects weight_ih of type f32[12,3], got f32[16,3]");
  EXPECT_EQ(inferError(OpKind::Lstm, {i32({B, d(7)}), f32({d(16), d(3)}), f32({d(16), d(4)}), f32({d(16)}), f32({d(16)})},
                       recurrentAttrs(4)),
            "lstm expects an input of type f32[batch, time, features], got i32[batch,7]");
}

TEST(OpTable, EmbeddingDenseConcatSelection) {
  EXPECT_EQ(infer(OpKind::Embedding, {i32({B, d(9)}), f32({d(100), d(5)})})->str(), "f32[batch,9,5]");
  EXPECT_EQ(infer(OpKind::Dense, {f32({B, d(9), d(5)}), f32({d(2), d(5)}), f32({d(2)})})->str(), "f32[batch,9,2]");
  EXPECT_EQ(inferError(OpKind::Dense, {f32({B, d(5)}), f32({d(2), d(4)})}),
            "dense expects a weight of type f32[units, 5], got f32[2,4]");
  AttrMap axis;
  axis.set("axis", Attr::ofInt(1));
  EXPECT_EQ(infer(OpKind::Concat, {f32({B, d(2)}), f32({B, d(3)}), f32({B, d(4)})}, axis)->str(), "f32[batch,9]");
  EXPECT_EQ(infer(OpKind::First, {f32({B, d(6), d(3)})})->str(), "f32[batch,3]");
  EXPECT_EQ(infer(OpKind::Last, {f32({B, d(6), d(3)})})->str(), "f32[batch,3]");
}

TEST(OpTable, MeanAndMaxOverTimeAndTheirGradients) {
  EXPECT_EQ(infer(OpKind::Mean, {f32({B, d(6), d(3)})})->str(), "f32[batch,3]");
  EXPECT_EQ(infer(OpKind::Max, {f32({B, d(6), d(3)}), i32({B})})->str(), "f32[batch,3]");
  EXPECT_EQ(inferError(OpKind::Mean, {f32({B, d(3)})}),
            "mean expects a sequence [batch, time, features], got f32[batch,3] (is the recurrent layer already "
            "returning its last step?)");
  EXPECT_EQ(inferError(OpKind::Max, {f32({B, d(6), d(3)}), f32({B})}), "max expects lengths of type i32[batch], got f32[batch]");
  AttrMap steps;
  steps.set("steps", Attr::ofInt(6));
  EXPECT_EQ(infer(OpKind::MeanGrad, {f32({B, d(3)}), i32({B})}, steps)->str(), "f32[batch,6,3]");
  EXPECT_EQ(infer(OpKind::MaxGrad, {f32({B, d(3)}), f32({B, d(6), d(3)}), i32({B})})->str(), "f32[batch,6,3]");
  EXPECT_EQ(inferError(OpKind::MaxGrad, {f32({B, d(4)}), f32({B, d(6), d(3)})}),
            "max_grad expects dy [batch, features] and x [batch, time, features], got f32[batch,4] and f32[batch,6,3]");
}

TEST(OpTable, LossesAreScalarsAndCheckTheirTargets) {
  EXPECT_EQ(infer(OpKind::Mse, {f32({B, d(1)}), f32({B})})->str(), "f32[]"); // trailing unit dim
  EXPECT_EQ(infer(OpKind::Mae, {f32({B, d(3)}), f32({B, d(3)})})->str(), "f32[]");
  EXPECT_EQ(infer(OpKind::BceWithLogits, {f32({B}), f32({B})})->str(), "f32[]");
  EXPECT_EQ(infer(OpKind::SoftmaxCrossEntropy, {f32({B, d(2)}), i32({B})})->str(), "f32[]");
  EXPECT_EQ(inferError(OpKind::SoftmaxCrossEntropy, {f32({B, d(2)}), f32({B})}),
            "softmax_cross_entropy expects class ids of type i32[batch] as target, got f32[batch]");
  EXPECT_EQ(inferError(OpKind::Mse, {f32({B, d(2)}), f32({B})}),
            "mse expects prediction and target of the same shape, got f32[batch,2] and f32[batch]");
}

TEST(OpTable, AttributesAreCheckedAgainstOpsDef) {
  EXPECT_EQ(inferError(OpKind::Dropout, {f32({B, d(2)})}), "dropout needs attribute 'p'");
  AttrMap extra;
  extra.set("alpha", Attr::ofFloat(0.1));
  EXPECT_EQ(inferError(OpKind::Relu, {f32({B, d(2)})}, extra), "relu has no attribute 'alpha'");
  EXPECT_EQ(inferError(OpKind::Relu, {f32({B, d(2)}), f32({B, d(2)})}), "relu takes 1 operand, got 2");
}

} // namespace
} // namespace rnnc::ir
