//===- AutodiffTest.cpp - Gradients against finite differences ------------===//
//
// For each model: lower, differentiate, evaluate the gradient graph with the
// double-precision reference, and compare every parameter's gradient (all
// elements of small tensors, a sample of large ones) with central finite
// differences of the reference loss.
//===----------------------------------------------------------------------===//
#include "compiler/passes/Autodiff.h"
#include "compiler/ir/IRParser.h"
#include "compiler/ir/OpFacts.h"
#include "compiler/reference/Reference.h"
#include "LowerTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

namespace rnnc {
namespace {

using reference::Tensor;

struct Problem {
  ir::Graph graph;
  std::map<std::string, Tensor> feeds;
};

/// Random parameters and inputs (targets as the loss needs them).
Problem makeProblem(const std::string &text, int64_t batch, uint64_t seed) {
  auto lowered = testing::lowerText(text);
  EXPECT_TRUE(lowered.graph) << lowered.diagnostics;
  Problem p{std::move(*lowered.graph), {}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::string lossKind = ir::opInfo(p.graph.op(*p.graph.loss).kind).mnemonic;
  // Sequence lengths: mixed in one batch, T, 1 and one in between.
  std::map<ir::ValueId, int64_t> lengthSteps;
  for (const ir::Op &op : p.graph.ops())
    if (std::optional<ir::ValueId> l = ir::lengthsOf(op); l && (op.kind == ir::OpKind::Lstm || op.kind == ir::OpKind::Gru))
      lengthSteps[*l] = p.graph.op(op.operands[0]).type.dims[1].size;
  for (const auto &[id, steps] : lengthSteps) {
    Tensor t({batch});
    for (int64_t b = 0; b < batch; ++b)
      t.data[b] = static_cast<double>(b % 3 == 0 ? steps : b % 3 == 1 ? 1 : (steps + 1) / 2);
    p.feeds[p.graph.op(id).name] = t;
  }
  for (const ir::Op &op : p.graph.ops()) {
    if (!ir::isSource(op.kind) || p.feeds.count(op.name))
      continue;
    std::vector<int64_t> shape;
    for (const ir::Dim &d : op.type.dims)
      shape.push_back(d.isSymbolic() ? batch : d.size);
    Tensor t(shape);
    for (double &v : t.data) {
      if (op.type.dtype == ir::DType::I32) {
        const int64_t range = op.kind == ir::OpKind::Target ? op.attrs.getInt("classes", 2) : 7;
        v = static_cast<double>(rng() % range);
      } else if (op.kind == ir::OpKind::Target && lossKind == "bce_with_logits") {
        v = static_cast<double>(rng() % 2);
      } else {
        v = uniform(rng) * (op.kind == ir::OpKind::Param ? 0.6 : 1.0);
      }
    }
    p.feeds[op.name] = t;
  }
  differentiate(p.graph);
  return p;
}

double lossOf(const Problem &p, const reference::EvalOptions &options) {
  return reference::evaluate(p.graph, p.feeds, options)[*p.graph.loss].data[0];
}

void checkGradients(const std::string &text, int64_t batch = 3) {
  Problem p = makeProblem(text, batch, 7);
  reference::EvalOptions options{true, 11, 5}; // training: dropout active, fixed masks
  std::vector<Tensor> values = reference::evaluate(p.graph, p.feeds, options);
  ASSERT_FALSE(p.graph.gradients.empty());
  std::mt19937_64 rng(3);
  for (const auto &[param, grad] : p.graph.gradients) {
    const std::string &name = p.graph.op(param).name;
    const Tensor &analytic = values[grad];
    Tensor &value = p.feeds[name];
    ASSERT_EQ(analytic.shape, value.shape) << name;
    std::vector<int64_t> elements;
    for (int64_t e = 0; e < value.size(); ++e)
      elements.push_back(e);
    std::shuffle(elements.begin(), elements.end(), rng);
    elements.resize(std::min<size_t>(elements.size(), 12));
    for (int64_t e : elements) {
      const double saved = value.data[e], eps = 1e-6;
      value.data[e] = saved + eps;
      const double up = lossOf(p, options);
      value.data[e] = saved - eps;
      const double down = lossOf(p, options);
      value.data[e] = saved;
      const double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(analytic.data[e], numeric, 1e-6 * std::max(1.0, std::fabs(numeric)))
          << name << "[" << e << "] in\n" << text;
    }
  }
}

TEST(Autodiff, EveryLoss) {
  const char *head = "model m { input x: f32[b, 4]\n";
  checkGradients(std::string(head) + "target y: f32[b, 3]\n p = dense(x, units=3)\n loss mse(p, y) }");
  checkGradients(std::string(head) + "target y: f32[b, 3]\n p = dense(x, units=3)\n loss mae(p, y) }");
  checkGradients(std::string(head) + "target y: f32[b]\n p = dense(x, units=1)\n loss bce_with_logits(p, y) }");
  checkGradients(std::string(head) + "target y: i32[b] classes 5\n p = dense(x, units=5)\n loss softmax_cross_entropy(p, y) }");
  checkGradients(std::string(head) + "target y: f32[b]\n p = dense(x, units=1)\n loss mse(p, y) }"); // [b,1] vs [b]
}

TEST(Autodiff, ActivationsDropoutConcatAndSteps) {
  checkGradients("model m { input x: f32[b, 5, 4]\n target y: f32[b, 6]\n"
                 " a = dense(x, units=3, activation=\"tanh\")\n"
                 " c = concat(first(a), last(relu(dense(x, units=3))))\n"
                 " s = sigmoid(dropout(c, p=0.3))\n"
                 " p = dense(softmax(identity(s)), units=6)\n loss mse(p, y) }");
  checkGradients("model m { input x: f32[b, 5, 4]\n target y: f32[b, 10, 2]\n"
                 " p = dense(concat(x, tanh(dense(x, units=4)), axis=1), units=2)\n loss mse(p, y) }");
}

TEST(Autodiff, MeanAndMaxOverTime) {
  // Of an input, of a dense layer and of recurrent sequences (no lengths:
  // over all T steps); max's gradient goes to the step of the max.
  checkGradients("model m { input x: f32[b, 5, 4]\n target y: f32[b, 7]\n"
                 " a = dense(x, units=3, activation=\"tanh\")\n"
                 " p = dense(concat(mean(a), max(a), max(x)), units=7)\n loss mse(p, y) }");
  for (const char *cell : {"lstm", "gru"})
    checkGradients(std::string("model m { input x: f32[b, 6, 3]\n target y: i32[b] classes 3\n h = ") + cell +
                       "(x, hidden=4, layers=2, bidirectional=true)\n"
                       " p = dense(concat(mean(h), max(h)), units=3)\n loss softmax_cross_entropy(p, y) }",
                   4);
}

TEST(Autodiff, LstmStackedAndBidirectional) {
  checkGradients("model m { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n"
                 " h = lstm(x, hidden=4, layers=2, bidirectional=true, dropout=0.25, returns=\"last\")\n"
                 " p = dense(h, units=2)\n loss mse(p, y) }");
  checkGradients("model m { input x: f32[b, 6, 3]\n target y: f32[b, 6, 5]\n"
                 " h = lstm(x, hidden=5)\n loss mse(h, y) }", 2);
}

TEST(Autodiff, GruStackedAndBidirectional) {
  checkGradients("model m { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n"
                 " h = gru(x, hidden=4, layers=2, bidirectional=true, returns=\"last\")\n"
                 " p = dense(h, units=2)\n loss mse(p, y) }");
  checkGradients("model m { input x: f32[b, 6, 3]\n target y: f32[b, 6, 5]\n"
                 " h = gru(x, hidden=5, bidirectional=true)\n p = dense(h, units=5)\n loss mae(p, y) }", 2);
}

TEST(Autodiff, SequenceLengths) {
  // Mixed lengths in one batch (T, 1, in between): the gradients of the
  // packed-sequence semantics, whose outputs past a sample's length are 0.
  for (const char *cell : {"lstm", "gru"})
    for (const auto &[text, batch] : testing::lengthsModels(cell, 3))
      checkGradients(text, batch);
}

/// The reference with lengths is PyTorch's packed sequence: a sample of
/// length L gives what the same layer gives on its first L steps alone, and
/// zeros after them.
/// Feeds for a model with input x [B, T, 3] and its lengths: the
/// parameters uniform in [-0.6, 0.6], then x uniform in [-1, 1] (one
/// generator seeded with `seed`, drawn in that order).
std::map<std::string, Tensor> feedsWithLengths(const ir::Graph &graph, uint64_t seed, int64_t T,
                                               const std::vector<int64_t> &lengths) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::map<std::string, Tensor> feeds;
  for (const ir::Op &op : graph.ops())
    if (op.kind == ir::OpKind::Param) {
      std::vector<int64_t> shape;
      for (const ir::Dim &d : op.type.dims)
        shape.push_back(d.size);
      Tensor t(shape);
      for (double &v : t.data)
        v = uniform(rng) * 0.6;
      feeds[op.name] = t;
    }
  const int64_t B = static_cast<int64_t>(lengths.size());
  Tensor x({B, T, 3}), l({B});
  for (double &v : x.data)
    v = uniform(rng);
  for (int64_t b = 0; b < B; ++b)
    l.data[b] = static_cast<double>(lengths[b]);
  feeds["x"] = x;
  feeds["lengths"] = l;
  return feeds;
}

TEST(Reference, LengthsRunEachSampleForItsOwnLength) {
  const int64_t T = 5;
  for (const char *cell : {"lstm", "gru"})
    for (const char *returns : {"sequence", "last"}) {
      auto model = [&](int64_t steps, bool lengths) {
        return "model m { input x: f32[b, " + std::to_string(steps) + ", 3]\n" + (lengths ? " input lengths: i32[b]\n" : "") +
               " h = " + cell + "(x, hidden=4, layers=2, bidirectional=true, returns=\"" + returns + "\"" +
               (lengths ? ", lengths=lengths" : "") + ")\n output h }";
      };
      auto padded = testing::lowerText(model(T, true));
      ASSERT_TRUE(padded.graph) << padded.diagnostics;
      const std::vector<int64_t> lengths = {T, 1, 3, 2};
      const int64_t B = static_cast<int64_t>(lengths.size());
      std::map<std::string, Tensor> feeds = feedsWithLengths(*padded.graph, 5, T, lengths);
      const Tensor all = reference::evaluate(*padded.graph, feeds)[*padded.graph->output];
      for (int64_t b = 0; b < B; ++b) {
        const int64_t L = lengths[b];
        auto alone = testing::lowerText(model(L, false));
        ASSERT_TRUE(alone.graph) << alone.diagnostics;
        std::map<std::string, Tensor> single = feeds;
        single.erase("lengths");
        Tensor xs({1, L, 3});
        for (int64_t t = 0; t < L; ++t)
          for (int64_t k = 0; k < 3; ++k)
            xs.data[t * 3 + k] = feeds.at("x").data[(b * T + t) * 3 + k];
        single["x"] = xs;
        const Tensor one = reference::evaluate(*alone.graph, single)[*alone.graph->output];
        const int64_t width = all.shape.back();
        if (std::string(returns) == "last") {
          for (int64_t k = 0; k < width; ++k)
            EXPECT_NEAR(all.data[b * width + k], one.data[k], 1e-12) << cell << " sample " << b;
          continue;
        }
        for (int64_t t = 0; t < T; ++t)
          for (int64_t k = 0; k < width; ++k)
            EXPECT_NEAR(all.data[(b * T + t) * width + k], t < L ? one.data[t * width + k] : 0.0, 1e-12)
                << cell << " sample " << b << " step " << t;
      }
      feeds["lengths"].data[2] = 0; // outside [1, T]
      EXPECT_THROW(reference::evaluate(*padded.graph, feeds), std::invalid_argument);
      feeds["lengths"].data[2] = T + 1;
      EXPECT_THROW(reference::evaluate(*padded.graph, feeds), std::invalid_argument);
    }
}

/// mean / max and their gradient ops in the reference on numbers worked by
/// hand: over all steps, over steps 0..L-1 with lengths (the pad steps hold
/// larger values that must not count), max's gradient at the first step of
/// a tie.
TEST(Reference, MeanAndMaxOverStepsByHand) {
  const std::string text = "graph @g {\n"
                           "  %x = input() : () -> f32[b,3,2]\n"
                           "  %n = input() : () -> i32[b]\n"
                           "  %dy = input() : () -> f32[b,2]\n"
                           "  %mean = mean(%x) : (f32[b,3,2]) -> f32[b,2]\n"
                           "  %max = max(%x) : (f32[b,3,2]) -> f32[b,2]\n"
                           "  %lmean = mean(%x, %n) : (f32[b,3,2], i32[b]) -> f32[b,2]\n"
                           "  %lmax = max(%x, %n) : (f32[b,3,2], i32[b]) -> f32[b,2]\n"
                           "  %gmean = mean_grad(%dy) {steps = 3} : (f32[b,2]) -> f32[b,3,2]\n"
                           "  %gmax = max_grad(%dy, %x) : (f32[b,2], f32[b,3,2]) -> f32[b,3,2]\n"
                           "  %glmean = mean_grad(%dy, %n) {steps = 3} : (f32[b,2], i32[b]) -> f32[b,3,2]\n"
                           "  %glmax = max_grad(%dy, %x, %n) : (f32[b,2], f32[b,3,2], i32[b]) -> f32[b,3,2]\n"
                           "  output %max\n"
                           "}\n";
  auto file = std::make_shared<SourceFile>("t.ir", text);
  std::ostringstream out;
  Diagnostics diag(out);
  diag.addFile(file);
  std::optional<ir::Graph> graph = ir::parseGraph(*file, diag);
  ASSERT_TRUE(graph && ir::verifyGraph(*graph, diag)) << out.str();
  // Sample 0 (length 3): feature 0 steps 1, 4, 4 (a tie at steps 1 and 2), feature 1 -2, -1, -3.
  // Sample 1 (length 1): 5, 6 at step 0; the pad steps hold 9 and 8.
  Tensor x({2, 3, 2}), n({2}), dy({2, 2});
  x.data = {1, -2, 4, -1, 4, -3, /**/ 5, 6, 9, 8, 9, 8};
  n.data = {3, 1};
  dy.data = {10, 20, 30, 40};
  std::map<std::string, Tensor> feeds = {{"x", x}, {"n", n}, {"dy", dy}};
  std::vector<Tensor> v = reference::evaluate(*graph, feeds);
  auto value = [&](const char *name) {
    for (size_t id = 0; id < graph->size(); ++id)
      if (graph->op(id).name == name)
        return v[id].data;
    ADD_FAILURE() << "no value " << name;
    return std::vector<double>{};
  };
  EXPECT_EQ(value("mean"), (std::vector<double>{3, -2, 23.0 / 3, 22.0 / 3}));
  EXPECT_EQ(value("max"), (std::vector<double>{4, -1, 9, 8}));
  EXPECT_EQ(value("lmean"), (std::vector<double>{3, -2, 5, 6}));
  EXPECT_EQ(value("lmax"), (std::vector<double>{4, -1, 5, 6}));
  EXPECT_EQ(value("gmean"), (std::vector<double>{10.0 / 3, 20.0 / 3, 10.0 / 3, 20.0 / 3, 10.0 / 3, 20.0 / 3,
                                                 10, 40.0 / 3, 10, 40.0 / 3, 10, 40.0 / 3}));
  EXPECT_EQ(value("gmax"), (std::vector<double>{0, 0, 10, 20, 0, 0, /**/ 0, 0, 30, 40, 0, 0}));
  EXPECT_EQ(value("glmean"), (std::vector<double>{10.0 / 3, 20.0 / 3, 10.0 / 3, 20.0 / 3, 10.0 / 3, 20.0 / 3,
                                                  30, 40, 0, 0, 0, 0}));
  EXPECT_EQ(value("glmax"), (std::vector<double>{0, 0, 10, 20, 0, 0, /**/ 30, 40, 0, 0, 0, 0}));
  feeds["n"].data[1] = 4; // outside [1, T]
  EXPECT_THROW(reference::evaluate(*graph, feeds), std::invalid_argument);
}

/// mean() and max() of a sequence with lengths are those of each sample run
/// alone for its own length (PyTorch's packed sequence).
TEST(Reference, MeanAndMaxWithLengthsAreThoseOfEachSampleAlone) {
  const int64_t T = 5;
  for (const char *cell : {"lstm", "gru"}) {
    auto model = [&](int64_t steps, bool lengths) {
      return "model m { input x: f32[b, " + std::to_string(steps) + ", 3]\n" + (lengths ? " input lengths: i32[b]\n" : "") +
             " h = " + cell + "(x, hidden=4, bidirectional=true" + (lengths ? ", lengths=lengths" : "") +
             ")\n y = concat(mean(h), max(h), mean(dense(h, units=2)))\n output y }";
    };
    auto padded = testing::lowerText(model(T, true));
    ASSERT_TRUE(padded.graph) << padded.diagnostics;
    const std::vector<int64_t> lengths = {T, 1, 3, 2};
    const int64_t B = static_cast<int64_t>(lengths.size());
    std::map<std::string, Tensor> feeds = feedsWithLengths(*padded.graph, 8, T, lengths);
    const Tensor all = reference::evaluate(*padded.graph, feeds)[*padded.graph->output];
    const int64_t width = all.shape.back();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t L = lengths[b];
      auto alone = testing::lowerText(model(L, false));
      ASSERT_TRUE(alone.graph) << alone.diagnostics;
      std::map<std::string, Tensor> single = feeds;
      single.erase("lengths");
      Tensor xs({1, L, 3});
      for (int64_t t = 0; t < L; ++t)
        for (int64_t k = 0; k < 3; ++k)
          xs.data[t * 3 + k] = feeds.at("x").data[(b * T + t) * 3 + k];
      single["x"] = xs;
      const Tensor one = reference::evaluate(*alone.graph, single)[*alone.graph->output];
      for (int64_t k = 0; k < width; ++k)
        EXPECT_NEAR(all.data[b * width + k], one.data[k], 1e-12) << cell << " sample " << b << " feature " << k;
    }
  }
}

TEST(Autodiff, EmbeddingAndTheImdbShape) {
  checkGradients("model m { input ids: i32[b, 6]\n target y: i32[b] classes 2\n"
                 " e = embedding(ids, vocab=7, dim=4)\n h = lstm(e, hidden=3, layers=2, bidirectional=true)\n"
                 " out = dense(concat(first(h), last(h)), units=2)\n loss softmax_cross_entropy(out, y) }");
}

TEST(Autodiff, OnlyParametersOnThePathToTheLossGetGradients) {
  Problem p = makeProblem("model m { input x: f32[b, 4]\n target y: f32[b, 1]\n"
                          " unused = dense(x, units=2)\n p = dense(x, units=1)\n loss mse(p, y) }", 2, 1);
  std::set<std::string> names;
  for (const auto &[param, grad] : p.graph.gradients)
    names.insert(p.graph.op(param).name);
  EXPECT_EQ(names, (std::set<std::string>{"p.weight", "p.bias"}));
}

} // namespace
} // namespace rnnc
