//===- ThreadsTest.cpp - Batches split across threads ---------------------===//
#include "compiler/driver/Backend.h"
#include "CompileTestUtil.h"
#include "runtime/modelrt/instance.h"

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

/// Batches below the thread count: each chunk lends an idle worker the
/// second direction of every bidirectional layer. The results are those of
/// one thread, bit for bit (forward), and of the same chunks with the
/// directions run in turn (training), and the worker did run them.
TEST(Threads, IdleThreadsRunTheOtherDirection) {
  const char *models[] = {
      kModel,
      "model g { input x: f32[b, 6, 4]\n input n: i32[b]\n target y: f32[b, 3]\n"
      " h = gru(x, hidden=7, layers=2, bidirectional=true, lengths=n, dropout=0.25)\n"
      " p = dense(concat(mean(h), max(h)), units=3)\n loss mse(p, y)\n optimizer adam(lr=0.01) }",
  };
  for (const char *text : models) {
    plan::PlanOptions together, apart;
    apart.concurrentDirections = false;
    auto model = compileText(text, together), inTurn = compileText(text, apart);
    ASSERT_TRUE(model && inTurn);
    const rnnc_model_info &info = model->info();
    const bool lengths = info.num_inputs == 2;
    const int64_t x0 = info.inputs[0].dims[1] * info.inputs[0].dims[2], y0 = info.train.targets[0].dims[1];
    const int64_t elements = info.param_elements;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(-1, 1);
    for (int64_t batch : {1, 2, 3}) {
      std::vector<float> x(batch * x0), y(batch * y0);
      std::vector<int32_t> n(batch);
      for (float &v : x)
        v = uniform(rng);
      for (float &v : y)
        v = uniform(rng);
      for (int64_t r = 0; r < batch; ++r)
        n[r] = static_cast<int32_t>(1 + (r * 5 + 3) % info.inputs[0].dims[1]);
      const void *inputs[] = {x.data(), n.data()}, *targets[] = {y.data()};
      std::vector<float> reference;
      for (int32_t threads : {1, 2, 3, 4, 7}) {
        rnnc_instance *a = model->create(batch), *b = inTurn->create(batch);
        model->initParams(a, 3);
        inTurn->initParams(b, 3);
        ASSERT_EQ(model->setThreads(a, threads), RNNC_OK);
        ASSERT_EQ(inTurn->setThreads(b, threads), RNNC_OK);
        std::vector<float> out(batch * model->info().outputs[0].dims[1]);
        float *outputs[] = {out.data()};
        ASSERT_EQ(model->forward(a, batch, inputs, outputs), RNNC_OK);
        if (reference.empty())
          reference = out;
        EXPECT_EQ(std::memcmp(out.data(), reference.data(), out.size() * sizeof(float)), 0)
            << info.model_name << ": batch " << batch << ", " << threads << " threads";
        const int64_t layers = lengths ? 2 : 1;
        const int64_t spare = threads > batch ? std::min<int64_t>(threads - batch, batch) : 0;
        EXPECT_EQ(a->lent_runs, spare * layers) << info.model_name << ": batch " << batch << ", " << threads;
        // A second call reuses the workers (the first started them).
        ASSERT_EQ(model->forward(a, batch, inputs, outputs), RNNC_OK);
        EXPECT_EQ(std::memcmp(out.data(), reference.data(), out.size() * sizeof(float)), 0);
        float losses[2];
        ASSERT_EQ(model->trainStep(a, batch, inputs, targets, &losses[0]), RNNC_OK);
        ASSERT_EQ(inTurn->trainStep(b, batch, inputs, targets, &losses[1]), RNNC_OK);
        EXPECT_EQ(std::memcmp(&losses[0], &losses[1], sizeof(float)), 0);
        EXPECT_EQ(std::memcmp(model->gradients(a), inTurn->gradients(b), elements * sizeof(float)), 0)
            << info.model_name << ": batch " << batch << ", " << threads << " threads";
        EXPECT_EQ(b->lent_runs, 0);
        model->destroy(a);
        inTurn->destroy(b);
      }
    }
  }
}

} // namespace
} // namespace rnnc
