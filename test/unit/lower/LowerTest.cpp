//===- LowerTest.cpp - Before (model text) -> Expected (graph IR) ---------===//
#include "LowerTestUtil.h"

#include <gtest/gtest.h>

namespace rnnc {
namespace {

using testing::lowerText;

TEST(Lower, SmallRegressionModel) {
  auto r = lowerText(R"(
    model reg {
      input x: f32[batch, 4, 2]
      target y: f32[batch]
      h = gru(x, hidden=3, returns="last")
      p = dense(h, units=1)
      loss mse(p, y)
      optimizer sgd(lr=0.5)
      train { batch=8 }
    })");
  ASSERT_TRUE(r.graph) << r.diagnostics;
  EXPECT_EQ(r.diagnostics, "");
  EXPECT_EQ(r.ir(), R"(graph @reg {
  %x = input() : () -> f32[batch,4,2]
  %y = target() : () -> f32[batch]
  %h.weight_ih_l0 = param() {init = "uniform", bound = 0.5773502691896258} : () -> f32[9,2]
  %h.weight_hh_l0 = param() {init = "uniform", bound = 0.5773502691896258} : () -> f32[9,3]
  %h.bias_ih_l0 = param() {init = "uniform", bound = 0.5773502691896258} : () -> f32[9]
  %h.bias_hh_l0 = param() {init = "uniform", bound = 0.5773502691896258} : () -> f32[9]
  %h.gru_l0 = gru(%x, %h.weight_ih_l0, %h.weight_hh_l0, %h.bias_ih_l0, %h.bias_hh_l0) {hidden = 3, reverse = false} : (f32[batch,4,2], f32[9,2], f32[9,3], f32[9], f32[9]) -> f32[batch,4,3]
  %h = last(%h.gru_l0) : (f32[batch,4,3]) -> f32[batch,3]
  %p.weight = param() {init = "uniform", bound = 0.5773502691896258} : () -> f32[1,3]
  %p.bias = param() {init = "uniform", bound = 0.5773502691896258} : () -> f32[1]
  %p = dense(%h, %p.weight, %p.bias) : (f32[batch,3], f32[1,3], f32[1]) -> f32[batch,1]
  %loss = mse(%p, %y) : (f32[batch,1], f32[batch]) -> f32[]
  output %p
  loss %loss
  optimizer sgd {lr = 0.5, momentum = 0.0, weight_decay = 0.0, nesterov = false}
  train {batch = 8, epochs = 1, seed = 0, clip = 0.0, shuffle = true}
}
)");
}

TEST(Lower, MissingOptimizerDefaultsToAdam) {
  auto r = lowerText("model m { input x: f32[b, 2]\n target y: f32[b, 2]\n loss mse(x, y) }");
  ASSERT_TRUE(r.graph) << r.diagnostics;
  EXPECT_EQ(r.graph->optimizer->kind, "adam");
  EXPECT_EQ(r.graph->optimizer->attrs.getNumber("lr"), 0.001);
  EXPECT_EQ(r.graph->output, r.graph->find("x")); // the loss's prediction
}

TEST(Lower, AliasesShareAValue) {
  auto r = lowerText("model m { input x: f32[b, 2]\n y = x\n output y }");
  ASSERT_TRUE(r.graph) << r.diagnostics;
  EXPECT_EQ(r.graph->size(), 1u);
}

TEST(Lower, ReportsEveryErrorAndReturnsNoGraph) {
  auto r = lowerText("model m { input x: f32[b, 2]\n a = lstn(x)\n b = dense(x, units=0)\n output q }");
  EXPECT_FALSE(r.graph);
  EXPECT_NE(r.diagnostics.find("t.rnn:2:6: error: unknown layer 'lstn'"), std::string::npos) << r.diagnostics;
  EXPECT_NE(r.diagnostics.find("t.rnn:3:21: error: parameter 'units' of dense must be in [1, 1048576], got 0"),
            std::string::npos) << r.diagnostics;
  EXPECT_NE(r.diagnostics.find("t.rnn:4:9: error: undefined name 'q'"), std::string::npos) << r.diagnostics;
}

} // namespace
} // namespace rnnc
