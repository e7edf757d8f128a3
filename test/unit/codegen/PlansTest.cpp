//===- PlansTest.cpp - Both plans against the double-precision oracle -----===//
//
// Every op, and every model in models/, compiled with both plans (JIT),
// run on seeded random inputs and parameters, compared with
// rnnc::reference::evaluate within 1e-5 relative, 1e-6 absolute.
//===----------------------------------------------------------------------===//
#include "compiler/driver/Backend.h"
#include "compiler/plan/SymbolicPlan.h"
#include "compiler/reference/Reference.h"
#include "runtime/loader/Loader.h"
#include "LowerTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace rnnc {
namespace {

using reference::Tensor;

struct Compiled {
  std::unique_ptr<runtime::Model> model;
  rnnc_instance *instance = nullptr;
  ~Compiled() {
    if (model && instance)
      model->destroy(instance);
  }
};

std::unique_ptr<Compiled> compile(const ir::Graph &graph, plan::PlanOptions planOptions, int64_t capacity,
                                  const std::string &targetCpu = "host") {
  BackendOptions options;
  options.plan = planOptions;
  options.targetCpu = targetCpu;
  options.compilerVersion = "test";
  std::string error;
  auto c = std::make_unique<Compiled>();
  std::shared_ptr<codegen::JitModel> jit = compileForJit(graph, options, error);
  EXPECT_TRUE(jit) << error;
  c->model = jit ? runtime::openBinding(jit->binding(), jit) : nullptr;
  if (!c->model)
    return nullptr;
  c->instance = c->model->create(capacity);
  c->model->initParams(c->instance, 1234);
  return c;
}

/// Runs the compiled model and the reference on the same random batch and
/// returns the largest violation of |got - want| <= max(1e-5 |want|, 1e-6)
/// as a ratio (<= 1 passes).
double compare(const ir::Graph &graph, Compiled &c, int64_t batch, uint64_t seed, std::string &where) {
  const rnnc_model_info &info = c.model->info();
  std::mt19937_64 rng(seed);
  std::map<std::string, Tensor> feeds;
  std::vector<std::vector<float>> floats(info.num_inputs);
  std::vector<std::vector<int32_t>> ints(info.num_inputs);
  std::vector<const void *> inputs;
  for (int32_t i = 0; i < info.num_inputs; ++i) {
    const rnnc_tensor_desc &d = info.inputs[i];
    std::vector<int64_t> shape = {batch};
    for (int32_t k = 1; k < d.rank; ++k)
      shape.push_back(d.dims[k]);
    Tensor t(shape);
    std::uniform_real_distribution<float> uniform(-2, 2);
    std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(std::max<int64_t>(d.offset, 1) - 1));
    for (double &v : t.data)
      v = d.dtype == RNNC_I32 ? token(rng) : uniform(rng);
    if (d.offset < 0) // sequence lengths in [1, T]: T, 1 and others mixed in one batch
      for (int64_t b = 0; b < batch; ++b)
        t.data[b] = static_cast<double>(b % 4 == 0 ? -d.offset : b % 4 == 1 ? 1 : 1 + (b * 7) % -d.offset);
    if (d.dtype == RNNC_I32) {
      ints[i].assign(t.data.begin(), t.data.end());
      inputs.push_back(ints[i].data());
    } else {
      floats[i].assign(t.data.begin(), t.data.end());
      inputs.push_back(floats[i].data());
    }
    feeds[d.name] = t;
  }
  const float *params = c.model->params(c.instance);
  for (int32_t k = 0; k < info.num_params; ++k) {
    const rnnc_tensor_desc &d = info.params[k];
    std::vector<int64_t> shape(d.dims, d.dims + d.rank);
    Tensor t(shape);
    for (int64_t e = 0; e < t.size(); ++e)
      t.data[e] = params[d.offset + e];
    feeds[d.name] = t;
  }
  std::vector<Tensor> want = reference::evaluate(graph, feeds);
  const Tensor &expected = want[*graph.output];
  std::vector<float> got(expected.size(), NAN);
  float *outputs[] = {got.data()};
  int32_t status = c.model->forward(c.instance, batch, inputs.data(), outputs);
  EXPECT_EQ(status, RNNC_OK);
  double worst = 0;
  for (int64_t e = 0; e < expected.size(); ++e) {
    const double tolerance = std::max(1e-5 * std::fabs(expected.data[e]), 1e-6);
    const double ratio = std::fabs(got[e] - expected.data[e]) / tolerance;
    if (!(ratio <= worst)) { // also catches NaN
      worst = std::isnan(ratio) ? INFINITY : ratio;
      where = "element " + std::to_string(e) + ": got " + std::to_string(got[e]) + ", want " +
              std::to_string(expected.data[e]);
    }
  }
  return worst;
}

struct PlanVariant {
  const char *name;
  plan::PlanOptions options;
};

std::vector<PlanVariant> variants() {
  plan::PlanOptions symbolic, imperative, unfused, unhoisted, noMemplan;
  imperative.kind = plan::PlanKind::Imperative;
  unfused.fuseCells = false;
  unhoisted.hoistInputProjection = false;
  noMemplan.planMemory = false;
  return {{"symbolic", symbolic}, {"imperative", imperative}, {"symbolic --no-fuse", unfused},
          {"symbolic --no-hoist", unhoisted}, {"symbolic --no-memplan", noMemplan}};
}

void checkModel(const std::string &text, const std::vector<int64_t> &batches, bool allVariants = true,
                const std::string &targetCpu = "host") {
  auto lowered = testing::lowerText(text);
  ASSERT_TRUE(lowered.graph) << lowered.diagnostics;
  const ir::Graph &graph = *lowered.graph;
  const int64_t capacity = *std::max_element(batches.begin(), batches.end());
  for (const PlanVariant &variant : variants()) {
    if (!allVariants && variant.name != std::string("symbolic") && variant.name != std::string("imperative"))
      continue;
    auto compiled = compile(graph, variant.options, capacity, targetCpu);
    ASSERT_TRUE(compiled);
    for (int64_t batch : batches) {
      std::string where;
      double worst = compare(graph, *compiled, batch, 99 + batch, where);
      EXPECT_LE(worst, 1.0) << variant.name << " plan (" << targetCpu << "), batch " << batch << ", " << where
                            << "\nmodel:\n" << text;
    }
  }
}

const std::vector<int64_t> kBatches = {1, 3, 8, 17};

std::string sequenceModel(const std::string &layer, int64_t steps = 5, int64_t width = 3) {
  return "model m { input x: f32[batch, " + std::to_string(steps) + ", " + std::to_string(width) + "]\n y = " + layer +
         "\n output y }";
}

TEST(Plans, LstmSingleAndStackedUniAndBidirectional) {
  for (int hidden : {8, 16, 37})
    for (const char *shape : {"", ", layers=2", ", bidirectional=true", ", layers=2, bidirectional=true"})
      checkModel(sequenceModel("lstm(x, hidden=" + std::to_string(hidden) + shape + ")"), kBatches);
}

TEST(Plans, GruSingleAndStackedUniAndBidirectional) {
  for (int hidden : {8, 16, 37})
    for (const char *shape : {"", ", layers=2", ", bidirectional=true", ", layers=2, bidirectional=true"})
      checkModel(sequenceModel("gru(x, hidden=" + std::to_string(hidden) + shape + ")"), kBatches);
}

TEST(Plans, RecurrentReturningTheLastStep) {
  checkModel(sequenceModel("lstm(x, hidden=37, bidirectional=true, returns=\"last\")", 7, 5), kBatches);
  checkModel(sequenceModel("gru(x, hidden=37, layers=3, dropout=0.5, returns=\"last\")", 7, 5), kBatches);
}

/// W_hh^T above 1 MiB (LSTM H=300: 1.4 MB; GRU H=330: 1.3 MB): the
/// recurrence runs per panel of hidden units (48 and 64 wide with AVX-512,
/// a narrower last panel, then single units), every block of rows per panel.
TEST(Plans, RecurrentWeightsLargerThanL2RunInPanels) {
  // 300 and 330: panels of columns of W_hh^T; 320 and 336 (multiples of 16):
  // W_hh^T packed in panels.
  for (const char *cpu : {"host", "x86-64-v3"})
    for (const char *layer : {"lstm(x, hidden=300, bidirectional=true", "gru(x, hidden=330", "lstm(x, hidden=320",
                              "gru(x, hidden=336, bidirectional=true"})
      for (bool lengths : {false, true})
        checkModel(std::string("model m { input x: f32[batch, 3, 5]\n") + (lengths ? " input lengths: i32[batch]\n" : "") +
                       " h = " + layer + (lengths ? ", lengths=lengths" : "") +
                       ")\n y = concat(first(h), last(h))\n output y }",
                   {1, 7}, false, cpu);
}

/// Sequence lengths mixed in one batch (T, 1 and others; see compare()):
/// every plan against the reference, which runs each sample for its length.
TEST(Plans, SequenceLengths) {
  const std::string head = "model m { input x: f32[batch, 6, 3]\n input lengths: i32[batch]\n";
  for (const char *cell : {"lstm", "gru"})
    for (const char *shape : {"", ", layers=2, bidirectional=true", ", bidirectional=true, returns=\"last\""}) {
      checkModel(head + " y = " + cell + "(x, hidden=17" + shape + ", lengths=lengths)\n output y }", kBatches);
    }
  checkModel(head + " h = lstm(x, hidden=8, layers=2, lengths=lengths)\n y = concat(first(h), last(dense(h, units=3)))\n output y }",
             kBatches, false);
  checkModel(head + " h = gru(x, hidden=16, bidirectional=true, lengths=lengths)\n y = last(h)\n output y }", kBatches, false);
  // mean / max over each sample's steps only, every plan variant
  for (const char *cell : {"lstm", "gru"}) {
    checkModel(head + " h = " + cell + "(x, hidden=17, layers=2, bidirectional=true, lengths=lengths)\n"
               " y = concat(mean(h), max(h))\n output y }", kBatches);
    checkModel(head + " h = " + cell + "(x, hidden=8, lengths=lengths)\n"
               " y = concat(max(dense(h, units=3, activation=\"tanh\")), mean(relu(h)))\n output y }", kBatches, false);
  }
}

TEST(Plans, EveryOtherOp) {
  const char *layers[] = {
      "dense(x, units=37)",
      "dense(x, units=5, bias=false)",
      "dense(last(x), units=4, activation=\"relu\")",
      "dense(first(x), units=17, activation=\"tanh\")",
      "dense(last(x), units=3, activation=\"sigmoid\")",
      "dense(last(x), units=6, activation=\"softmax\")",
      "softmax(x)",
      "relu(x)",
      "tanh(x)",
      "sigmoid(x)",
      "identity(dropout(x, p=0.3))",
      "concat(x, x, axis=1)",
      "concat(x, relu(x), tanh(x))",
      "concat(first(x), last(x))",
      "mean(x)",
      "max(x)",
      "dense(concat(mean(x), max(tanh(x))), units=37)",
  };
  for (const char *layer : layers)
    checkModel(sequenceModel(layer), kBatches, false);
  // mean / max over more features than a vector and a tail, and over one step
  checkModel(sequenceModel("concat(mean(x), max(x))", 7, 37), kBatches, false);
  checkModel(sequenceModel("concat(mean(x), max(x))", 1, 3), kBatches, false);
  checkModel("model m { input ids: i32[batch, 6]\n e = embedding(ids, vocab=50, dim=19)\n output e }", kBatches, false);
}

/// The imperative plan's products go through the tiled product generator,
/// one kernel per (K, N): column counts that leave a tail after each column
/// tier (blocks of 4 or 2 vectors, single vectors, scalars) with 16, 8 and 4
/// floats per vector, K from 1 to 67, and row counts (5 per sample for the
/// dense layers, the batch for the recurrent products) that leave a tail
/// after each row block.
TEST(Plans, ImperativeProductsOfOddShapesAtEveryVectorWidth) {
  const char *layers[] = {
      "dense(dense(x, units=67), units=100)",
      "dense(dense(x, units=1, bias=false), units=9)",
      "dense(lstm(x, hidden=13), units=33)",
      "gru(x, hidden=5, bidirectional=true)",
  };
  for (const char *cpu : {"host", "x86-64-v3", "x86-64-v2"})
    for (const char *layer : layers)
      checkModel(sequenceModel(layer, 5, 9), {1, 2, 7, 13}, false, cpu);
}

std::string readModel(const std::string &name) {
  std::ifstream in(std::string(RNNC_MODELS_DIR) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Plans, SeedModelsEtth1) {
  checkModel(readModel("etth1_lstm.rnn"), kBatches);
  checkModel(readModel("etth1_gru.rnn"), kBatches);
}

TEST(Plans, SeedModelsImdb) {
  checkModel(readModel("imdb_bilstm.rnn"), kBatches, false);
  checkModel(readModel("imdb_bigru.rnn"), kBatches, false);
}

TEST(Plans, SequenceLengthOutsideOneToTIsAnError) {
  // forward (every plan) and train step (both plans): RNNC_ERR_LENGTH, for
  // lengths read by a recurrent layer and by last() alone.
  for (const char *layer : {"h = lstm(x, hidden=4, bidirectional=true, lengths=lengths)\n y = dense(last(h), units=1)",
                            "h = gru(x, hidden=4, returns=\"last\", lengths=lengths)\n y = dense(h, units=1)"}) {
    auto lowered = testing::lowerText(std::string("model m { input x: f32[batch, 3, 2]\n input lengths: i32[batch]\n target t: f32[batch, 1]\n") +
                                      layer + "\n loss mse(y, t) }");
    ASSERT_TRUE(lowered.graph) << lowered.diagnostics;
    for (const PlanVariant &variant : variants()) {
      auto c = compile(*lowered.graph, variant.options, 2);
      ASSERT_TRUE(c);
      EXPECT_EQ(c->model->info().inputs[1].offset, -3) << "the metadata names the lengths input and T";
      std::vector<float> x(2 * 3 * 2, 0.5f), out(2, NAN), target(2, 0.0f);
      const void *targets[] = {target.data()};
      float *outputs[] = {out.data()};
      float loss = 0;
      for (int32_t bad : {0, 4, -1, 1 << 30}) {
        int32_t lengths[] = {2, bad};
        const void *inputs[] = {x.data(), lengths};
        EXPECT_EQ(c->model->forward(c->instance, 2, inputs, outputs), RNNC_ERR_LENGTH) << variant.name << " length " << bad;
        if (variant.name == std::string("symbolic") || variant.name == std::string("imperative")) {
          EXPECT_EQ(c->model->trainStep(c->instance, 2, inputs, targets, &loss), RNNC_ERR_LENGTH) << variant.name << " length " << bad;
        }
      }
      int32_t lengths[] = {3, 1};
      const void *inputs[] = {x.data(), lengths};
      EXPECT_EQ(c->model->forward(c->instance, 2, inputs, outputs), RNNC_OK) << variant.name;
      EXPECT_EQ(c->model->trainStep(c->instance, 2, inputs, targets, &loss), RNNC_OK) << variant.name;
    }
  }
}

TEST(Plans, OutOfRangeTokenIsAnErrorNotACrash) {
  auto lowered = testing::lowerText("model m { input ids: i32[batch, 2]\n e = embedding(ids, vocab=10, dim=4)\n output e }");
  ASSERT_TRUE(lowered.graph);
  for (const PlanVariant &variant : variants()) {
    auto c = compile(*lowered.graph, variant.options, 2);
    ASSERT_TRUE(c);
    int32_t ids[] = {1, 2, 10, 3};
    std::vector<float> out(2 * 2 * 4);
    const void *inputs[] = {ids};
    float *outputs[] = {out.data()};
    EXPECT_EQ(c->model->forward(c->instance, 2, inputs, outputs), RNNC_ERR_TOKEN) << variant.name;
    ids[2] = -1;
    EXPECT_EQ(c->model->forward(c->instance, 2, inputs, outputs), RNNC_ERR_TOKEN) << variant.name;
    EXPECT_EQ(c->model->forward(c->instance, 3, inputs, outputs), RNNC_ERR_BATCH) << variant.name;
  }
}

/// __rnnc_pack, against the layout the plan describes, bit for bit: every
/// weight transposed (register tiles of 16 x 16 with AVX-512, 8 x 8 with
/// AVX2, overlapping at the edges; element by element when a side is shorter
/// than a tile), every bias sum b_ih + b_hh (GRU: b_hh added to r and z only;
/// a -0.0 bias packs as +0.0, as it always did), nothing written outside.
TEST(Plans, PackingIsAnExactTransposeAtEdgeShapes) {
  std::vector<std::string> texts;
  for (int width : {1, 7, 16, 17, 43})
    for (int units : {1, 8, 33})
      texts.push_back("model m { input x: f32[b, " + std::to_string(width) + "]\n p = dense(x, units=" +
                      std::to_string(units) + ")\n output p }");
  // 320 and 336: W_hh^T above 1 MiB, packed in panels of 48 and 64 units
  // (and a last one of 32 and 16).
  for (const char *cell : {"lstm", "gru"})
    for (int hidden : {3, 20, std::string(cell) == "lstm" ? 320 : 336})
      texts.push_back("model m { input x: f32[b, 4, 43]\n h = " + std::string(cell) + "(x, hidden=" +
                      std::to_string(hidden) + ")\n output h }");
  for (const char *cpu : {"host", "x86-64-v3"})
  for (const std::string &text : texts) {
    SCOPED_TRACE(std::string(cpu) + ": " + text);
    auto lowered = testing::lowerText(text);
    ASSERT_TRUE(lowered.graph) << lowered.diagnostics;
    BackendOptions options;
    options.targetCpu = cpu;
    std::string error;
    std::shared_ptr<codegen::JitModel> jit = compileForJit(*lowered.graph, options, error);
    ASSERT_TRUE(jit) << error;
    const rnnc_model_binding &binding = jit->binding();
    ASSERT_TRUE(binding.pack);
    const plan::SymbolicPlan plan = plan::planSymbolic(*lowered.graph, options.plan);
    ASSERT_EQ(plan.packedElements, binding.info->packed_elements);
    if (text.find("hidden=320") != std::string::npos || text.find("hidden=336") != std::string::npos)
      ASSERT_GT(plan.packed[1].panel, 0) << "W_hh^T in panels";
    std::vector<float> params(binding.info->param_elements);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-2, 2);
    for (size_t i = 0; i < params.size(); ++i)
      params[i] = i % 11 == 3 ? -0.0f : uniform(rng);
    const float sentinel = 12345.5f;
    std::vector<float> packed(plan.packedElements + 64, sentinel);
    binding.pack(params.data(), packed.data());
    std::vector<bool> covered(packed.size(), false);
    auto paramAt = [&](ir::ValueId id) { return plan.paramOffsets[plan.locations[id].index]; };
    auto same = [](float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; };
    for (const plan::PackedParam &p : plan.packed) {
      const int64_t src = paramAt(p.source);
      if (p.layout == plan::PackedParam::Layout::Transposed) {
        for (int64_t r = 0; r < p.rows; ++r)
          for (int64_t c = 0; c < p.cols; ++c) {
            const int64_t at = p.offset + p.indexOf(r, c);
            covered[at] = true;
            ASSERT_TRUE(same(packed[at], params[src + r * p.cols + c])) << "rows " << p.rows << " cols " << p.cols << " at " << r << ", " << c;
          }
      } else {
        const int64_t second = paramAt(p.second);
        for (int64_t k = 0; k < p.cols; ++k) {
          const float want = params[src + k] + (k < p.sumUpTo ? params[second + k] : 0.0f);
          covered[p.offset + k] = true;
          ASSERT_TRUE(same(packed[p.offset + k], want)) << "bias sum [" << k << "]";
        }
      }
    }
    for (size_t i = 0; i < packed.size(); ++i)
      if (!covered[i])
        ASSERT_TRUE(same(packed[i], sentinel)) << "packed[" << i << "] is outside every packed tensor";
  }
}

} // namespace
} // namespace rnnc
