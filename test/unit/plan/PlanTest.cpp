//===- PlanTest.cpp - Arena layout, packing, the imperative op list -------===//
#include "compiler/plan/ImperativePlan.h"
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
