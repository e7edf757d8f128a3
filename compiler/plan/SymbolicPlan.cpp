//===- SymbolicPlan.cpp - Steps, locations, packing and the arena ---------===//
#include "compiler/plan/SymbolicPlan.h"

#include "compiler/ir/OpFacts.h"
#include "compiler/support/Diagnostics.h"

#include <algorithm>
#include <array>
#include <list>

namespace rnnc::plan {
namespace {

int64_t alignUp(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

} // namespace

const char *planKindName(PlanKind kind) { return kind == PlanKind::Symbolic ? "symbolic" : "imperative"; }

std::vector<bool> forwardSlice(const ir::Graph &graph) {
  if (!graph.output)
    return std::vector<bool>(graph.size(), false);
  return sliceOf(graph, {*graph.output});
}

bool isFixedSize(const ir::TensorType &type) { return type.rank() == 0 || !type.dims[0].isSymbolic(); }

std::vector<bool> sliceOf(const ir::Graph &graph, const std::vector<ir::ValueId> &roots) {
  std::vector<bool> needed(graph.size(), false);
  for (ir::ValueId root : roots)
    needed[root] = true;
  for (size_t id = graph.size(); id-- > 0;)
    if (needed[id])
      for (ir::ValueId operand : graph.op(id).operands)
        needed[operand] = true;
  return needed;
}

int64_t perSampleElements(const ir::TensorType &type) {
  int64_t n = 1;
  for (const ir::Dim &d : type.dims)
    if (!d.isSymbolic())
      n *= d.size;
  return n;
}

namespace {

int64_t layoutSome(std::vector<Buffer> &buffers, std::vector<int> order, bool reuse);

} // namespace

int64_t layoutArena(std::vector<Buffer> &buffers, bool reuse, int64_t *fixedSize) {
  std::vector<int> perSample, fixed;
  for (size_t i = 0; i < buffers.size(); ++i)
    (buffers[i].fixed ? fixed : perSample).push_back(static_cast<int>(i));
  const int64_t fixedTotal = layoutSome(buffers, fixed, reuse);
  if (fixedSize)
    *fixedSize = fixedTotal;
  return layoutSome(buffers, perSample, reuse);
}

namespace {

int64_t layoutSome(std::vector<Buffer> &buffers, std::vector<int> order, bool reuse) {
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return buffers[a].firstStep < buffers[b].firstStep; });
  struct Block {
    int64_t offset, size;
  };
  std::list<Block> free;       // sorted by offset
  std::vector<int> live;       // placed buffers not yet released
  int64_t end = 0;
  for (int id : order) {
    Buffer &buffer = buffers[id];
    const int64_t size = alignUp(std::max<int64_t>(buffer.perSample, 1), 16);
    if (reuse) {
      // Release every buffer whose last step is before this one's first.
      for (auto it = live.begin(); it != live.end();) {
        const Buffer &dead = buffers[*it];
        if (dead.lastStep < buffer.firstStep) {
          Block block{dead.offset, alignUp(std::max<int64_t>(dead.perSample, 1), 16)};
          auto pos = std::find_if(free.begin(), free.end(), [&](const Block &b) { return b.offset > block.offset; });
          auto inserted = free.insert(pos, block);
          // Merge with the neighbours.
          if (inserted != free.begin()) {
            auto prev = std::prev(inserted);
            if (prev->offset + prev->size == inserted->offset) {
              prev->size += inserted->size;
              free.erase(inserted);
              inserted = prev;
            }
          }
          auto next = std::next(inserted);
          if (next != free.end() && inserted->offset + inserted->size == next->offset) {
            inserted->size += next->size;
            free.erase(next);
          }
          it = live.erase(it);
        } else {
          ++it;
        }
      }
      auto fit = std::find_if(free.begin(), free.end(), [&](const Block &b) { return b.size >= size; });
      if (fit != free.end()) {
        buffer.offset = fit->offset;
        fit->offset += size;
        fit->size -= size;
        if (fit->size == 0)
          free.erase(fit);
        live.push_back(id);
        continue;
      }
      live.push_back(id);
    }
    buffer.offset = end;
    end += size;
  }
  return end;
}

} // namespace

SymbolicPlan planSymbolic(const ir::Graph &graph, const PlanOptions &options, bool training) {
  using ir::OpKind;
  RNNC_ASSERT(graph.output, "a graph that is compiled has an output");
  RNNC_ASSERT(!training || graph.loss, "a training program needs a loss");
  SymbolicPlan plan;
  plan.options = options;
  plan.training = training;
  plan.output = training ? *graph.loss : *graph.output;
  const size_t n = graph.size();
  plan.locations.assign(n, {});
  plan.resultBuffer.assign(n, -1);
  plan.packedFor.assign(n, -1);

  std::vector<ir::ValueId> roots = {plan.output};
  if (training)
    for (const auto &[param, grad] : graph.gradients)
      roots.push_back(grad);
  const std::vector<bool> needed = sliceOf(graph, roots);

  for (size_t id = 0; id < n; ++id) {
    const ir::Op &op = graph.op(id);
    if (op.kind == OpKind::Input) {
      plan.locations[id] = {Location::Kind::Input, static_cast<int>(plan.inputs.size())};
      plan.inputs.push_back(id);
    } else if (op.kind == OpKind::Target) {
      plan.locations[id] = {Location::Kind::Target, static_cast<int>(plan.targets.size())};
      plan.targets.push_back(id);
    } else if (op.kind == OpKind::Param) {
      plan.locations[id] = {Location::Kind::Param, static_cast<int>(plan.params.size())};
      plan.params.push_back(id);
      plan.paramOffsets.push_back(plan.paramElements);
      plan.paramElements = alignUp(plan.paramElements + *op.type.elementCount(), 16);
    }
  }

  auto newBuffer = [&](int64_t perSample, int step, bool fixed = false) {
    plan.buffers.push_back({perSample, -1, step, step, fixed});
    return static_cast<int>(plan.buffers.size() - 1);
  };
  auto pack = [&](PackedParam p) {
    p.offset = plan.packedElements;
    plan.packedElements = alignUp(plan.packedElements + p.rows * p.cols, 16);
    plan.packed.push_back(p);
    plan.packedFor[p.source] = static_cast<int>(plan.packed.size() - 1);
  };

  // Packed weights: every recurrent and dense layer of the graph, in graph
  // order, so that the forward and the training program share one layout.
  for (size_t id = 0; id < n; ++id) {
    const ir::Op &op = graph.op(id);
    if (op.kind == OpKind::Lstm || op.kind == OpKind::Gru) {
      const int64_t width = graph.op(op.operands[0]).type.dims[2].size;
      const ir::RecurrentFacts cell = ir::recurrentFacts(op);
      const int64_t hidden = cell.hidden, gates = cell.gates();
      pack({PackedParam::Layout::Transposed, op.operands[1], 0, gates * hidden, width});
      PackedParam whh{PackedParam::Layout::Transposed, op.operands[2], 0, gates * hidden, hidden};
      if (options.fuseCells && options.hoistInputProjection && hidden % kPanelAlign == 0)
        whh.panel = std::min(recurrentPanel(hidden, gates, kPanelAlign), hidden);
      pack(whh);
      pack({PackedParam::Layout::BiasSum, op.operands[3], op.operands[4], 1, gates * hidden,
            cell.lstm() ? gates * hidden : 2 * hidden});
    } else if (op.kind == OpKind::Dense) {
      const ir::TensorType &w = graph.op(op.operands[1]).type;
      pack({PackedParam::Layout::Transposed, op.operands[1], 0, w.dims[0].size, w.dims[1].size});
    }
  }

  // Training: the recurrent_grad step of each recurrent layer (it reads the
  // layer's y as operand 5), so that the forward step keeps a workspace for it.
  std::vector<bool> kept(n, false);
  if (training)
    for (size_t id = 0; id < n; ++id)
      if (needed[id] && graph.op(id).kind == OpKind::RecurrentGrad)
        kept[graph.op(id).operands[5]] = true;
  std::vector<int> workspace(n, -1); // per recurrent layer: the buffer it keeps

  // recurrent_grad results that are only read by the two slices of autodiff
  // (input side at offset 0, hidden side at G*H): the kernel writes the
  // halves into the slices' buffers, and the slices are no steps.
  // halfOf[slice] = {grad, 0 or 1}; halves[grad] = the two slices.
  std::vector<std::pair<ir::ValueId, int>> halfOf(n, {0, -1});
  std::vector<int> users(n, 0);
  for (size_t id = 0; id < n; ++id)
    if (needed[id])
      for (ir::ValueId operand : graph.op(id).operands)
        ++users[operand];
  std::vector<std::array<int, 2>> halfBuffers(n, {-1, -1});
  if (training)
    for (size_t id = 0; id < n; ++id) {
      const ir::Op &op = graph.op(id);
      if (!needed[id] || op.kind != OpKind::Slice || graph.op(op.operands[0]).kind != OpKind::RecurrentGrad)
        continue;
      const ir::RecurrentFacts cell = ir::recurrentFacts(graph.op(op.operands[0]));
      const int64_t width = cell.gates() * cell.hidden;
      if (op.attrs.getInt("axis") == 2 && op.attrs.getInt("width") == width &&
          (op.attrs.getInt("offset") == 0 || op.attrs.getInt("offset") == width))
        halfOf[id] = {op.operands[0], op.attrs.getInt("offset") == 0 ? 0 : 1};
    }
  std::vector<std::array<int, 2>> halfCount(n, {0, 0});
  for (size_t id = 0; id < n; ++id)
    if (halfOf[id].second >= 0)
      ++halfCount[halfOf[id].first][halfOf[id].second];
  auto splitGrad = [&](ir::ValueId grad) {
    return halfCount[grad][0] == 1 && halfCount[grad][1] == 1 && users[grad] == 2;
  };

  // The steps in graph order, except that the second direction of a
  // bidirectional layer moves up next to the first when it reads nothing in
  // between (returns="last" puts the first direction's last step there), so
  // that the two can run at the same time (see below).
  std::vector<ir::ValueId> order(n);
  for (size_t id = 0; id < n; ++id)
    order[id] = static_cast<ir::ValueId>(id);
  auto recurrent = [&](const ir::Op &op) { return op.kind == OpKind::Lstm || op.kind == OpKind::Gru; };
  if (options.concurrentDirections)
    for (size_t i = 0; i < n; ++i) {
      const ir::Op &first = graph.op(order[i]);
      if (!needed[order[i]] || !recurrent(first))
        continue;
      for (size_t j = i + 1; j < n; ++j) {
        const ir::Op &second = graph.op(order[j]);
        if (!needed[order[j]] || !recurrent(second))
          continue;
        // Ops keep graph (topological) order outside the pairs, so a
        // dependence on an op in between is a direct operand in between.
        const bool free = std::none_of(second.operands.begin(), second.operands.end(), [&](ir::ValueId v) {
          return !ir::isSource(graph.op(v).kind) && std::find(order.begin() + i, order.begin() + j, v) != order.begin() + j;
        });
        if (free && second.kind == first.kind && second.operands[0] == first.operands[0])
          std::rotate(order.begin() + i + 1, order.begin() + j, order.begin() + j + 1);
        break; // only the next recurrent op can be the other direction
      }
    }

  for (ir::ValueId id : order) {
    const ir::Op &op = graph.op(id);
    if (!needed[id] || ir::isSource(op.kind))
      continue;
    if (op.kind == OpKind::Target)
      continue;
    const int step = static_cast<int>(plan.steps.size());
    if ((op.kind == OpKind::Dropout && !training) || op.kind == OpKind::Identity) {
      plan.locations[id] = plan.locations[op.operands[0]]; // inference: the same tensor
      continue;
    }
    if (halfOf[id].second >= 0 && splitGrad(halfOf[id].first)) { // written by its recurrent_grad step
      plan.locations[id] = {Location::Kind::Arena, halfBuffers[halfOf[id].first][halfOf[id].second]};
      continue;
    }
    Step s{static_cast<ir::ValueId>(id), {}, std::nullopt};
    const bool fixed = isFixedSize(op.type);
    const int result = newBuffer(fixed ? *op.type.elementCount() : perSampleElements(op.type), step, fixed);
    plan.resultBuffer[id] = result;
    plan.locations[id] = {Location::Kind::Arena, result};
    if (op.kind == OpKind::Lstm || op.kind == OpKind::Gru) {
      const ir::TensorType &x = graph.op(op.operands[0]).type;
      const int64_t steps = x.dims[1].size, width = x.dims[2].size;
      const ir::RecurrentFacts cell = ir::recurrentFacts(op);
      const int64_t hidden = cell.hidden, gates = cell.gates();
      (void)width;
      if (options.hoistInputProjection)
        s.scratch.push_back({Scratch::Projection, newBuffer(steps * gates * hidden, step)});
      if (cell.lstm())
        s.scratch.push_back({Scratch::CellState, newBuffer(hidden, step)});
      if (ir::hasLengths(op) && options.fuseCells && options.hoistInputProjection)
        s.scratch.push_back({Scratch::RowOrder, newBuffer(1, step)});
      if (!options.fuseCells)
        s.scratch.push_back({Scratch::Gates, newBuffer((gates + 1) * hidden, step)});
      if (kept[id]) {
        workspace[id] = newBuffer(steps * (gates + 1) * hidden, step);
        s.scratch.push_back({Scratch::Workspace, workspace[id]});
      }
    } else if (op.kind == OpKind::DenseGradWeight) {
      s.scratch.push_back({Scratch::Panels, newBuffer(weightGradPanelElements(op.type.dims[0].size), step, true)});
    }
    if ((op.kind == OpKind::DenseGradInput || op.kind == OpKind::DenseGradWeight || op.kind == OpKind::SumRows) &&
        options.skipPadRows && halfOf[op.operands[0]].second >= 0) {
      // Over the gate gradients of a layer with lengths: only the rows of
      // the real steps (the recurrent_grad kernel zeroes the others).
      const ir::Op &grad = graph.op(halfOf[op.operands[0]].first);
      if (graph.op(op.operands[0]).type.rank() == 3)
        s.rowLengths = ir::lengthsOf(grad);
    }
    if (op.kind == OpKind::RecurrentGrad) {
      const ir::RecurrentFacts cell = ir::recurrentFacts(op);
      const int ws = workspace[op.operands[5]];
      RNNC_ASSERT(ws >= 0, "a recurrent layer's forward step comes before its recurrent_grad step");
      plan.buffers[ws].lastStep = step; // kept from the forward step until here
      s.scratch.push_back({Scratch::Workspace, ws});
      s.scratch.push_back({Scratch::HiddenGrad, newBuffer(cell.hidden, step)});
      if (cell.lstm())
        s.scratch.push_back({Scratch::CellGrad, newBuffer(cell.hidden, step)});
      s.scratch.push_back({Scratch::RunningGateGrad, newBuffer(cell.gates() * cell.hidden, step)});
      if (ir::hasLengths(op)) {
        s.scratch.push_back({Scratch::RowOrder, newBuffer(1, step)});
        s.scratch.push_back({Scratch::RunningHiddenGrad, newBuffer(cell.hidden, step)});
      }
      if (splitGrad(id)) {
        const int64_t steps = graph.op(op.operands[0]).type.dims[1].size, width = cell.gates() * cell.hidden;
        plan.buffers[result].perSample = 0; // nothing is written to the result itself
        std::array<int, 2> &h = halfBuffers[id];
        h[0] = newBuffer(steps * width, step);
        h[1] = cell.lstm() ? h[0] : newBuffer(steps * width, step);
        s.scratch.push_back({Scratch::InputSideGrad, h[0]});
        s.scratch.push_back({Scratch::HiddenSideGrad, h[1]});
      }
    }
    plan.steps.push_back(std::move(s));
  }

  // A gradient that one step writes and that is the gradient of one
  // parameter lives in the gradient buffer itself: its arena buffer is empty.
  if (training) {
    std::vector<int> gradientOf(n, 0);
    for (const auto &[param, grad] : graph.gradients)
      ++gradientOf[grad];
    for (const auto &[param, grad] : graph.gradients) {
      const int result = plan.resultBuffer[grad];
      if (result < 0 || gradientOf[grad] != 1 || plan.locations[grad].kind != Location::Kind::Arena ||
          plan.locations[grad].index != result)
        continue;
      plan.locations[grad] = {Location::Kind::Gradient, plan.locations[param].index};
      plan.buffers[result].perSample = 0;
    }
  }

  // Live ranges: a value lives until its last use; the output until the end.
  auto extend = [&](ir::ValueId value, int step) {
    const Location &loc = plan.locations[value];
    if (loc.kind == Location::Kind::Arena)
      plan.buffers[loc.index].lastStep = std::max(plan.buffers[loc.index].lastStep, step);
  };
  for (size_t s = 0; s < plan.steps.size(); ++s)
    for (ir::ValueId operand : graph.op(plan.steps[s].op).operands)
      extend(operand, static_cast<int>(s));
  for (ir::ValueId root : roots)
    extend(root, static_cast<int>(plan.steps.size()));

  // The two directions of a bidirectional layer: consecutive recurrent
  // steps, the second not reading the first's result. While they run at
  // the same time, every buffer either uses lives through both steps.
  if (options.concurrentDirections)
    for (size_t s = 0; s + 1 < plan.steps.size(); ++s) {
      const ir::Op &a = graph.op(plan.steps[s].op), &b = graph.op(plan.steps[s + 1].op);
      if (!recurrent(a) || b.kind != a.kind || (s > 0 && plan.steps[s - 1].concurrentWithNext) ||
          std::find(b.operands.begin(), b.operands.end(), plan.steps[s].op) != b.operands.end())
        continue;
      plan.steps[s].concurrentWithNext = true;
      const int first = static_cast<int>(s), second = first + 1;
      for (Buffer &buffer : plan.buffers) {
        if (buffer.firstStep == second)
          buffer.firstStep = first;
        if (buffer.lastStep == first)
          buffer.lastStep = second;
      }
    }

  plan.arenaPerSample = layoutArena(plan.buffers, options.planMemory, &plan.arenaFixed);
  return plan;
}

} // namespace rnnc::plan
