//===- TypesTest.cpp - Tensor types and attributes ------------------------===//
#include "compiler/ir/Attr.h"
#include "compiler/ir/Types.h"

#include <gtest/gtest.h>

namespace rnnc::ir {
namespace {

TEST(TensorType, PrintsAndCompares) {
  TensorType a{DType::F32, {Dim::symbolic("batch"), Dim::fixed(256), Dim::fixed(64)}};
  EXPECT_EQ(a.str(), "f32[batch,256,64]");
  EXPECT_EQ((TensorType{DType::I32, {}}).str(), "i32[]");
  TensorType b = a;
  EXPECT_EQ(a, b);
  b.dims[0] = Dim::symbolic("n");
  EXPECT_NE(a, b);
  EXPECT_FALSE(a.isStatic());
}

TEST(TensorType, ElementCountRefusesSymbolicAndOverflow) {
  EXPECT_EQ((TensorType{DType::F32, {Dim::fixed(20000), Dim::fixed(64)}}).elementCount(), 1280000);
  EXPECT_EQ((TensorType{DType::F32, {}}).elementCount(), 1);
  EXPECT_FALSE((TensorType{DType::F32, {Dim::symbolic("b"), Dim::fixed(2)}}).elementCount());
  EXPECT_FALSE((TensorType{DType::F32, {Dim::fixed(65536), Dim::fixed(65536)}}).elementCount());
  EXPECT_FALSE((TensorType{DType::F32, {Dim::fixed(int64_t(1) << 40), Dim::fixed(int64_t(1) << 40)}}).elementCount());
}

TEST(AttrMap, KeepsInsertionOrderAndReplacesInPlace) {
  AttrMap m;
  m.set("hidden", Attr::ofInt(4));
  m.set("reverse", Attr::ofBool(false));
  m.set("hidden", Attr::ofInt(8));
  EXPECT_EQ(m.str(), "{hidden = 8, reverse = false}");
  EXPECT_EQ(m.getInt("hidden"), 8);
  EXPECT_EQ(m.getNumber("hidden"), 8.0);
  EXPECT_EQ(m.getString("missing", "x"), "x");
  Attr list = Attr::ofList({Attr::ofFloat(0.5), Attr::ofString("a\"b")});
  EXPECT_EQ(list.str(), "[0.5, \"a\\\"b\"]");
}

} // namespace
} // namespace rnnc::ir
