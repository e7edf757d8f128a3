//===- PlanTest.cpp - Arena layout, packing, the imperative op list -------===//
#include "compiler/plan/ImperativePlan.h"
#include "compiler/passes/Autodiff.h"
#include "compiler/plan/SymbolicPlan.h"
#include "LowerTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace rnnc::plan {
namespace {

bool overlap(const Buffer &a, const Buffer &b) {
  const bool liveTogether = a.firstStep <= b.lastStep && b.firstStep <= a.lastStep;
  const bool sameSpace = a.offset < b.offset + b.perSample && b.offset < a.offset + a.perSample;
  return liveTogether && sameSpace;
}

TEST(Arena, ReusesTheSpaceOfDeadBuffers) {
  // A chain: each buffer dies when the next is made.
  std::vector<Buffer> buffers = {{100, -1, 0, 1}, {100, -1, 1, 2}, {100, -1, 2, 3}, {100, -1, 3, 4}};
  std::vector<Buffer> separate = buffers;
  const int64_t reused = layoutArena(buffers, true);
  const int64_t unplanned = layoutArena(separate, false);
  EXPECT_EQ(reused, 2 * 112);     // two live at a time, each rounded up to 16 floats
  EXPECT_EQ(unplanned, 4 * 112);
  for (size_t i = 0; i < buffers.size(); ++i)
    for (size_t j = i + 1; j < buffers.size(); ++j)
      EXPECT_FALSE(overlap(buffers[i], buffers[j])) << i << " and " << j;
  EXPECT_EQ(buffers[2].offset, buffers[0].offset);
}

TEST(Arena, NeverOverlapsLiveBuffersOfMixedSizes) {
  std::vector<Buffer> buffers;
  for (int i = 0; i < 60; ++i)
    buffers.push_back({(i * 37) % 300 + 1, -1, i % 20, i % 20 + (i * 7) % 5});
  layoutArena(buffers, true);
  for (size_t i = 0; i < buffers.size(); ++i) {
    EXPECT_EQ(buffers[i].offset % 16, 0);
    for (size_t j = i + 1; j < buffers.size(); ++j)
      EXPECT_FALSE(overlap(buffers[i], buffers[j])) << i << " and " << j;
  }
}

TEST(SymbolicPlan, PacksRecurrentWeightsAndAliasesDropout) {
  auto r = testing::lowerText("model m { input x: f32[b, 6, 3]\n h = lstm(x, hidden=5, layers=2, dropout=0.5)\n"
                              " y = dropout(h, p=0.1)\n output y }");
  ASSERT_TRUE(r.graph) << r.diagnostics;
  SymbolicPlan plan = planSymbolic(*r.graph, {});
  ASSERT_EQ(plan.steps.size(), 2u); // two LSTM layers; the dropouts alias
  EXPECT_EQ(plan.locations[*r.graph->find("y")].index, plan.locations[*r.graph->find("h")].index);
  EXPECT_EQ(plan.packed.size(), 6u); // per layer: W_ih^T, W_hh^T, bias sum
  const PackedParam &wih = plan.packed[plan.packedFor[*r.graph->find("h.weight_ih_l0")]];
  EXPECT_EQ(wih.rows, 20);
  EXPECT_EQ(wih.cols, 3);
  // Per layer: the output [6*5], the hoisted projection [6*20], the cell [5].
  EXPECT_EQ(plan.steps[0].scratch.size(), 2u);
  PlanOptions noHoist;
  noHoist.hoistInputProjection = false;
  EXPECT_EQ(planSymbolic(*r.graph, noHoist).steps[0].scratch.size(), 1u);
}

/// The arena buffers a step touches: its operands, its result, its scratch.
std::vector<int> buffersOf(const SymbolicPlan &plan, const ir::Graph &graph, const Step &step) {
  std::vector<int> ids;
  auto add = [&](ir::ValueId v) {
    if (plan.locations[v].kind == Location::Kind::Arena)
      ids.push_back(plan.locations[v].index);
  };
  for (ir::ValueId operand : graph.op(step.op).operands)
    add(operand);
  add(step.op);
  for (const Step::Buffer &b : step.scratch)
    ids.push_back(b.buffer);
  return ids;
}

TEST(SymbolicPlan, KeepsTheBuffersOfConcurrentDirectionsApart) {
  // Bidirectional layers, with and without lengths, LSTM and GRU, inference
  // and training: the two directions of each layer are one pair of steps,
  // and no buffer either of them touches shares space with another.
  struct Case {
    const char *text;
    int pairs;
  };
  const Case cases[] = {
      {"model m { input x: f32[b, 6, 3]\n target y: f32[b, 2]\n"
      " h = lstm(x, hidden=5, layers=2, bidirectional=true, dropout=0.3)\n"
      " p = dense(last(h), units=2)\n loss mse(p, y)\n optimizer adam(lr=0.01) }",
       2},
      {"model m { input x: f32[b, 7, 4]\n input n: i32[b]\n target y: f32[b, 3]\n"
       " h = gru(x, hidden=6, layers=3, bidirectional=true, lengths=n)\n p = dense(mean(h), units=3)\n"
       " loss mse(p, y)\n optimizer sgd(lr=0.1) }",
       3},
      // returns="last": the first direction's last step comes between the
      // two in graph order; the second moves up to run beside the first.
      {"model m { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n"
       " h = lstm(x, hidden=9, layers=2, bidirectional=true, returns=\"last\")\n p = dense(h, units=2)\n"
       " loss mse(p, y)\n optimizer sgd(lr=0.1) }",
       2},
      // A stack of one-direction layers has nothing to run at once.
      {"model m { input x: f32[b, 5, 3]\n target y: f32[b, 2]\n h = gru(x, hidden=4, layers=3)\n"
       " p = dense(last(h), units=2)\n loss mse(p, y)\n optimizer sgd(lr=0.1) }",
       0},
  };
  for (const auto &[text, expectedPairs] : cases) {
    auto r = testing::lowerText(text);
    ASSERT_TRUE(r.graph) << r.diagnostics;
    ir::Graph training = *r.graph;
    differentiate(training);
    for (bool train : {false, true}) {
      const ir::Graph &graph = train ? training : *r.graph;
      SymbolicPlan plan = planSymbolic(graph, {}, train);
      int pairs = 0;
      for (size_t s = 0; s + 1 < plan.steps.size(); ++s) {
        if (!plan.steps[s].concurrentWithNext)
          continue;
        ++pairs;
        const ir::Op &a = graph.op(plan.steps[s].op), &b = graph.op(plan.steps[s + 1].op);
        EXPECT_EQ(a.operands[0], b.operands[0]) << "one layer's two directions";
        EXPECT_NE(a.attrs.getBool("reverse"), b.attrs.getBool("reverse"));
        std::vector<int> ids = buffersOf(plan, graph, plan.steps[s]);
        for (int id : buffersOf(plan, graph, plan.steps[s + 1]))
          ids.push_back(id);
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end()); // the shared input
        for (size_t i = 0; i < ids.size(); ++i)
          for (size_t j = i + 1; j < ids.size(); ++j) {
            const Buffer &x = plan.buffers[ids[i]], &y = plan.buffers[ids[j]];
            if (x.fixed != y.fixed || x.perSample == 0 || y.perSample == 0)
              continue; // separate regions, or nothing in the arena
            EXPECT_FALSE(x.offset < y.offset + y.perSample && y.offset < x.offset + x.perSample)
                << (train ? "training" : "inference") << ": steps " << s << "/" << s + 1 << ", buffers " << ids[i]
                << " and " << ids[j];
          }
      }
      EXPECT_EQ(pairs, expectedPairs) << text << (train ? " training" : " inference");
      // Every step still comes after the steps it reads.
      std::vector<bool> done(graph.size(), true);
      for (const Step &step : plan.steps)
        done[step.op] = false;
      for (const Step &step : plan.steps) {
        for (ir::ValueId operand : graph.op(step.op).operands)
          EXPECT_TRUE(done[operand]) << graph.op(step.op).name << " reads " << graph.op(operand).name;
        done[step.op] = true;
      }
      PlanOptions apart;
      apart.concurrentDirections = false;
      SymbolicPlan sequential = planSymbolic(graph, apart, train);
      for (const Step &step : sequential.steps)
        EXPECT_FALSE(step.concurrentWithNext);
    }
  }
}

TEST(ImperativePlan, UnrollsCellsAndFreesEveryTemporary) {
  auto r = testing::lowerText("model m { input x: f32[b, 4, 3]\n h = gru(x, hidden=5, returns=\"last\")\n output h }");
  ASSERT_TRUE(r.graph) << r.diagnostics;
  ImperativePlan plan = planImperative(*r.graph);
  int steps = 0, matmuls = 0, transposes = 0;
  for (const PrimOp &op : plan.ops) {
    steps += op.kernel == Kernel::WriteStep;
    matmuls += op.kernel == Kernel::MatMulNN;
    transposes += op.kernel == Kernel::Transpose;
  }
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(matmuls, 8);    // x W_ih^T and h W_hh^T per step
  EXPECT_EQ(transposes, 0); // W_ih^T and W_hh^T are packed when the parameters change, not per run
  ASSERT_EQ(plan.packed.size(), 2u);
  EXPECT_EQ(plan.packedSlots.size(), 2u);
  for (int slot : plan.packedSlots)
    for (const PrimOp &op : plan.ops) // read by the products, never freed
      EXPECT_EQ(std::count(op.frees.begin(), op.frees.end(), slot), 0);
  // Every temporary but the output is freed exactly once, after its last use.
  std::vector<int> freed(plan.numSlots, 0), lastUse(plan.numSlots, -1);
  for (size_t o = 0; o < plan.ops.size(); ++o) {
    for (int s : plan.ops[o].in)
      lastUse[s] = static_cast<int>(o);
    for (int s : plan.ops[o].frees) {
      ++freed[s];
      EXPECT_EQ(lastUse[s], static_cast<int>(o)) << "slot " << s << " freed at op " << o;
    }
  }
  const int firstTemporary = static_cast<int>(plan.inputs.size() + plan.params.size());
  for (int s = firstTemporary; s < plan.numSlots; ++s)
    if (lastUse[s] >= 0 && s != plan.outputSlot &&
        std::find(plan.packedSlots.begin(), plan.packedSlots.end(), s) == plan.packedSlots.end())
      EXPECT_EQ(freed[s], 1) << "slot " << s;
  EXPECT_EQ(freed[plan.outputSlot], 0);
}

} // namespace
} // namespace rnnc::plan
