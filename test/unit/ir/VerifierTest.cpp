//===- VerifierTest.cpp - Each invariant the verifier guards --------------===//
#include "compiler/ir/Verifier.h"

#include <gtest/gtest.h>

#include <sstream>

namespace rnnc::ir {
namespace {

class VerifierTest : public ::testing::Test {
protected:
  /// x: f32[b,4] -> relu -> output.
  Graph valid() {
    Graph g;
    g.name = "g";
    ValueId x = g.add({OpKind::Input, "x", {}, {}, {DType::F32, {Dim::symbolic("b"), Dim::fixed(4)}}, {}});
    ValueId y = g.add({OpKind::Relu, "y", {x}, {}, {DType::F32, {Dim::symbolic("b"), Dim::fixed(4)}}, {}});
    g.output = y;
    return g;
  }
  std::string verify(const Graph &g) {
    std::ostringstream out;
    Diagnostics diag(out);
    bool ok = verifyGraph(g, diag);
    EXPECT_EQ(ok, out.str().empty());
    return out.str();
  }
};

TEST_F(VerifierTest, AcceptsAValidGraph) { EXPECT_EQ(verify(valid()), ""); }

TEST_F(VerifierTest, RejectsAWrongResultType) {
  Graph g = valid();
  g.op(1).type.dims[1] = Dim::fixed(5);
  EXPECT_EQ(verify(g), "rnnc: error: '%y' is declared f32[b,5] but relu gives f32[b,4]\n");
}

TEST_F(VerifierTest, RejectsUseBeforeDefinition) {
  Graph g = valid();
  g.op(1).operands[0] = 1; // y uses itself
  EXPECT_EQ(verify(g), "rnnc: error: '%y' uses a value defined after it\n");
}

TEST_F(VerifierTest, RejectsDuplicateNamesAndMissingAttributes) {
  Graph g = valid();
  g.op(1).name = "x";
  EXPECT_EQ(verify(g), "rnnc: error: value '%x' is defined twice\n");
  Graph h = valid();
  h.add({OpKind::Dropout, "d", {1}, {}, h.op(1).type, {}});
  EXPECT_EQ(verify(h), "rnnc: error: dropout needs attribute 'p'\n");
}

TEST_F(VerifierTest, RejectsBadSourcesAndLoss) {
  Graph g = valid();
  AttrMap zeros;
  zeros.set("init", Attr::ofString("zeros"));
  g.add({OpKind::Param, "w", {}, zeros, {DType::F32, {Dim::symbolic("b")}}, {}});
  EXPECT_EQ(verify(g), "rnnc: error: parameter 'w' must be a static f32 tensor, got f32[b]\n");
  Graph h = valid();
  h.loss = 1;
  EXPECT_EQ(verify(h), "rnnc: error: the loss '%y' is not computed by a loss op\n");
  Graph empty;
  empty.name = "e";
  EXPECT_EQ(verify(empty), "rnnc: error: graph @e has neither an output nor a loss\n");
}

} // namespace
} // namespace rnnc::ir
