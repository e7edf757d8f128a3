//===- ShapeInferenceTest.cpp - Shapes through layers, sizes and options --===//
#include "LowerTestUtil.h"

#include <gtest/gtest.h>

namespace rnnc {
namespace {

using testing::lowerText;

std::string typeOf(const ir::Graph &g, const std::string &name) {
  auto id = g.find(name);
  return id ? g.op(*id).type.str() : "<no value " + name + ">";
}

/// Shape of `layer` applied to x: f32[batch, 10, 6] in a one-layer model.
std::string layerShape(const std::string &layer) {
  auto r = lowerText("model m { input x: f32[batch, 10, 6]\n y = " + layer + "\n output y }");
  if (!r.graph)
    return "error: " + r.diagnostics;
  return typeOf(*r.graph, "y");
}

TEST(ShapeInference, RecurrentLayersOverDirectionsLayersAndReturns) {
  struct Case {
    const char *layer;
    const char *shape;
  } cases[] = {
      {"lstm(x, hidden=5)", "f32[batch,10,5]"},
      {"lstm(x, hidden=5, bidirectional=true)", "f32[batch,10,10]"},
      {"lstm(x, hidden=5, returns=\"last\")", "f32[batch,5]"},
      {"lstm(x, hidden=5, layers=3, bidirectional=true, returns=\"last\")", "f32[batch,10]"},
      {"gru(x, hidden=37)", "f32[batch,10,37]"},
      {"gru(x, hidden=37, layers=2, bidirectional=true)", "f32[batch,10,74]"},
      {"dense(x, units=3)", "f32[batch,10,3]"},
      {"dense(last(x), units=3, activation=\"relu\")", "f32[batch,3]"},
      {"concat(first(x), last(x))", "f32[batch,12]"},
      {"concat(x, x, axis=1)", "f32[batch,20,6]"},
      {"dropout(softmax(x), p=0.5)", "f32[batch,10,6]"},
  };
  for (const Case &c : cases)
    EXPECT_EQ(layerShape(c.layer), c.shape) << c.layer;
}

TEST(ShapeInference, StackedLayersTakeTheWidthOfTheLayerBelow) {
  auto r = lowerText("model m { input x: f32[batch, 10, 6]\n"
                     " y = lstm(x, hidden=5, layers=3, bidirectional=true)\n output y }");
  ASSERT_TRUE(r.graph) << r.diagnostics;
  EXPECT_EQ(typeOf(*r.graph, "y.weight_ih_l0"), "f32[20,6]");
  EXPECT_EQ(typeOf(*r.graph, "y.weight_ih_l1"), "f32[20,10]");
  EXPECT_EQ(typeOf(*r.graph, "y.weight_ih_l2_reverse"), "f32[20,10]");
  EXPECT_EQ(typeOf(*r.graph, "y.weight_hh_l2_reverse"), "f32[20,5]");
  EXPECT_EQ(r.graph->params().size(), 3u * 2u * 4u);
}

TEST(ShapeInference, ConstantsGiveStaticDimensions) {
  auto r = lowerText("const T = 12\nconst F = 3\nmodel m { input x: f32[b, T, F]\n"
                     " y = lstm(x, hidden=2)\n output y }");
  ASSERT_TRUE(r.graph) << r.diagnostics;
  EXPECT_EQ(typeOf(*r.graph, "y"), "f32[b,12,2]");
}

TEST(ShapeInference, ErrorsNameTheShapesInvolved) {
  EXPECT_EQ(layerShape("concat(x, last(x))").substr(0, 121),
            "error: t.rnn:2:6: error: concat expects tensors that differ only in axis 2, got f32[batch,10,6], f32[batch,6]\n"
            " y = concat");
}

} // namespace
} // namespace rnnc
