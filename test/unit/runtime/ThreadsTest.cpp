//===- ThreadsTest.cpp - Batches split across threads ---------------------===//
#include "compiler/driver/Backend.h"
#include "CompileTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace rnnc {
namespace {

using testing::compileText;

const char *kModel = "model t { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n"
                     " h = lstm(x, hidden=9, bidirectional=true, returns=\"last\")\n p = dense(h, units=2)\n"
                     " loss mse(p, y)\n optimizer sgd(lr=0.1) }";

TEST(Threads, ForwardIsTheSameForAnyThreadCount) {
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
    auto model = compileText(kModel, kind);
    ASSERT_TRUE(model);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1, 1);
    std::vector<float> x(11 * 15);
    for (float &v : x)
      v = uniform(rng);
    std::vector<float> reference;
    for (int32_t threads : {1, 2, 3, 4, 11}) {
      rnnc_instance *instance = model->create(11);
      model->initParams(instance, 3);
      ASSERT_EQ(model->setThreads(instance, threads), RNNC_OK);
      std::vector<float> y(11 * 2);
      const void *inputs[] = {x.data()};
      float *outputs[] = {y.data()};
      ASSERT_EQ(model->forward(instance, 11, inputs, outputs), RNNC_OK);
      if (reference.empty())
        reference = y;
      EXPECT_EQ(std::memcmp(y.data(), reference.data(), y.size() * sizeof(float)), 0)
          << plan::planKindName(kind) << " with " << threads << " threads";
      model->destroy(instance);
    }
  }
}

TEST(Threads, ChunkedGradientsAreTheBatchMean) {
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
    auto model = compileText(kModel, kind);
    ASSERT_TRUE(model);
    const int64_t elements = model->info().param_elements;
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> uniform(-1, 1);
    std::vector<float> x(10 * 15), y(10 * 2);
    for (float &v : x)
      v = uniform(rng);
    for (float &v : y)
      v = uniform(rng);
    const void *inputs[] = {x.data()}, *targets[] = {y.data()};
    std::vector<float> grads[2];
    float losses[2];
    for (int t = 0; t < 2; ++t) {
      rnnc_instance *instance = model->create(10);
      model->initParams(instance, 4);
      ASSERT_EQ(model->setThreads(instance, t ? 3 : 1), RNNC_OK);
      ASSERT_EQ(model->trainStep(instance, 10, inputs, targets, &losses[t]), RNNC_OK);
      grads[t].assign(model->gradients(instance), model->gradients(instance) + elements);
      model->destroy(instance);
    }
    EXPECT_NEAR(losses[0], losses[1], 1e-6 * std::fabs(losses[0]));
    for (int64_t i = 0; i < elements; ++i)
      ASSERT_NEAR(grads[0][i], grads[1][i], 1e-5 * std::max(1.0f, std::fabs(grads[0][i]))) << i;
  }
}

} // namespace
} // namespace rnnc
