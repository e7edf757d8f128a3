//===- ImperativePlan.cpp - Unrolling ops into primitive kernel calls -----===//
#include "compiler/plan/ImperativePlan.h"

#include "compiler/plan/SymbolicPlan.h"
#include "compiler/support/Diagnostics.h"

#include <algorithm>

namespace rnnc::plan {

const char *kernelName(Kernel kernel) {
  static const char *names[] = {"matmul_nt", "add_bias", "add",     "sub",         "mul",
                                "sigmoid",   "tanh",     "relu",    "copy",        "softmax",
                                "slice_cols", "select_step", "write_step", "concat2", "embedding",
                                "zeros"};
  return names[static_cast<int>(kernel)];
}

namespace {

using ir::OpKind;

class Unroller {
public:
  Unroller(const ir::Graph &graph, ImperativePlan &plan) : graph_(graph), plan_(plan) {}

  void run() {
    const size_t n = graph_.size();
    slotOf_.assign(n, -1);
    const std::vector<bool> needed = forwardSlice(graph_);
    for (size_t id = 0; id < n; ++id)
      if (graph_.op(id).kind == OpKind::Input) {
        slotOf_[id] = plan_.numSlots++;
        plan_.inputs.push_back(id);
      }
    for (size_t id = 0; id < n; ++id)
      if (graph_.op(id).kind == OpKind::Param) {
        slotOf_[id] = plan_.numSlots++;
        plan_.params.push_back(id);
        plan_.paramOffsets.push_back(plan_.paramElements);
        plan_.paramElements = (plan_.paramElements + *graph_.op(id).type.elementCount() + 15) / 16 * 16;
      }
    firstTemporary_ = plan_.numSlots;
    for (size_t id = 0; id < n; ++id)
      if (needed[id] && !ir::isSource(graph_.op(id).kind))
        lower(static_cast<ir::ValueId>(id));
    plan_.outputSlot = slotOf_[*graph_.output];
    computeFrees();
  }

private:
  int emit(Kernel kernel, std::vector<int> in, int64_t outPerSample, std::array<int64_t, 6> p,
           const std::string &comment) {
    PrimOp op;
    op.kernel = kernel;
    op.in = std::move(in);
    op.out = plan_.numSlots++;
    op.outPerSample = outPerSample;
    op.p = p;
    op.comment = comment;
    plan_.ops.push_back(op);
    return op.out;
  }

  void writeStep(int seq, int h, int64_t steps, int64_t width, int64_t t, const std::string &comment) {
    PrimOp op;
    op.kernel = Kernel::WriteStep;
    op.in = {seq, h};
    op.out = seq;
    op.inPlace = true;
    op.p = {steps, width, t};
    op.comment = comment;
    plan_.ops.push_back(op);
  }

  int matmulBias(int x, int64_t rowsPerSample, int w, int b, int64_t units, int64_t inWidth,
                 const std::string &comment) {
    int y = emit(Kernel::MatMulNT, {x, w}, rowsPerSample * units, {rowsPerSample, units, inWidth}, comment);
    return emit(Kernel::AddBias, {y, b}, rowsPerSample * units, {rowsPerSample, units}, comment);
  }

  void recurrent(const ir::Op &op, ir::ValueId id) {
    const ir::TensorType &xt = graph_.op(op.operands[0]).type;
    const int64_t T = xt.dims[1].size, I = xt.dims[2].size, H = op.attrs.getInt("hidden");
    const bool lstm = op.kind == OpKind::Lstm, reverse = op.attrs.getBool("reverse");
    const int64_t G = lstm ? 4 : 3;
    const int x = slotOf_[op.operands[0]], wih = slotOf_[op.operands[1]], whh = slotOf_[op.operands[2]],
              bih = slotOf_[op.operands[3]], bhh = slotOf_[op.operands[4]];
    const std::string name = op.name;
    int seq = emit(Kernel::Zeros, {}, T * H, {}, name + " = zeros");
    int h = emit(Kernel::Zeros, {}, H, {}, name + " h0");
    int c = lstm ? emit(Kernel::Zeros, {}, H, {}, name + " c0") : -1;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      const std::string at = name + " t=" + std::to_string(t);
      int xs = emit(Kernel::SelectStep, {x}, I, {T, I, t}, at);
      int gi = matmulBias(xs, 1, wih, bih, G * H, I, at + " x W_ih");
      int gh = matmulBias(h, 1, whh, bhh, G * H, H, at + " h W_hh");
      auto slice = [&](int from, int64_t k) {
        return emit(Kernel::SliceCols, {from}, H, {1, G * H, k * H, H}, at);
      };
      if (lstm) {
        int gates = emit(Kernel::Add, {gi, gh}, G * H, {G * H}, at);
        int i = emit(Kernel::Sigmoid, {slice(gates, 0)}, H, {H}, at + " i");
        int f = emit(Kernel::Sigmoid, {slice(gates, 1)}, H, {H}, at + " f");
        int g = emit(Kernel::Tanh, {slice(gates, 2)}, H, {H}, at + " g");
        int o = emit(Kernel::Sigmoid, {slice(gates, 3)}, H, {H}, at + " o");
        int fc = emit(Kernel::Mul, {f, c}, H, {H}, at);
        int ig = emit(Kernel::Mul, {i, g}, H, {H}, at);
        c = emit(Kernel::Add, {fc, ig}, H, {H}, at + " c");
        int tc = emit(Kernel::Tanh, {c}, H, {H}, at);
        h = emit(Kernel::Mul, {o, tc}, H, {H}, at + " h");
      } else {
        int r = emit(Kernel::Sigmoid, {emit(Kernel::Add, {slice(gi, 0), slice(gh, 0)}, H, {H}, at)}, H, {H}, at + " r");
        int z = emit(Kernel::Sigmoid, {emit(Kernel::Add, {slice(gi, 1), slice(gh, 1)}, H, {H}, at)}, H, {H}, at + " z");
        int rn = emit(Kernel::Mul, {r, slice(gh, 2)}, H, {H}, at);
        int nn = emit(Kernel::Tanh, {emit(Kernel::Add, {slice(gi, 2), rn}, H, {H}, at)}, H, {H}, at + " n");
        int diff = emit(Kernel::Sub, {h, nn}, H, {H}, at);
        h = emit(Kernel::Add, {nn, emit(Kernel::Mul, {z, diff}, H, {H}, at)}, H, {H}, at + " h");
      }
      writeStep(seq, h, T, H, t, at);
    }
    slotOf_[id] = seq;
  }

  void lower(ir::ValueId id) {
    const ir::Op &op = graph_.op(id);
    auto in = [&](size_t k) { return slotOf_[op.operands[k]]; };
    const int64_t perSample = perSampleElements(op.type);
    switch (op.kind) {
    case OpKind::Embedding: {
      const ir::TensorType &table = graph_.op(op.operands[1]).type;
      const int64_t rows = perSampleElements(graph_.op(op.operands[0]).type);
      slotOf_[id] = emit(Kernel::Embedding, {in(0), in(1)}, perSample, {rows, table.dims[1].size, table.dims[0].size}, op.name);
      return;
    }
    case OpKind::Lstm:
    case OpKind::Gru: recurrent(op, id); return;
    case OpKind::Dense: {
      const ir::TensorType &w = graph_.op(op.operands[1]).type;
      const int64_t units = w.dims[0].size, width = w.dims[1].size;
      const int64_t rows = perSample / units;
      int y = emit(Kernel::MatMulNT, {in(0), in(1)}, perSample, {rows, units, width}, op.name);
      if (op.operands.size() > 2)
        y = emit(Kernel::AddBias, {y, in(2)}, perSample, {rows, units}, op.name);
      slotOf_[id] = y;
      return;
    }
    case OpKind::Dropout:
    case OpKind::Identity: slotOf_[id] = emit(Kernel::Copy, {in(0)}, perSample, {perSample}, op.name); return;
    case OpKind::Concat: {
      const int64_t axis = op.attrs.getInt("axis");
      int64_t rows = 1; // rows per sample of the 2-D view [outer, axis*inner]
      for (int64_t d = 1; d < axis; ++d)
        rows *= op.type.dims[d].size;
      int acc = in(0);
      int64_t width = perSampleElements(graph_.op(op.operands[0]).type) / rows;
      for (size_t k = 1; k < op.operands.size(); ++k) {
        const int64_t w = perSampleElements(graph_.op(op.operands[k]).type) / rows;
        acc = emit(Kernel::Concat2, {acc, in(k)}, rows * (width + w), {rows, width, w}, op.name);
        width += w;
      }
      if (op.operands.size() == 1)
        acc = emit(Kernel::Copy, {acc}, perSample, {perSample}, op.name);
      slotOf_[id] = acc;
      return;
    }
    case OpKind::First:
    case OpKind::Last: {
      const ir::TensorType &x = graph_.op(op.operands[0]).type;
      const int64_t T = x.dims[1].size, F = x.dims[2].size;
      slotOf_[id] = emit(Kernel::SelectStep, {in(0)}, F, {T, F, op.kind == OpKind::Last ? T - 1 : 0}, op.name);
      return;
    }
    case OpKind::Relu: slotOf_[id] = emit(Kernel::Relu, {in(0)}, perSample, {perSample}, op.name); return;
    case OpKind::Tanh: slotOf_[id] = emit(Kernel::Tanh, {in(0)}, perSample, {perSample}, op.name); return;
    case OpKind::Sigmoid: slotOf_[id] = emit(Kernel::Sigmoid, {in(0)}, perSample, {perSample}, op.name); return;
    case OpKind::Softmax: {
      const int64_t width = op.type.dims.back().size;
      slotOf_[id] = emit(Kernel::Softmax, {in(0)}, perSample, {perSample / width, width}, op.name);
      return;
    }
    default: RNNC_ASSERT(false, std::string("the imperative plan covers the forward op ") + ir::opInfo(op.kind).mnemonic);
    }
  }

  void computeFrees() {
    std::vector<int> lastUse(plan_.numSlots, -1);
    for (size_t o = 0; o < plan_.ops.size(); ++o)
      for (int s : plan_.ops[o].in)
        lastUse[s] = static_cast<int>(o);
    for (int s = firstTemporary_; s < plan_.numSlots; ++s)
      if (lastUse[s] >= 0 && s != plan_.outputSlot) {
        std::vector<int> &frees = plan_.ops[lastUse[s]].frees;
        if (std::find(frees.begin(), frees.end(), s) == frees.end())
          frees.push_back(s);
      }
    // An in-place op writes into its first operand: that tensor stays alive
    // as the op's output, so it is freed where the output is last used.
    for (PrimOp &op : plan_.ops)
      if (op.inPlace)
        op.frees.erase(std::remove(op.frees.begin(), op.frees.end(), op.out), op.frees.end());
  }

  const ir::Graph &graph_;
  ImperativePlan &plan_;
  std::vector<int> slotOf_;
  int firstTemporary_ = 0;
};

} // namespace

ImperativePlan planImperative(const ir::Graph &graph) {
  RNNC_ASSERT(graph.output, "a graph that is compiled has an output");
  ImperativePlan plan;
  Unroller(graph, plan).run();
  return plan;
}

} // namespace rnnc::plan
