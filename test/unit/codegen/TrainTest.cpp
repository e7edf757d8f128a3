//===- TrainTest.cpp - Training steps against the reference ---------------===//
//
// The symbolic plan's train step: its loss and gradients against the
// reference gradient graph (same dropout masks), one Adam / SGD step against
// a plain implementation of torch.optim's update, and convergence on a small
// synthetic task.
//===----------------------------------------------------------------------===//
#include "compiler/driver/Backend.h"
#include "compiler/passes/Autodiff.h"
#include "compiler/reference/Reference.h"
#include "runtime/loader/Loader.h"
#include "LowerTestUtil.h"

#include <gtest/gtest.h>

#include <cstring>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <xmmintrin.h>
#include <sstream>

namespace rnnc {
namespace {

using reference::Tensor;

struct Fixture {
  ir::Graph graph;     // with its gradient graph
  std::unique_ptr<runtime::Model> model;
  rnnc_instance *instance = nullptr;
  std::map<std::string, Tensor> feeds;
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<int32_t>> ints;
  std::vector<const void *> inputs, targets;
  ~Fixture() {
    if (instance)
      model->destroy(instance);
  }
};

/// Compiles `text` (symbolic plan, JIT), makes a random batch, and copies the
/// initialized parameters into the reference feeds.
std::unique_ptr<Fixture> setUpWith(const std::string &text, int64_t batch, uint64_t seed, const plan::PlanOptions &plan,
                                   double targetScale = 1, const std::string &targetCpu = "host") {
  auto lowered = testing::lowerText(text);
  EXPECT_TRUE(lowered.graph) << lowered.diagnostics;
  if (!lowered.graph)
    return nullptr;
  auto fx = std::make_unique<Fixture>();
  fx->graph = *lowered.graph;
  BackendOptions options;
  options.plan = plan;
  options.targetCpu = targetCpu;
  std::string error;
  std::shared_ptr<codegen::JitModel> jit = compileForJit(fx->graph, options, error);
  EXPECT_TRUE(jit) << error;
  fx->model = jit ? runtime::openBinding(jit->binding(), jit) : nullptr;
  if (!fx->model)
    return nullptr;
  differentiate(fx->graph);
  fx->instance = fx->model->create(batch);
  fx->model->initParams(fx->instance, seed);
  const rnnc_model_info &info = fx->model->info();
  EXPECT_EQ(info.train.has_train_step, 1);
  std::mt19937_64 rng(seed);
  auto feed = [&](const rnnc_tensor_desc &d, bool target) {
    std::vector<int64_t> shape = {batch};
    for (int32_t k = 1; k < d.rank; ++k)
      shape.push_back(d.dims[k]);
    Tensor t(shape);
    std::uniform_real_distribution<float> uniform(-1, 1);
    for (double &v : t.data)
      v = d.dtype == RNNC_I32 ? static_cast<double>(rng() % std::max<int64_t>(d.offset, 2))
                              : static_cast<double>(static_cast<float>(uniform(rng) * (target ? targetScale : 1)));
    if (d.offset < 0) // sequence lengths in [1, T]: T, 1 and others mixed in one batch
      for (int64_t b = 0; b < batch; ++b)
        t.data[b] = static_cast<double>(b % 4 == 0 ? -d.offset : b % 4 == 1 ? 1 : 1 + (b * 7) % -d.offset);
    fx->floats.emplace_back(t.data.begin(), t.data.end());
    fx->ints.emplace_back(t.data.begin(), t.data.end());
    const void *pointer = d.dtype == RNNC_I32 ? static_cast<const void *>(fx->ints.back().data()) : fx->floats.back().data();
    (target ? fx->targets : fx->inputs).push_back(pointer);
    fx->feeds[d.name] = t;
  };
  fx->floats.reserve(16);
  fx->ints.reserve(16);
  for (int32_t i = 0; i < info.num_inputs; ++i)
    feed(info.inputs[i], false);
  for (int32_t i = 0; i < info.train.num_targets; ++i)
    feed(info.train.targets[i], true);
  const float *params = fx->model->params(fx->instance);
  for (int32_t k = 0; k < info.num_params; ++k) {
    const rnnc_tensor_desc &d = info.params[k];
    Tensor t(std::vector<int64_t>(d.dims, d.dims + d.rank));
    for (int64_t e = 0; e < t.size(); ++e)
      t.data[e] = params[d.offset + e];
    fx->feeds[d.name] = t;
  }
  return fx;
}

std::unique_ptr<Fixture> setUp(const std::string &text, int64_t batch, uint64_t seed,
                               plan::PlanKind kind = plan::PlanKind::Symbolic, double targetScale = 1) {
  plan::PlanOptions plan;
  plan.kind = kind;
  return setUpWith(text, batch, seed, plan, targetScale);
}

void checkTrainStepWith(const std::string &text, int64_t batch, const plan::PlanOptions &plan, int32_t threads = 1,
                        const std::string &targetCpu = "host");
/// The loss and every gradient of the step just run against the reference.
void expectReferenceGradients(Fixture &fx, float loss, const std::string &text, int32_t threads = 1);
void checkTrainStepOf(const std::string &text, int64_t batch, plan::PlanKind kind, int32_t threads = 1) {
  plan::PlanOptions options;
  options.kind = kind;
  checkTrainStepWith(text, batch, options, threads);
}

/// One train step compared with the reference: the loss, and every gradient
/// within 1e-4 of the largest gradient of its tensor (float sums over the
/// batch and time against double).
void checkTrainStep(const std::string &text, int64_t batch) {
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
    SCOPED_TRACE(plan::planKindName(kind));
    checkTrainStepOf(text, batch, kind);
  }
}

void checkTrainStepWith(const std::string &text, int64_t batch, const plan::PlanOptions &plan, int32_t threads,
                        const std::string &targetCpu) {
  auto fx = setUpWith(text, batch, 5, plan, 1, targetCpu);
  ASSERT_TRUE(fx);
  ASSERT_EQ(fx->model->setThreads(fx->instance, threads), RNNC_OK);
  float loss = NAN;
  ASSERT_EQ(fx->model->trainStep(fx->instance, batch, fx->inputs.data(), fx->targets.data(), &loss), RNNC_OK);
  expectReferenceGradients(*fx, loss, text, threads);
}

void expectReferenceGradients(Fixture &fx0, float loss, const std::string &text, int32_t threads) {
  Fixture *fx = &fx0;
  const rnnc_model_info &info = fx->model->info();
  std::vector<Tensor> want = reference::evaluate(fx->graph, fx->feeds, {true, info.train.seed, 0});
  const double wantLoss = want[*fx->graph.loss].data[0];
  EXPECT_NEAR(loss, wantLoss, 1e-5 * std::max(1.0, std::fabs(wantLoss))) << text;
  const float *grads = fx->model->gradients(fx->instance);
  std::map<std::string, int64_t> offsets;
  for (int32_t k = 0; k < info.num_params; ++k)
    offsets[info.params[k].name] = info.params[k].offset;
  for (const auto &[param, grad] : fx->graph.gradients) {
    const Tensor &g = want[grad];
    double scale = 1e-3;
    for (double v : g.data)
      scale = std::max(scale, std::fabs(v));
    const int64_t offset = offsets[fx->graph.op(param).name];
    for (int64_t e = 0; e < g.size(); ++e)
      ASSERT_NEAR(grads[offset + e], g.data[e], 1e-4 * scale)
          << fx->graph.op(param).name << "[" << e << "] with " << threads << " threads in\n" << text;
  }
}

TEST(Training, GradientsOfEveryLossAndLayer) {
  checkTrainStep("model m { input x: f32[b, 4]\n target y: f32[b]\n p = dense(x, units=1)\n loss mse(p, y) }", 5);
  checkTrainStep("model m { input x: f32[b, 4]\n target y: f32[b, 3]\n p = dense(x, units=3, activation=\"tanh\")\n loss mae(p, y) }", 5);
  checkTrainStep("model m { input x: f32[b, 6]\n target y: i32[b] classes 4\n"
                 " h = dense(x, units=5, activation=\"relu\")\n p = dense(h, units=4)\n loss softmax_cross_entropy(p, y) }", 7);
  checkTrainStep("model m { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n"
                 " h = lstm(x, hidden=6, layers=2, bidirectional=true, dropout=0.3, returns=\"last\")\n"
                 " p = dense(dropout(h, p=0.2), units=2, activation=\"sigmoid\")\n loss bce_with_logits(p, y) }", 3);
  checkTrainStep("model m { input x: f32[b, 5, 3]\n target y: f32[b, 5, 37]\n"
                 " h = gru(x, hidden=37, bidirectional=true)\n p = dense(h, units=37)\n loss mse(p, y) }", 2);
  checkTrainStep("model m { input ids: i32[b, 6]\n target y: i32[b] classes 2\n"
                 " e = embedding(ids, vocab=9, dim=4)\n h = lstm(e, hidden=17, layers=2, bidirectional=true)\n"
                 " out = dense(concat(first(h), last(softmax(h))), units=2)\n loss softmax_cross_entropy(out, y) }", 4);
  checkTrainStep("model m { input x: f32[b, 6, 3]\n target y: f32[b, 2]\n"
                 " h = gru(x, hidden=17, bidirectional=true)\n"
                 " p = dense(concat(mean(h), max(h), max(x)), units=2)\n loss mse(p, y) }", 5);
  checkTrainStep("model m { input x: f32[b, 6, 3]\n target y: i32[b] classes 3\n"
                 " h = lstm(x, hidden=9, layers=2)\n"
                 " p = dense(concat(max(tanh(dense(h, units=37))), mean(h)), units=3)\n loss softmax_cross_entropy(p, y) }", 3);
}

TEST(Training, SequenceLengths) {
  // Mixed lengths in one batch (T, 1 and others): both plans' gradients
  // against the reference.
  for (const char *cell : {"lstm", "gru"})
    for (const auto &[text, batch] : testing::lengthsModels(cell, 17))
      checkTrainStep(text, batch);
}

/// The imperative plan's gradient products through the tiled product
/// generator, one kernel per shape: the input gradients (MatMulNN, rows from
/// the batch) and the weight gradients (MatMulTN, summing over the rows) of
/// odd sizes, with 16, 8 and 4 floats per vector.
TEST(Training, ImperativeGradientProductsOfOddShapesAtEveryVectorWidth) {
  const std::string text = "model m { input x: f32[b, 5, 9]\n target y: f32[b, 5, 3]\n"
                           " h = lstm(x, hidden=13)\n d = dense(h, units=67, activation=\"tanh\")\n"
                           " p = dense(d, units=3)\n loss mse(p, y) }";
  plan::PlanOptions imperative;
  imperative.kind = plan::PlanKind::Imperative;
  for (const char *cpu : {"host", "x86-64-v3", "x86-64-v2"}) {
    SCOPED_TRACE(cpu);
    checkTrainStepWith(text, 7, imperative, 1, cpu);
  }
}

/// With lengths, the products over the B*T rows of a layer's gradients
/// (dX, dW_ih, dW_hh, the bias sums) skip the pad steps: the gradients are
/// those of the computation over every row bit for bit, and the reference's.
/// Lengths 1 and T, around the 64-row blocks of dense_grad_weight and the
/// 6- and 2-row register tiles, on AVX-512 (host) and AVX2 tiles; the layer's
/// dy from last() or from mean() and max() over each sample's steps.
TEST(Training, PadRowsSkippedBitForBit) {
  const int64_t T = 70;
  const std::vector<int32_t> lengths = {70, 1, 65, 64, 7, 63, 13, 2, 69};
  const int64_t batch = static_cast<int64_t>(lengths.size());
  for (const char *cpu : {"host", "x86-64-v3"})
  for (const char *cell : {"lstm", "gru"})
  for (int variant = 0; variant < 3; ++variant) {
    const std::string c = cell, steps = std::to_string(T);
    const std::string text =
        variant == 0 ? "model m { input x: f32[b, " + steps + ", 5]\n input lengths: i32[b]\n target y: f32[b, 2]\n"
                       " h = " + c + "(x, hidden=9, layers=2, bidirectional=true, returns=\"last\", lengths=lengths)\n"
                       " p = dense(h, units=2)\n loss mse(p, y) }"
                     : "model m { input ids: i32[b, " + steps + "]\n input lengths: i32[b]\n target y: i32[b] classes 2\n"
                       " e = embedding(ids, vocab=11, dim=17)\n h = " + c + "(e, hidden=6" +
                           (variant == 2 ? ", bidirectional=true" : "") + ", lengths=lengths)\n" +
                           (variant == 1 ? " out = dense(concat(first(h), last(h)), units=2)\n"
                                         : " out = dense(concat(mean(h), max(h)), units=2)\n") +
                           " loss softmax_cross_entropy(out, y) }";
    SCOPED_TRACE(std::string(cpu) + ": " + text);
    std::vector<float> grads[2];
    float losses[2] = {NAN, NAN};
    for (int skip = 0; skip < 2; ++skip) {
      plan::PlanOptions options;
      options.skipPadRows = skip == 1;
      auto fx = setUpWith(text, batch, 5, options, 1, cpu);
      ASSERT_TRUE(fx);
      const rnnc_model_info &info = fx->model->info();
      for (int32_t i = 0; i < info.num_inputs; ++i)
        if (info.inputs[i].offset < 0) { // the lengths input
          for (int64_t b = 0; b < batch; ++b)
            fx->ints[i][b] = lengths[b], fx->feeds[info.inputs[i].name].data[b] = lengths[b];
        }
      ASSERT_EQ(fx->model->trainStep(fx->instance, batch, fx->inputs.data(), fx->targets.data(), &losses[skip]), RNNC_OK);
      const float *g = fx->model->gradients(fx->instance);
      grads[skip].assign(g, g + info.param_elements);
      if (skip == 1)
        expectReferenceGradients(*fx, losses[skip], text);
    }
    EXPECT_EQ(std::memcmp(&losses[0], &losses[1], sizeof(float)), 0);
    ASSERT_EQ(grads[0].size(), grads[1].size());
    for (size_t k = 0; k < grads[0].size(); ++k)
      ASSERT_EQ(std::memcmp(&grads[0][k], &grads[1][k], sizeof(float)), 0)
          << "gradient element " << k << ": " << grads[0][k] << " (every row) vs " << grads[1][k] << " (real rows)";
  }
}

TEST(Training, SeedModelsAtSmallBatches) {
  for (const char *name : {"etth1_lstm.rnn", "etth1_gru.rnn"}) {
    std::ifstream in(std::string(RNNC_MODELS_DIR) + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    checkTrainStep(text.str(), 3);
  }
}

/// Both plans keep the weights packed (transposed) in the instance, written
/// when the parameters change: after updates, an instance's forward pass and
/// gradients equal, bit for bit, those of a fresh instance given the updated
/// parameters (a stale packed weight would keep the old outputs), on 1 and 2
/// threads.
TEST(Training, PackedWeightsFollowEveryUpdate) {
  const std::string text = "model m { input x: f32[b, 5, 4]\n target y: f32[b, 3]\n"
                           " h = lstm(x, hidden=7, returns=\"last\")\n p = dense(h, units=3)\n loss mse(p, y) }";
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative})
    for (int32_t threads : {1, 2}) {
      SCOPED_TRACE(std::string(plan::planKindName(kind)) + ", threads " + std::to_string(threads));
      auto fx = setUp(text, 4, 21, kind);
      ASSERT_TRUE(fx);
      const rnnc_model_info &info = fx->model->info();
      ASSERT_EQ(fx->model->setThreads(fx->instance, threads), RNNC_OK);
      auto run = [&](rnnc_instance *instance, std::vector<float> &y, std::vector<float> &grads) {
        y.assign(4 * 3, 0);
        float *outputs[] = {y.data()};
        ASSERT_EQ(fx->model->forward(instance, 4, fx->inputs.data(), outputs), RNNC_OK);
        float loss = 0;
        ASSERT_EQ(fx->model->computeGradients(instance, 4, fx->inputs.data(), fx->targets.data(), 0, &loss), RNNC_OK);
        grads.clear();
        for (int32_t c = 0; c < fx->model->gradientChunks(instance); ++c) {
          int64_t rows = 0;
          const float *g = fx->model->chunkGradient(instance, c, &rows, &loss);
          ASSERT_TRUE(g);
          grads.insert(grads.end(), g, g + info.param_elements);
        }
      };
      std::vector<float> y0, g0, y1, g1, y2, g2;
      run(fx->instance, y0, g0);
      float loss;
      for (int step = 0; step < 2; ++step)
        ASSERT_EQ(fx->model->trainStep(fx->instance, 4, fx->inputs.data(), fx->targets.data(), &loss), RNNC_OK);
      run(fx->instance, y1, g1);
      EXPECT_NE(y0, y1) << "the updates changed the outputs";
      rnnc_instance *fresh = fx->model->create(4);
      ASSERT_TRUE(fresh);
      ASSERT_EQ(fx->model->setThreads(fresh, threads), RNNC_OK);
      std::memcpy(fx->model->params(fresh), fx->model->params(fx->instance), info.param_elements * sizeof(float));
      fx->model->paramsChanged(fresh);
      run(fresh, y2, g2);
      fx->model->destroy(fresh);
      EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)), 0) << "forward after the updates";
      ASSERT_EQ(g1.size(), g2.size());
      EXPECT_EQ(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)), 0) << "gradients after the updates";
    }
}

/// The update of torch.optim.Adam and SGD, in double.
TEST(Training, OneOptimizerStepMatchesTorchSemantics) {
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative})
  for (const char *optimizer : {"adam(lr=0.01, weight_decay=0.1)", "sgd(lr=0.1, momentum=0.9, nesterov=true)"}) {
    const std::string text = std::string("model m { input x: f32[b, 3]\n target y: f32[b, 2]\n p = dense(x, units=2)\n"
                                         " loss mse(p, y)\n optimizer ") + optimizer + "\n train { clip=0.5 } }";
    auto fx = setUp(text, 4, 9, kind);
    ASSERT_TRUE(fx);
    const rnnc_model_info &info = fx->model->info();
    std::vector<float> before(fx->model->params(fx->instance), fx->model->params(fx->instance) + info.param_elements);
    for (int step = 1; step <= 2; ++step) {
      std::vector<double> params(before.begin(), before.end());
      float loss;
      ASSERT_EQ(fx->model->trainStep(fx->instance, 4, fx->inputs.data(), fx->targets.data(), &loss), RNNC_OK);
      const float *g = fx->model->gradients(fx->instance);
      // The gradient the step used (after clipping) and torch's update.
      double norm = 0;
      for (int64_t i = 0; i < info.param_elements; ++i)
        norm += double(g[i]) * g[i];
      norm = std::sqrt(norm);
      const double clip = norm > 0.5 ? 0.5 / (norm + 1e-6) : 1.0;
      const float *after = fx->model->params(fx->instance);
      static std::vector<double> m, v;
      if (step == 1)
        m.assign(info.param_elements, 0), v.assign(info.param_elements, 0);
      for (int64_t i = 0; i < info.param_elements; ++i) {
        double grad = g[i] * clip, p = before[i];
        if (info.train.optimizer == RNNC_OPT_ADAM) {
          grad += 0.1 * p;
          m[i] = 0.9 * m[i] + 0.1 * grad;
          v[i] = 0.999 * v[i] + 0.001 * grad * grad;
          const double mHat = m[i] / (1 - std::pow(0.9, step)), vHat = v[i] / (1 - std::pow(0.999, step));
          p -= 0.01 * mHat / (std::sqrt(vHat) + 1e-8);
        } else {
          m[i] = step == 1 ? grad : 0.9 * m[i] + grad;
          p -= 0.1 * (grad + 0.9 * m[i]);
        }
        ASSERT_NEAR(after[i], p, 1e-6 * std::max(1.0, std::fabs(p))) << optimizer << " step " << step << " [" << i << "]";
      }
      before.assign(after, after + info.param_elements);
    }
  }
}

TEST(Training, ConvergesOnASyntheticSequenceTask) {
  // Predict the mean of each sequence's first feature: loss must fall well
  // below its starting value.
  const std::string text = "model m { input x: f32[b, 8, 2]\n target y: f32[b]\n"
                           " h = gru(x, hidden=16, returns=\"last\")\n p = dense(h, units=1)\n loss mse(p, y)\n"
                           " optimizer adam(lr=0.02)\n train { seed=3 } }";
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
  SCOPED_TRACE(plan::planKindName(kind));
  auto fx = setUp(text, 32, 2, kind);
  ASSERT_TRUE(fx);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> x(32 * 8 * 2), y(32);
  const void *inputs[] = {x.data()}, *targets[] = {y.data()};
  float first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    for (int b = 0; b < 32; ++b) {
      float sum = 0;
      for (int t = 0; t < 8; ++t) {
        x[(b * 8 + t) * 2] = uniform(rng);
        x[(b * 8 + t) * 2 + 1] = uniform(rng);
        sum += x[(b * 8 + t) * 2];
      }
      y[b] = sum / 8;
    }
    float loss;
    ASSERT_EQ(fx->model->trainStep(fx->instance, 32, inputs, targets, &loss), RNNC_OK);
    (step == 0 ? first : last) = loss;
  }
  EXPECT_LT(last, 0.1 * first) << "first loss " << first << ", last " << last;
  EXPECT_LT(last, 0.01);
  }
}

/// The reference's gradients of the loss at the fixture's current feeds, as
/// one vector in the runtime's parameter order; and their global norm.
std::vector<double> referenceGradients(Fixture &fx, double *norm) {
  const rnnc_model_info &info = fx.model->info();
  std::vector<Tensor> want = reference::evaluate(fx.graph, fx.feeds, {true, info.train.seed, 0});
  std::map<std::string, int64_t> offsets;
  for (int32_t k = 0; k < info.num_params; ++k)
    offsets[info.params[k].name] = info.params[k].offset;
  std::vector<double> grads(info.param_elements, 0.0);
  double total = 0;
  for (const auto &[param, grad] : fx.graph.gradients) {
    const int64_t offset = offsets[fx.graph.op(param).name];
    for (int64_t e = 0; e < want[grad].size(); ++e) {
      grads[offset + e] = want[grad].data[e];
      total += want[grad].data[e] * want[grad].data[e];
    }
  }
  *norm = std::sqrt(total);
  return grads;
}

/// Gradient clipping (torch.nn.utils.clip_grad_norm_) checked on the
/// parameters after one SGD step against the reference's gradients: the
/// global norm below the threshold (no clipping), between the threshold and
/// its square root (clipped for a threshold below 1, not clipped above 1: a
/// comparison with the squared norm gets both wrong), and above it; targets
/// scaled so that the norm is well below and well above 1.
TEST(Training, ClippingMatchesTheReference) {
  const std::string body = "model m { input x: f32[b, 4, 3]\n target y: f32[b, 2]\n"
                           " h = lstm(x, hidden=5, returns=\"last\")\n p = dense(h, units=2)\n loss mse(p, y)\n"
                           " optimizer sgd(lr=0.5)\n train { clip=";
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative})
  for (double targetScale : {0.05, 40.0})
  for (const char *relation : {"below", "between", "above"})
  for (int32_t threads : {1, 3}) {
    SCOPED_TRACE(std::string(plan::planKindName(kind)) + ", norm " + relation + " the threshold, target scale " +
                 std::to_string(targetScale) + ", " + std::to_string(threads) + " threads");
    // The norm does not depend on the threshold: find it with a placeholder.
    double norm = 0;
    {
      auto probe = setUp(body + "1.0 } }", 7, 11, kind, targetScale);
      ASSERT_TRUE(probe);
      referenceGradients(*probe, &norm);
    }
    if (targetScale < 1) {
      ASSERT_LT(norm, 0.5);
    } else {
      ASSERT_GT(norm, 2.0);
    }
    const double threshold = std::string(relation) == "below" ? 2 * norm
                             : std::string(relation) == "between" ? std::pow(norm, 1.5) : 0.5 * norm;
    std::ostringstream text;
    text.precision(17);
    text << body << threshold << " } }";
    auto fx = setUp(text.str(), 7, 11, kind, targetScale);
    ASSERT_TRUE(fx);
    ASSERT_EQ(fx->model->setThreads(fx->instance, threads), RNNC_OK);
    const rnnc_model_info &info = fx->model->info();
    const float clip = info.train.clip;
    std::vector<double> before(fx->model->params(fx->instance), fx->model->params(fx->instance) + info.param_elements);
    std::vector<double> grads = referenceGradients(*fx, &norm);
    const double scale = norm > clip ? clip / (norm + 1e-6) : 1.0;
    const bool clipped = std::string(relation) == "above" || (std::string(relation) == "between" && norm < 1);
    if (clipped)
      ASSERT_LT(scale, 0.95);
    else
      ASSERT_EQ(scale, 1.0);
    float loss;
    ASSERT_EQ(fx->model->trainStep(fx->instance, 7, fx->inputs.data(), fx->targets.data(), &loss), RNNC_OK);
    const float *after = fx->model->params(fx->instance);
    double largest = 0;
    for (double g : grads)
      largest = std::max(largest, std::fabs(g));
    for (int64_t i = 0; i < info.param_elements; ++i) {
      const double want = before[i] - 0.5 * scale * grads[i];
      ASSERT_NEAR(after[i], want, 1e-4 * 0.5 * scale * largest + 1e-6 * std::max(1.0, std::fabs(want)))
          << "[" << i << "] threshold " << clip << ", norm " << norm;
    }
  }
}

/// Several optimizer steps against torch.optim's update rules, written out
/// here in double from the gradient each step used (no clipping, so that is
/// the runtime's gradient buffer, which the tests above check against the
/// reference): Adam's bias correction changes every step, SGD's momentum
/// buffer starts at the first gradient.
TEST(Training, OptimizerStepsMatchTorchRules) {
  struct Case {
    const char *text;
    int kind; // 0 adam, 1 sgd
    double lr, wd, b1, b2, eps, mu;
    bool nesterov;
  };
  const Case cases[] = {
      {"adam(lr=0.01)", 0, 0.01, 0, 0.9, 0.999, 1e-8, 0, false},
      {"adam(lr=0.003, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=0.05)", 0, 0.003, 0.05, 0.8, 0.95, 1e-6, 0, false},
      {"sgd(lr=0.1)", 1, 0.1, 0, 0, 0, 0, 0, false},
      {"sgd(lr=0.05, momentum=0.8, weight_decay=0.01)", 1, 0.05, 0.01, 0, 0, 0, 0.8, false},
      {"sgd(lr=0.05, momentum=0.9, nesterov=true)", 1, 0.05, 0, 0, 0, 0, 0.9, true},
  };
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative})
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(plan::planKindName(kind)) + " " + c.text);
    const std::string text = std::string("model m { input x: f32[b, 3]\n target y: f32[b, 2]\n"
                                          " h = dense(x, units=4, activation=\"tanh\")\n p = dense(h, units=2)\n"
                                          " loss mse(p, y)\n optimizer ") + c.text + " }";
    auto fx = setUp(text, 5, 9, kind);
    ASSERT_TRUE(fx);
    const rnnc_model_info &info = fx->model->info();
    const int64_t n = info.param_elements;
    std::vector<double> p(fx->model->params(fx->instance), fx->model->params(fx->instance) + n), m(n, 0), v(n, 0);
    for (int step = 1; step <= 6; ++step) {
      float loss;
      ASSERT_EQ(fx->model->trainStep(fx->instance, 5, fx->inputs.data(), fx->targets.data(), &loss), RNNC_OK);
      const float *g = fx->model->gradients(fx->instance);
      const float *after = fx->model->params(fx->instance);
      for (int64_t i = 0; i < n; ++i) {
        double grad = double(g[i]) + c.wd * p[i];
        if (c.kind == 0) {
          m[i] = c.b1 * m[i] + (1 - c.b1) * grad;
          v[i] = c.b2 * v[i] + (1 - c.b2) * grad * grad;
          const double mHat = m[i] / (1 - std::pow(c.b1, step)), vHat = v[i] / (1 - std::pow(c.b2, step));
          p[i] -= c.lr * mHat / (std::sqrt(vHat) + c.eps);
        } else {
          if (c.mu != 0) {
            m[i] = step == 1 ? grad : c.mu * m[i] + grad;
            grad = c.nesterov ? grad + c.mu * m[i] : m[i];
          }
          p[i] -= c.lr * grad;
        }
        ASSERT_NEAR(after[i], p[i], 2e-6 * std::max(1.0, std::fabs(p[i]))) << "step " << step << " [" << i << "]";
      }
      // Carry on from the runtime's (float) parameters so rounding cannot build up.
      p.assign(after, after + n);
    }
  }
}

/// The reverse direction on its own terms: sequences of T >= 8 steps (an
/// off-by-one in its time index moves every step), forward outputs and every
/// gradient (the *_reverse parameters included) against the reference.
TEST(Training, ReverseDirectionOverLongSequences) {
  for (const char *cell : {"lstm", "gru"})
  for (const char *returns : {"sequence", "last"}) {
    const bool last = std::string(returns) == "last";
    const std::string text = std::string("model m { input x: f32[b, 9, 3]\n target y: f32[b") + (last ? "" : ", 9") +
                             ", 2]\n h = " + cell + "(x, hidden=6, bidirectional=true, returns=\"" + returns +
                             "\")\n p = dense(h, units=2)\n loss mse(p, y) }";
    checkTrainStep(text, 3);
    for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative}) {
      SCOPED_TRACE(std::string(plan::planKindName(kind)) + " forward of\n" + text);
      auto fx = setUp(text, 3, 6, kind);
      ASSERT_TRUE(fx);
      std::vector<Tensor> want = reference::evaluate(fx->graph, fx->feeds);
      const Tensor &out = want[*fx->graph.output];
      std::vector<float> y(out.size());
      float *outputs[] = {y.data()};
      ASSERT_EQ(fx->model->forward(fx->instance, 3, fx->inputs.data(), outputs), RNNC_OK);
      for (int64_t e = 0; e < out.size(); ++e)
        ASSERT_NEAR(y[e], out.data[e], 1e-5 * std::max(1.0, std::fabs(out.data[e]))) << "[" << e << "]";
    }
  }
}

/// The forward step keeps the gates and cell states for recurrent_grad
/// (docs/training.md) on every path of the forward kernel: blocks of rows
/// (6, 4, 2 and 1 rows with AVX-512, 2 and 1 with AVX2: batch 13), vector
/// and scalar hidden units (37), one row at a time (--no-hoist) and the
/// unfused cell (--no-fuse), without arena reuse (--no-memplan).
TEST(Training, EveryForwardPathKeepsWhatTheBackwardPassReads) {
  const std::string texts[] = {
      "model m { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n"
      " h = lstm(x, hidden=37, layers=2, bidirectional=true, returns=\"last\")\n p = dense(h, units=2)\n loss mse(p, y) }",
      "model m { input x: f32[b, 4, 3]\n target y: f32[b, 4, 2]\n"
      " h = gru(x, hidden=37, bidirectional=true)\n p = dense(h, units=2)\n loss mse(p, y) }",
  };
  for (int variant = 0; variant < 5; ++variant) {
    plan::PlanOptions options;
    options.fuseCells = variant != 1 && variant != 4;
    options.hoistInputProjection = variant != 2 && variant != 4;
    options.planMemory = variant != 3 && variant != 4;
    SCOPED_TRACE("fuse " + std::to_string(options.fuseCells) + ", hoist " + std::to_string(options.hoistInputProjection) +
                 ", memplan " + std::to_string(options.planMemory));
    for (const std::string &text : texts)
      checkTrainStepWith(text, 13, options);
  }
}

/// The packed product of dense_grad_weight on its edges, against the
/// reference: blocks of 64 rows and a partial one (3 x 47 = 141 rows),
/// register tiles of 6, 2 and 1 units (1, 13 = 6+6+1, 33 = 5x6+2+1), column
/// panels of 4, 2 and 1 vectors and scalar columns (widths 1, 17, 70, 112 =
/// 64+32+16, 130), with AVX-512 tiles (where the machine has them) and AVX2's.
TEST(Training, WeightGradientTilesAtEdgeShapes) {
  plan::PlanOptions options;
  for (const char *cpu : {"host", "x86-64-v3"})
  for (int width : {1, 17, 70, 112, 130})
  for (int units : {1, 13, 33}) {
    const std::string text = "model m { input x: f32[b, 47, " + std::to_string(width) + "]\n target y: f32[b, 47, " +
                             std::to_string(units) + "]\n p = dense(x, units=" + std::to_string(units) +
                             ")\n loss mse(p, y) }";
    SCOPED_TRACE(std::string(cpu) + ": " + text);
    checkTrainStepWith(text, 3, options, 1, cpu);
  }
}

/// Batches that do not divide evenly among the threads (7 rows on 2 and 3
/// threads: chunks of 4+3 and 3+2+2 rows): the step's gradient is the mean
/// over all rows, so each chunk's gradient must be weighted by its rows.
TEST(Training, UnevenThreadSplitsMatchTheReference) {
  const std::string texts[] = {
      "model m { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n"
      " h = lstm(x, hidden=7, bidirectional=true, returns=\"last\")\n p = dense(h, units=2)\n loss mse(p, y) }",
      "model m { input x: f32[b, 6]\n target y: i32[b] classes 3\n"
      " h = dense(x, units=5, activation=\"relu\")\n p = dense(h, units=3)\n loss softmax_cross_entropy(p, y) }",
  };
  for (const std::string &text : texts)
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative})
  for (int32_t threads : {2, 3}) {
    SCOPED_TRACE(std::string(plan::planKindName(kind)) + ", " + std::to_string(threads) + " threads");
    checkTrainStepOf(text, 7, kind, threads);
  }
}

/// The gradients live in the buffer the training program returns (written
/// there by the steps that make them, nothing zeroed or copied after them):
/// a second gradient computation into buffers filled with NaN gives the
/// same bits as the first, padding and parameters without a gradient 0,
/// on 1 and 2 threads (chunk 1 has a buffer of its own).
TEST(Training, GradientsOverwriteTheirWholeBuffer) {
  const std::string texts[] = {
      "model m { input x: f32[b, 1, 43]\n target y: f32[b, 1]\n h = lstm(x, hidden=64)\n d1 = dense(h, units=1)\n"
      " drop = dropout(d1, p=0.3)\n p = dense(drop, units=1)\n loss mse(p, y) }",
      "model m { input ids: i32[b, 5]\n target y: i32[b] classes 3\n e = embedding(ids, vocab=11, dim=6)\n"
      " h = gru(e, hidden=7, bidirectional=true, returns=\"last\")\n p = dense(h, units=3)\n loss softmax_cross_entropy(p, y) }",
  };
  for (const std::string &text : texts)
  for (int32_t threads : {1, 2}) {
    SCOPED_TRACE(text + " on " + std::to_string(threads) + " threads");
    auto fx = setUp(text, 5, 3);
    ASSERT_TRUE(fx);
    ASSERT_EQ(fx->model->setThreads(fx->instance, threads), RNNC_OK);
    const rnnc_model_info &info = fx->model->info();
    std::vector<bool> inTensor(info.param_elements, false);
    for (int32_t k = 0; k < info.num_params; ++k) {
      int64_t n = 1;
      for (int32_t d = 0; d < info.params[k].rank; ++d)
        n *= info.params[k].dims[d];
      for (int64_t e = 0; e < n; ++e)
        inTensor[info.params[k].offset + e] = true;
    }
    std::vector<std::vector<float>> first;
    for (int round = 0; round < 2; ++round) {
      float loss;
      ASSERT_EQ(fx->model->computeGradients(fx->instance, 5, fx->inputs.data(), fx->targets.data(), 0, &loss), RNNC_OK);
      const int32_t chunks = fx->model->gradientChunks(fx->instance);
      ASSERT_EQ(chunks, threads);
      for (int32_t k = 0; k < chunks; ++k) {
        int64_t rows;
        float *g = const_cast<float *>(fx->model->chunkGradient(fx->instance, k, &rows, nullptr));
        ASSERT_TRUE(g);
        if (round == 0) {
          first.emplace_back(g, g + info.param_elements);
          for (int64_t i = 0; i < info.param_elements; ++i)
            if (!inTensor[i])
              ASSERT_EQ(g[i], 0.0f) << "padding [" << i << "] of chunk " << k;
          std::fill(g, g + info.param_elements, NAN); // what the next computation must overwrite
        } else {
          ASSERT_EQ(std::memcmp(g, first[k].data(), info.param_elements * sizeof(float)), 0) << "chunk " << k;
        }
      }
    }
  }
}

/// The symbolic plan's Adam step writes the parameters and, in the same
/// pass, their packed layout: after each of three steps (weight decay,
/// clipping) every parameter and moment is what the runtime's own Adam
/// (runtime/modelrt/optimizer.c, the same operations in float) gives, bit
/// for bit, and a forward pass reads the same packed weights as one after
/// rnnc_params_changed. Weights with sides shorter than, equal to and
/// longer than a register tile, AVX-512 and AVX2.
/// W_hh^T above 1 MiB, packed in panels (plan::PackedParam::panel): the
/// training forward pass keeps its workspace panel by panel, and the
/// gradients match the reference (symbolic, AVX-512 and AVX2).
TEST(Training, RecurrentWeightsInPanels) {
  for (const char *cpu : {"host", "x86-64-v3"})
    for (const char *layer : {"lstm(x, hidden=320", "gru(x, hidden=336, bidirectional=true"}) {
      const std::string text = "model m { input x: f32[b, 3, 5]\n target y: f32[b, 2]\n h = " + std::string(layer) +
                               ")\n p = dense(concat(first(h), last(h)), units=2)\n loss mse(p, y)\n optimizer sgd(lr=0.1) }";
      SCOPED_TRACE(std::string(cpu) + ": " + text);
      checkTrainStepWith(text, 7, {}, 1, cpu);
    }
}

/// recurrent_grad's gate gradients (GRU's two halves, LSTM's one buffer) go
/// to memory by streaming stores (AVX-512, hidden a multiple of 16, no
/// lengths): they are weakly ordered and need 64-byte aligned addresses. The gradients match the reference on
/// 1 and 2 threads (the dense_grad ops after the recurrence may run on the
/// other thread, the two directions at once), at a batch that splits
/// unevenly and at batch 1, in a stacked bidirectional layer and a single one.
TEST(Training, StreamedGateGradientsMatchTheReference) {
  // The dz W_hh product reads the kernel's contiguous copy of the step's
  // hidden-side half, not the streamed result.
  for (const char *cell : {"gru", "lstm"})
    for (const char *layers : {"h = CELL(x, hidden=32, bidirectional=true)\n",
                               "h1 = CELL(x, hidden=16, bidirectional=true)\n h = CELL(h1, hidden=48)\n"})
      for (int32_t threads : {1, 2})
        for (int64_t batch : {1, 5}) {
          std::string stack = layers;
          for (size_t at; (at = stack.find("CELL")) != std::string::npos;)
            stack.replace(at, 4, cell);
          const std::string text = "model m { input x: f32[b, 4, 3]\n target y: f32[b, 2]\n " + stack +
                                   " p = dense(concat(first(h), last(h)), units=2)\n loss mse(p, y)\n optimizer sgd(lr=0.1) }";
          SCOPED_TRACE(std::to_string(threads) + " threads, batch " + std::to_string(batch) + ": " + text);
          checkTrainStepWith(text, batch, {}, threads, "host");
        }
}

TEST(Training, AdamStepPacksAsItUpdates) {
  const std::string texts[] = {
      "model m { input x: f32[b, 2, 43]\n target y: f32[b, 1]\n h = lstm(x, hidden=20, returns=\"last\")\n"
      " d = dense(h, units=17)\n p = dense(d, units=1)\n loss mse(p, y)\n optimizer adam(lr=0.01, weight_decay=0.1)\n"
      " train { clip=0.05 } }",
      "model m { input ids: i32[b, 3]\n target y: i32[b] classes 3\n e = embedding(ids, vocab=11, dim=16)\n"
      " h = gru(e, hidden=7, bidirectional=true, returns=\"last\")\n p = dense(h, units=3)\n"
      " loss softmax_cross_entropy(p, y)\n optimizer adam(lr=0.01, beta2=0.95, eps=1e-6) }",
      // W_hh^T in panels (hidden 320: panels of 48 units and a last one of 32)
      "model m { input x: f32[b, 2, 5]\n target y: f32[b, 1]\n h = lstm(x, hidden=320, returns=\"last\")\n"
      " p = dense(h, units=1)\n loss mse(p, y)\n optimizer adam(lr=0.01) }",
  };
  // The imperative plan updates with the runtime's C loop (optimizer.c),
  // the symbolic plan with its generated __rnnc_adam_update: both against
  // torch's formula with its two divisions, bit for bit.
  for (plan::PlanKind kind : {plan::PlanKind::Symbolic, plan::PlanKind::Imperative})
  for (const char *cpu : {"host", "x86-64-v3"})
  for (const std::string &text : texts) {
    plan::PlanOptions options;
    options.kind = kind;
    SCOPED_TRACE(std::string(plan::planKindName(kind)) + " " + cpu + ": " + text);
    auto fx = setUpWith(text, 3, 4, options, 1, cpu);
    ASSERT_TRUE(fx);
    const rnnc_model_info &info = fx->model->info();
    const int64_t n = info.param_elements;
    const rnnc_train_info &t = info.train;
    for (int step = 1; step <= 4; ++step) {
      std::vector<float> p(fx->model->params(fx->instance), fx->model->params(fx->instance) + n);
      const float *state = fx->model->optimizerState(fx->instance);
      std::vector<float> m(state, state + n), v(state + n, state + 2 * n);
      float loss;
      ASSERT_EQ(fx->model->trainStep(fx->instance, 3, fx->inputs.data(), fx->targets.data(), &loss), RNNC_OK);
      const float *g = fx->model->gradients(fx->instance); // after clipping
      const float b1 = t.beta1, b2 = t.beta2, eps = t.eps, wd = t.weight_decay;
      const float c1 = (float)(1.0 - std::pow(b1, (double)step)), c2 = (float)(1.0 - std::pow(b2, (double)step));
      const float stepSize = fx->model->info().train.lr / c1, rootC2 = std::sqrt(c2);
      const unsigned mode = _mm_getcsr();
      _mm_setcsr(mode | 0x8040u); // as the runtime runs it
      for (int64_t i = 0; i < n; ++i) {
        const float grad = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * grad;
        v[i] = b2 * v[i] + (1 - b2) * grad * grad;
        p[i] -= stepSize * m[i] / (std::sqrt(v[i]) / rootC2 + eps);
      }
      _mm_setcsr(mode);
      const float *after = fx->model->params(fx->instance);
      state = fx->model->optimizerState(fx->instance);
      ASSERT_EQ(std::memcmp(after, p.data(), n * sizeof(float)), 0) << "parameters after step " << step;
      ASSERT_EQ(std::memcmp(state, m.data(), n * sizeof(float)), 0) << "first moments after step " << step;
      ASSERT_EQ(std::memcmp(state + n, v.data(), n * sizeof(float)), 0) << "second moments after step " << step;
      // The packed layout: a forward pass here and on an instance packed by
      // rnnc_params_changed from the same parameters.
      rnnc_instance *other = fx->model->create(3);
      ASSERT_TRUE(other);
      std::copy(after, after + n, fx->model->params(other));
      fx->model->paramsChanged(other);
      int64_t outputs = 3;
      for (int32_t r = 1; r < info.outputs[0].rank; ++r)
        outputs *= info.outputs[0].dims[r];
      std::vector<float> mine(outputs), theirs(outputs);
      float *mineOut[] = {mine.data()}, *theirsOut[] = {theirs.data()};
      ASSERT_EQ(fx->model->forward(fx->instance, 3, fx->inputs.data(), mineOut), RNNC_OK);
      ASSERT_EQ(fx->model->forward(other, 3, fx->inputs.data(), theirsOut), RNNC_OK);
      fx->model->destroy(other);
      ASSERT_EQ(std::memcmp(mine.data(), theirs.data(), outputs * sizeof(float)), 0) << "forward after step " << step;
    }
  }
}

/// Adam divides sqrt(v) by sqrt(1 - b2^t) as a product by the reciprocal in
/// double, rounded once to float (optimizer.c, SymbolicPacking.cpp). The
/// claim (docs/training.md, "Adam"): that is always the correctly rounded
/// quotient, as a quotient of two floats never lies within 2^-49 (relative)
/// of a midpoint between floats while the product in double is within 2^-52.
/// Checked for every significand of sqrt(v) against the divisors of real
/// schedules (the result scales exactly with sqrt(v)'s exponent), and on
/// random pairs over the whole exponent range, under FTZ/DAZ as the runtime
/// runs. A float reciprocal, by contrast, changes results: the check can fail.
TEST(Training, AdamDivisionByTheBiasCorrectionIsAnExactProduct) {
  std::vector<float> divisors;
  for (double b2 : {0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999})
    for (int step : {1, 2, 3, 7, 10, 100, 1000, 1077, 10000, 100000})
      divisors.push_back(std::sqrt((float)(1.0 - std::pow((float)b2, (double)step))));
  const unsigned mode = _mm_getcsr();
  _mm_setcsr(mode | 0x8040u);
  auto fromBits = [](uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  };
  auto product = [](float a, float divisor) { return (float)((double)a * (1.0 / (double)divisor)); };
  int64_t floatReciprocalDiffers = 0, checked = 0, wrong = 0;
  // Every significand of [1, 2) for a spread of the divisors.
  for (size_t d = 0; d < divisors.size(); d += 7) {
    const float divisor = divisors[d];
    const float reciprocal = 1.0f / divisor;
    for (uint32_t s = 0; s < (1u << 23); ++s) {
      const float a = fromBits(0x3f800000u | s);
      const float quotient = a / divisor;
      wrong += product(a, divisor) != quotient;
      floatReciprocalDiffers += a * reciprocal != quotient;
      ++checked;
    }
  }
  // Random sqrt(v) over [2^-70, 2^60) against every divisor.
  std::mt19937_64 rng(11);
  for (const float divisor : divisors)
    for (int i = 0; i < 20000; ++i) {
      const float a = fromBits(uint32_t((57 + rng() % 130) << 23 | (rng() & 0x7fffff)));
      wrong += product(a, divisor) != a / divisor;
      ++checked;
    }
  _mm_setcsr(mode);
  EXPECT_EQ(wrong, 0) << "of " << checked;
  EXPECT_GT(floatReciprocalDiffers, 0) << "a float reciprocal would have passed too";
}

} // namespace
} // namespace rnnc
