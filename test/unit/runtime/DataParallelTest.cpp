//===- DataParallelTest.cpp - The train step split for data parallelism ---===//
//
// rnnc_compute_gradients + rnnc_apply_gradients is the fused train step, bit
// for bit, and ranks that each run their chunks of a global batch and apply
// the gathered chunk gradients end with the parameters of one process that
// runs every chunk on its own threads (docs/distributed.md's rule).
#include "compiler/driver/Backend.h"
#include "CompileTestUtil.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace rnnc {
namespace {

using testing::compileText;

const char *kModel = "model t { input x: f32[b, 6, 3]\n target y: f32[b, 1]\n"
                     " h = gru(x, hidden=9, layers=2, dropout=0.2, returns=\"last\")\n"
                     " p = dense(dropout(h, p=0.1), units=1)\n loss mse(p, y)\n"
                     " optimizer adam(lr=0.01)\n train { seed=5 clip=0.5 } }";

struct Data {
  std::vector<float> x, y;
  Data(int64_t rows, int seed) : x(rows * 18), y(rows) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-1, 1);
    for (float &v : x)
      v = uniform(rng);
    for (float &v : y)
      v = uniform(rng);
  }
};

bool sameParams(runtime::Model &model, rnnc_instance *a, rnnc_instance *b) {
  const int64_t n = model.info().param_elements;
  return std::memcmp(model.params(a), model.params(b), n * sizeof(float)) == 0 &&
         std::memcmp(model.optimizerState(a), model.optimizerState(b), 2 * n * sizeof(float)) == 0 &&
         model.stepsDone(a) == model.stepsDone(b);
}

TEST(DataParallel, ComputeThenApplyIsTheFusedStep) {
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
    auto model = compileText(kModel, kind);
    ASSERT_TRUE(model);
    for (int32_t threads : {1, 3}) {
      rnnc_instance *fused = model->create(10), *split = model->create(10);
      for (rnnc_instance *m : {fused, split}) {
        model->initParams(m, 5);
        ASSERT_EQ(model->setThreads(m, threads), RNNC_OK);
      }
      for (int step = 0; step < 4; ++step) {
        Data d(10, step);
        const void *inputs[] = {d.x.data()}, *targets[] = {d.y.data()};
        float fusedLoss, splitLoss;
        ASSERT_EQ(model->trainStep(fused, 10, inputs, targets, &fusedLoss), RNNC_OK);
        ASSERT_EQ(model->computeGradients(split, 10, inputs, targets, 0, &splitLoss), RNNC_OK);
        const int32_t count = model->gradientChunks(split);
        ASSERT_EQ(count, threads);
        std::vector<const float *> grads(count);
        std::vector<int64_t> rows(count);
        for (int32_t k = 0; k < count; ++k)
          grads[k] = model->chunkGradient(split, k, &rows[k], nullptr);
        ASSERT_EQ(model->applyGradients(split, count, grads.data(), rows.data()), RNNC_OK);
        EXPECT_EQ(std::memcmp(&fusedLoss, &splitLoss, sizeof(float)), 0);
        ASSERT_TRUE(sameParams(*model, fused, split))
            << plan::planKindName(kind) << ", " << threads << " threads, step " << step;
      }
      EXPECT_EQ(model->chunkGradient(split, 0, nullptr, nullptr), nullptr) << "no chunks after an update";
      model->destroy(fused);
      model->destroy(split);
    }
  }
}

// Ranks x threads against one process with ranks * threads threads; 10 rows
// in 4 or 6 chunks are uneven (3,3,2,2 / 2,2,2,2,1,1), and a last batch of 3
// rows leaves ranks without a chunk.
TEST(DataParallel, RanksOfChunksMatchOneProcess) {
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
    auto model = compileText(kModel, kind);
    ASSERT_TRUE(model);
    for (auto [ranks, threads] : {std::pair{2, 2}, std::pair{3, 2}, std::pair{3, 1}}) {
      const int32_t chunksTotal = ranks * threads;
      rnnc_instance *single = model->create(10);
      model->initParams(single, 7);
      ASSERT_EQ(model->setThreads(single, chunksTotal), RNNC_OK);
      std::vector<rnnc_instance *> rank(ranks);
      for (rnnc_instance *&m : rank) {
        m = model->create(10);
        model->initParams(m, 7);
        ASSERT_EQ(model->setThreads(m, threads), RNNC_OK);
      }
      for (int step = 0; step < 4; ++step) {
        const int64_t batch = step == 3 ? 3 : 10;
        Data d(batch, 10 + step);
        const void *inputs[] = {d.x.data()}, *targets[] = {d.y.data()};
        float loss;
        ASSERT_EQ(model->trainStep(single, batch, inputs, targets, &loss), RNNC_OK);
        // Global chunk k has batch / C rows, one more for k < batch % C
        // (C = min(batch, chunks)); rank r runs chunks r*T .. r*T+T-1.
        const int64_t c = std::min<int64_t>(batch, chunksTotal);
        std::vector<const float *> grads;
        std::vector<int64_t> rows;
        std::vector<std::vector<float>> copies;
        int64_t row = 0;
        for (int32_t r = 0; r < ranks; ++r) {
          int64_t mine = 0;
          for (int64_t k = r * threads; k < std::min<int64_t>(c, (r + 1) * threads); ++k)
            mine += batch / c + (k < batch % c);
          if (mine == 0)
            continue;
          const void *in[] = {d.x.data() + row * 18}, *tg[] = {d.y.data() + row};
          ASSERT_EQ(model->computeGradients(rank[r], mine, in, tg, r * threads, nullptr), RNNC_OK);
          for (int32_t k = 0; k < model->gradientChunks(rank[r]); ++k) {
            int64_t n;
            const float *g = model->chunkGradient(rank[r], k, &n, nullptr);
            copies.emplace_back(g, g + model->info().param_elements);
            rows.push_back(n);
          }
          row += mine;
        }
        ASSERT_EQ(row, batch);
        for (auto &g : copies)
          grads.push_back(g.data());
        for (rnnc_instance *m : rank)
          ASSERT_EQ(model->applyGradients(m, (int32_t)grads.size(), grads.data(), rows.data()), RNNC_OK);
        for (int32_t r = 0; r < ranks; ++r)
          ASSERT_TRUE(sameParams(*model, single, rank[r]))
              << plan::planKindName(kind) << ", " << ranks << " x " << threads << ", rank " << r << ", step " << step;
      }
      model->destroy(single);
      for (rnnc_instance *m : rank)
        model->destroy(m);
    }
  }
}

} // namespace
} // namespace rnnc
