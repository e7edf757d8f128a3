//===- ImperativePlan.cpp - Unrolling ops into primitive kernel calls -----===//
#include "compiler/plan/ImperativePlan.h"

#include "compiler/ir/OpFacts.h"
#include "compiler/plan/SymbolicPlan.h"
#include "compiler/support/Diagnostics.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace rnnc::plan {

const char *kernelName(Kernel kernel) {
  static const char *names[] = {"transpose", "add_bias",   "add",         "sub",         "mul",        "sigmoid",
                                "tanh",      "relu",       "copy",        "softmax",     "slice_cols", "select_step",
                                "write_step", "concat2",   "embedding",   "one_minus",   "matmul_nn",  "matmul_tn",
                                "sum_rows",  "dropout",    "loss",        "loss_grad",   "relu_grad",  "softmax_grad",
                                "shift_steps", "embedding_grad", "mask_step", "select_last", "write_last", "mean_steps", "max_steps",
                                "mean_steps_grad", "max_steps_grad", "zeros"};
  static_assert(sizeof names / sizeof names[0] == kNumKernels, "a name for every kernel");
  return names[static_cast<int>(kernel)];
}

int64_t lossKindCode(ir::OpKind loss) {
  switch (loss) {
  case ir::OpKind::Mse: return 0;
  case ir::OpKind::Mae: return 1;
  case ir::OpKind::BceWithLogits: return 2;
  default: return 3; // softmax cross-entropy
  }
}

namespace {

using ir::OpKind;

/// The tensors one recurrent layer's forward steps keep for its gradient,
/// per step in processing order.
struct SavedSteps {
  std::vector<int> x, gates[4], cell, cellTanh, h; // LSTM gates i,f,g,o; GRU r,z,n and W_hn h + b_hn
  int zeroState = -1;                              // h_{-1} = c_{-1} = 0
};

class Unroller {
public:
  Unroller(const ir::Graph &graph, std::vector<PrimOp> &ops, int &numSlots, bool training)
      : graph_(graph), ops_(ops), numSlots_(numSlots), training_(training) {}

  /// Slots for inputs, parameters and (training) targets, then the ops.
  void run(ImperativePlan &plan, const std::vector<ir::ValueId> &roots) {
    const size_t n = graph_.size();
    slotOf_.assign(n, -1);
    const std::vector<bool> needed = sliceOf(graph_, roots);
    plan_ = &plan;
    for (OpKind kind : {OpKind::Input, OpKind::Param, OpKind::Target})
      for (size_t id = 0; id < n; ++id)
        if (graph_.op(id).kind == kind && (kind != OpKind::Target || training_)) {
          slotOf_[id] = numSlots_++;
          if (kind == OpKind::Param)
            paramIndexOfSlot_[slotOf_[id]] = numParams_++;
          if (training_)
            continue;
          if (kind == OpKind::Input)
            plan.inputs.push_back(id);
          if (kind == OpKind::Param) {
            plan.params.push_back(id);
            plan.paramOffsets.push_back(plan.paramElements);
            plan.paramElements = (plan.paramElements + *graph_.op(id).type.elementCount() + 15) / 16 * 16;
          }
        }
    firstTemporary_ = numSlots_;
    for (size_t id = 0; id < n; ++id)
      if (needed[id] && !ir::isSource(graph_.op(id).kind))
        lower(static_cast<ir::ValueId>(id));
    std::vector<int> rootSlots;
    for (ir::ValueId root : roots)
      rootSlots.push_back(slotOf_[root]);
    computeFrees(rootSlots);
  }

  int slot(ir::ValueId id) const { return slotOf_[id]; }

private:
  int emit(Kernel kernel, std::vector<int> in, int64_t outPerSample, std::array<int64_t, 6> p,
           const std::string &comment, int64_t outFixed = 0) {
    PrimOp op;
    op.kernel = kernel;
    op.in = std::move(in);
    op.out = numSlots_++;
    op.outPerSample = outPerSample;
    op.outFixed = outFixed;
    op.p = p;
    op.comment = comment;
    ops_.push_back(op);
    return op.out;
  }

  /// Element-wise kernels take batch*p0 + p5 elements: per sample, or fixed.
  int elementwise(Kernel kernel, std::vector<int> in, const ir::TensorType &type, const std::string &comment,
                  std::array<int64_t, 6> p = {}) {
    if (isFixedSize(type)) {
      p[5] = *type.elementCount();
      return emit(kernel, std::move(in), 0, p, comment, p[5]);
    }
    p[0] = perSampleElements(type);
    return emit(kernel, std::move(in), p[0], p, comment);
  }

  /// An element-wise kernel on [batch, width] step tensors.
  int step(Kernel kernel, std::vector<int> in, int64_t width, const std::string &comment) {
    return emit(kernel, std::move(in), width, {width}, comment);
  }

  void writeStep(int seq, int h, int64_t steps, int64_t rowWidth, int64_t t, int64_t offset, int64_t width,
                 const std::string &comment) {
    PrimOp op;
    op.kernel = Kernel::WriteStep;
    op.in = {seq, h};
    op.out = seq;
    op.inPlace = true;
    op.p = {steps, rowWidth, t, offset, width};
    op.comment = comment;
    ops_.push_back(op);
  }

  /// out[b,:] = step t < lengths[b] ? a[b,:] : alt[b,:] ([batch, width] tensors).
  int mask(int a, int alt, int lengths, int64_t width, int64_t t, int64_t T, const std::string &comment) {
    return emit(Kernel::MaskStep, {a, alt, lengths}, width, {width, t, T}, comment);
  }

  /// x[rows, width] W^T for a PyTorch-layout weight W [units, width]: the
  /// product reads W^T [width, units] (rows of it as vectors). For a
  /// parameter that is a packed weight (PackedWeight), written by the
  /// runtime when the parameters change, not per run; for a computed
  /// operand a Transpose op at its first product, freed after its last.
  /// `rows` per sample.
  int matmulWeightT(int x, int w, int64_t rows, int64_t units, int64_t width, const std::string &comment) {
    auto it = transposed_.find(w);
    if (it == transposed_.end())
      it = transposed_.emplace(w, transposedOf(w, units, width, comment)).first;
    return emit(Kernel::MatMulNN, {x, it->second}, rows * units, {rows, width, units}, comment);
  }

  int transposedOf(int w, int64_t units, int64_t width, const std::string &comment) {
    const auto param = paramIndexOfSlot_.find(w);
    if (param == paramIndexOfSlot_.end())
      return emit(Kernel::Transpose, {w}, 0, {0, units, width}, comment + " W^T", units * width);
    std::vector<PackedWeight> &packed = plan_->packed;
    size_t index = 0;
    while (index < packed.size() && packed[index].param != param->second)
      ++index;
    if (index == packed.size()) {
      PackedWeight weight;
      weight.param = param->second;
      weight.units = units;
      weight.width = width;
      weight.offset = plan_->packedElements;
      packed.push_back(weight);
      plan_->packedElements = (plan_->packedElements + units * width + 15) / 16 * 16;
    }
    RNNC_ASSERT(packed[index].units == units && packed[index].width == width, "a packed weight has one shape");
    std::vector<int> &slots = training_ ? plan_->trainPackedSlots : plan_->packedSlots;
    slots.resize(packed.size(), -1);
    slots[index] = numSlots_++;
    persistent_.push_back(slots[index]);
    return slots[index];
  }

  int matmulBias(int x, int w, int b, int64_t units, int64_t inWidth, const std::string &comment) {
    int y = matmulWeightT(x, w, 1, units, inWidth, comment);
    return emit(Kernel::AddBias, {y, b}, units, {1, units}, comment);
  }

  void recurrent(const ir::Op &op, ir::ValueId id) {
    const ir::TensorType &xt = graph_.op(op.operands[0]).type;
    const ir::RecurrentFacts cell = ir::recurrentFacts(op);
    const int64_t T = xt.dims[1].size, I = xt.dims[2].size, H = cell.hidden, G = cell.gates();
    const bool lstm = cell.lstm(), reverse = cell.reverse;
    const int x = slotOf_[op.operands[0]], wih = slotOf_[op.operands[1]], whh = slotOf_[op.operands[2]],
              bih = slotOf_[op.operands[3]], bhh = slotOf_[op.operands[4]];
    const std::string name = op.name;
    SavedSteps &saved = saved_[id];
    int seq = emit(Kernel::Zeros, {}, T * H, {}, name + " = zeros");
    int h = emit(Kernel::Zeros, {}, H, {}, name + " h0");
    saved.zeroState = h;
    int c = lstm ? h : -1;
    // With lengths, rows past their sample's length keep their state and
    // output 0; what the gradient reads of them is made neutral (LSTM gates
    // 0; GRU z 0, n 1), so that their gradients are exactly 0 and nothing
    // flows through them.
    const std::optional<ir::ValueId> lengthsValue = ir::lengthsOf(op);
    const int lengths = lengthsValue ? slotOf_[*lengthsValue] : -1;
    const int ones = lengths >= 0 && training_ && !lstm ? step(Kernel::OneMinus, {h}, H, name + " ones") : -1;
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      const std::string at = name + " t=" + std::to_string(t);
      int xs = emit(Kernel::SelectStep, {x}, I, {T, I, t}, at);
      int gi = matmulBias(xs, wih, bih, G * H, I, at + " x W_ih");
      int gh = matmulBias(h, whh, bhh, G * H, H, at + " h W_hh");
      auto slice = [&](int from, int64_t k) { return emit(Kernel::SliceCols, {from}, H, {1, G * H, k * H, H}, at); };
      saved.x.push_back(xs);
      int hPrev = h;
      if (lstm) {
        int gates = step(Kernel::Add, {gi, gh}, G * H, at);
        int i = step(Kernel::Sigmoid, {slice(gates, 0)}, H, at + " i");
        int f = step(Kernel::Sigmoid, {slice(gates, 1)}, H, at + " f");
        int g = step(Kernel::Tanh, {slice(gates, 2)}, H, at + " g");
        int o = step(Kernel::Sigmoid, {slice(gates, 3)}, H, at + " o");
        int fc = step(Kernel::Mul, {f, c}, H, at);
        int ig = step(Kernel::Mul, {i, g}, H, at);
        const int cPrev = c;
        c = step(Kernel::Add, {fc, ig}, H, at + " c");
        int tc = step(Kernel::Tanh, {c}, H, at);
        h = step(Kernel::Mul, {o, tc}, H, at + " h");
        if (lengths >= 0) {
          c = mask(c, cPrev, lengths, H, t, T, at + " c kept");
          if (training_)
            for (int *gate : {&i, &f, &g, &o})
              *gate = mask(*gate, saved.zeroState, lengths, H, t, T, at);
        }
        saved.gates[0].push_back(i), saved.gates[1].push_back(f), saved.gates[2].push_back(g), saved.gates[3].push_back(o);
        saved.cell.push_back(c), saved.cellTanh.push_back(tc);
      } else {
        int r = step(Kernel::Sigmoid, {step(Kernel::Add, {slice(gi, 0), slice(gh, 0)}, H, at)}, H, at + " r");
        int z = step(Kernel::Sigmoid, {step(Kernel::Add, {slice(gi, 1), slice(gh, 1)}, H, at)}, H, at + " z");
        int hn = slice(gh, 2);
        int rn = step(Kernel::Mul, {r, hn}, H, at);
        int nn = step(Kernel::Tanh, {step(Kernel::Add, {slice(gi, 2), rn}, H, at)}, H, at + " n");
        int diff = step(Kernel::Sub, {h, nn}, H, at);
        h = step(Kernel::Add, {nn, step(Kernel::Mul, {z, diff}, H, at)}, H, at + " h");
        if (lengths >= 0 && training_) {
          z = mask(z, saved.zeroState, lengths, H, t, T, at);
          nn = mask(nn, ones, lengths, H, t, T, at);
        }
        saved.gates[0].push_back(r), saved.gates[1].push_back(z), saved.gates[2].push_back(nn), saved.gates[3].push_back(hn);
      }
      int y = h;
      if (lengths >= 0) {
        y = mask(h, saved.zeroState, lengths, H, t, T, at + " y");
        h = mask(h, hPrev, lengths, H, t, T, at + " h kept");
      }
      saved.h.push_back(h);
      writeStep(seq, y, T, H, t, 0, H, at);
    }
    slotOf_[id] = seq;
  }

  /// The gradient of one recurrent layer, step by step backwards, from the
  /// tensors its forward steps kept: [B,T,2*G*H] as recurrent_grad defines.
  void recurrentGrad(const ir::Op &op, ir::ValueId id) {
    const ir::Op &forward = graph_.op(op.operands[5]);
    const SavedSteps &saved = saved_.at(op.operands[5]);
    const ir::RecurrentFacts cell = ir::recurrentFacts(op);
    const int64_t T = forward.type.dims[1].size, H = cell.hidden, G = cell.gates(), GH = G * H;
    const bool lstm = cell.lstm(), reverse = cell.reverse;
    const int dy = slotOf_[op.operands[6]], whh = slotOf_[op.operands[2]];
    const std::string name = op.name;
    int out = emit(Kernel::Zeros, {}, T * 2 * GH, {}, name + " = zeros");
    int dhNext = saved.zeroState, dcNext = saved.zeroState;
    for (int64_t s = T - 1; s >= 0; --s) {
      const int64_t t = reverse ? T - 1 - s : s;
      const std::string at = name + " t=" + std::to_string(t);
      auto oneMinus = [&](int a) { return step(Kernel::OneMinus, {a}, H, at); };
      auto mul = [&](int a, int b) { return step(Kernel::Mul, {a, b}, H, at); };
      int dh = step(Kernel::Add, {emit(Kernel::SelectStep, {dy}, H, {T, H, t}, at), dhNext}, H, at + " dh");
      int hPrev = s > 0 ? saved.h[s - 1] : saved.zeroState;
      int dzInput, dzHidden;
      if (lstm) {
        const int i = saved.gates[0][s], f = saved.gates[1][s], g = saved.gates[2][s], o = saved.gates[3][s];
        const int tc = saved.cellTanh[s], cPrev = s > 0 ? saved.cell[s - 1] : saved.zeroState;
        int dc = step(Kernel::Add, {mul(mul(dh, o), oneMinus(mul(tc, tc))), dcNext}, H, at + " dc");
        int dzi = mul(mul(dc, g), mul(i, oneMinus(i)));
        int dzf = mul(mul(dc, cPrev), mul(f, oneMinus(f)));
        int dzg = mul(mul(dc, i), oneMinus(mul(g, g)));
        int dzo = mul(mul(dh, tc), mul(o, oneMinus(o)));
        dcNext = mul(dc, f);
        int dz = emit(Kernel::Concat2, {dzi, dzf}, 2 * H, {1, H, H}, at);
        dz = emit(Kernel::Concat2, {dz, dzg}, 3 * H, {1, 2 * H, H}, at);
        dz = emit(Kernel::Concat2, {dz, dzo}, 4 * H, {1, 3 * H, H}, at);
        dzInput = dzHidden = dz;
        dhNext = emit(Kernel::MatMulNN, {dz, whh}, H, {1, GH, H}, at + " dh_prev");
      } else {
        const int r = saved.gates[0][s], z = saved.gates[1][s], n = saved.gates[2][s], hn = saved.gates[3][s];
        int dn = mul(mul(dh, oneMinus(z)), oneMinus(mul(n, n)));
        int dr = mul(mul(dn, hn), mul(r, oneMinus(r)));
        int dzz = mul(mul(dh, step(Kernel::Sub, {hPrev, n}, H, at)), mul(z, oneMinus(z)));
        int rz = emit(Kernel::Concat2, {dr, dzz}, 2 * H, {1, H, H}, at);
        dzInput = emit(Kernel::Concat2, {rz, dn}, 3 * H, {1, 2 * H, H}, at);
        dzHidden = emit(Kernel::Concat2, {rz, mul(dn, r)}, 3 * H, {1, 2 * H, H}, at);
        dhNext = step(Kernel::Add, {mul(dh, z), emit(Kernel::MatMulNN, {dzHidden, whh}, H, {1, GH, H}, at)}, H,
                      at + " dh_prev");
      }
      writeStep(out, dzInput, T, 2 * GH, t, 0, GH, at);
      writeStep(out, dzHidden, T, 2 * GH, t, GH, GH, at);
    }
    slotOf_[id] = out;
  }

  void lower(ir::ValueId id) {
    const ir::Op &op = graph_.op(id);
    auto in = [&](size_t k) { return slotOf_[op.operands[k]]; };
    const int64_t perSample = perSampleElements(op.type);
    const std::string &name = op.name;
    switch (op.kind) {
    case OpKind::Embedding: {
      const ir::TensorType &table = graph_.op(op.operands[1]).type;
      const int64_t rows = perSampleElements(graph_.op(op.operands[0]).type);
      slotOf_[id] = emit(Kernel::Embedding, {in(0), in(1)}, perSample, {rows, table.dims[1].size, table.dims[0].size}, name);
      return;
    }
    case OpKind::Lstm:
    case OpKind::Gru: recurrent(op, id); return;
    case OpKind::Dense: {
      const ir::TensorType &w = graph_.op(op.operands[1]).type;
      const int64_t units = w.dims[0].size, width = w.dims[1].size, rows = perSample / units;
      int y = matmulWeightT(in(0), in(1), rows, units, width, name);
      if (op.operands.size() > 2)
        y = emit(Kernel::AddBias, {y, in(2)}, perSample, {rows, units}, name);
      slotOf_[id] = y;
      return;
    }
    case OpKind::Dropout:
    case OpKind::DropoutGrad:
      if (op.kind == OpKind::Dropout && !training_) {
        slotOf_[id] = elementwise(Kernel::Copy, {in(0)}, op.type, name); // inference: identity
      } else {
        const double p = op.attrs.getNumber("p");
        const int64_t stream = op.kind == OpKind::Dropout ? ir::dropoutStream(graph_, id) : op.attrs.getInt("stream");
        const float probability = static_cast<float>(p);
        uint32_t bits;
        std::memcpy(&bits, &probability, sizeof bits);
        slotOf_[id] = elementwise(Kernel::Dropout, {in(0)}, op.type, name, {0, bits, stream});
      }
      return;
    case OpKind::Identity: slotOf_[id] = elementwise(Kernel::Copy, {in(0)}, op.type, name); return;
    case OpKind::Concat: {
      const int64_t axis = op.attrs.getInt("axis");
      int64_t rows = 1; // rows per sample of the 2-D view [outer, axis*inner]
      for (int64_t d = 1; d < axis; ++d)
        rows *= op.type.dims[d].size;
      int acc = in(0);
      int64_t width = perSampleElements(graph_.op(op.operands[0]).type) / rows;
      for (size_t k = 1; k < op.operands.size(); ++k) {
        const int64_t w = perSampleElements(graph_.op(op.operands[k]).type) / rows;
        acc = emit(Kernel::Concat2, {acc, in(k)}, rows * (width + w), {rows, width, w}, name);
        width += w;
      }
      if (op.operands.size() == 1)
        acc = elementwise(Kernel::Copy, {acc}, op.type, name);
      slotOf_[id] = acc;
      return;
    }
    case OpKind::First:
    case OpKind::Last: {
      const ir::TensorType &x = graph_.op(op.operands[0]).type;
      const int64_t T = x.dims[1].size, F = x.dims[2].size;
      if (ir::hasLengths(op)) // step length-1 of each sample
        slotOf_[id] = emit(Kernel::SelectLast, {in(0), in(1)}, F, {T, F}, name);
      else
        slotOf_[id] = emit(Kernel::SelectStep, {in(0)}, F, {T, F, op.kind == OpKind::Last ? T - 1 : 0}, name);
      return;
    }
    case OpKind::Mean:
    case OpKind::Max: {
      const ir::TensorType &x = graph_.op(op.operands[0]).type;
      const int64_t T = x.dims[1].size, F = x.dims[2].size;
      const bool lengths = ir::hasLengths(op); // over steps 0..length-1 of each sample
      std::vector<int> ins = {in(0)};
      if (lengths)
        ins.push_back(in(1));
      slotOf_[id] = emit(op.kind == OpKind::Mean ? Kernel::MeanSteps : Kernel::MaxSteps, ins, F, {T, F, lengths}, name);
      return;
    }
    case OpKind::Relu: slotOf_[id] = elementwise(Kernel::Relu, {in(0)}, op.type, name); return;
    case OpKind::Tanh: slotOf_[id] = elementwise(Kernel::Tanh, {in(0)}, op.type, name); return;
    case OpKind::Sigmoid: slotOf_[id] = elementwise(Kernel::Sigmoid, {in(0)}, op.type, name); return;
    case OpKind::Softmax: {
      const int64_t width = op.type.dims.back().size;
      slotOf_[id] = emit(Kernel::Softmax, {in(0)}, perSample, {perSample / width, width}, name);
      return;
    }
    case OpKind::Mse:
    case OpKind::Mae:
    case OpKind::BceWithLogits:
    case OpKind::SoftmaxCrossEntropy:
    case OpKind::LossGrad: {
      const OpKind loss = ir::lossKindOf(op);
      const ir::TensorType &pred = graph_.op(op.operands[0]).type;
      const std::array<int64_t, 6> p = {perSampleElements(pred), pred.dims.back().size, 0, lossKindCode(loss)};
      slotOf_[id] = op.kind == OpKind::LossGrad ? emit(Kernel::LossGrad, {in(0), in(1)}, p[0], p, name)
                                                : emit(Kernel::Loss, {in(0), in(1)}, 0, p, name, 1);
      return;
    }
    case OpKind::DenseGradInput: {
      const ir::TensorType &w = graph_.op(op.operands[1]).type;
      const int64_t units = w.dims[0].size, width = w.dims[1].size;
      slotOf_[id] = emit(Kernel::MatMulNN, {in(0), in(1)}, perSample, {perSample / width, units, width}, name);
      return;
    }
    case OpKind::DenseGradWeight: {
      const int64_t units = op.type.dims[0].size, width = op.type.dims[1].size;
      const int64_t rows = perSampleElements(graph_.op(op.operands[0]).type) / units;
      slotOf_[id] = emit(Kernel::MatMulTN, {in(0), in(1)}, 0, {rows, units, width}, name, units * width);
      return;
    }
    case OpKind::SumRows: {
      const int64_t units = op.type.dims[0].size;
      const int64_t rows = perSampleElements(graph_.op(op.operands[0]).type) / units;
      slotOf_[id] = emit(Kernel::SumRows, {in(0)}, 0, {rows, units}, name, units);
      return;
    }
    case OpKind::RecurrentGrad: recurrentGrad(op, id); return;
    case OpKind::ShiftSteps:
      slotOf_[id] = emit(Kernel::ShiftSteps, {in(0)}, perSample,
                         {op.type.dims[1].size, op.type.dims[2].size, op.attrs.getBool("reverse")}, name);
      return;
    case OpKind::Slice: {
      const ir::TensorType &x = graph_.op(op.operands[0]).type;
      const int64_t axis = op.attrs.getInt("axis");
      int64_t outer = 1, inner = 1;
      for (int64_t d = 1; d < axis; ++d)
        outer *= x.dims[d].size;
      for (size_t d = axis + 1; d < x.rank(); ++d)
        inner *= x.dims[d].size;
      const int64_t along = x.dims[axis].size, width = op.attrs.getInt("width") * inner;
      slotOf_[id] = emit(Kernel::SliceCols, {in(0)}, perSample,
                         {outer, along * inner, op.attrs.getInt("offset") * inner, width}, name);
      return;
    }
    case OpKind::StepGrad: {
      const int64_t T = op.attrs.getInt("steps"), F = op.type.dims[2].size;
      int seq = emit(Kernel::Zeros, {}, T * F, {}, name);
      if (ir::hasLengths(op)) { // at step length-1 of each sample
        PrimOp write;
        write.kernel = Kernel::WriteLast;
        write.in = {seq, in(0), in(1)};
        write.out = seq;
        write.inPlace = true;
        write.p = {T, F};
        write.comment = name;
        ops_.push_back(write);
      } else {
        writeStep(seq, in(0), T, F, op.attrs.getInt("index"), 0, F, name);
      }
      slotOf_[id] = seq;
      return;
    }
    case OpKind::MeanGrad:
    case OpKind::MaxGrad: { // in(0) dy, max_grad in(1) x; then the lengths if any
      const int64_t T = op.type.dims[1].size, F = op.type.dims[2].size;
      std::vector<int> ins;
      for (size_t k = 0; k < op.operands.size(); ++k)
        ins.push_back(in(k));
      slotOf_[id] = emit(op.kind == OpKind::MeanGrad ? Kernel::MeanStepsGrad : Kernel::MaxStepsGrad, ins, T * F,
                         {T, F, ir::hasLengths(op)}, name);
      return;
    }
    case OpKind::EmbeddingGrad: {
      const int64_t vocab = op.attrs.getInt("vocab"), dim = op.type.dims[1].size;
      const int64_t rows = perSampleElements(graph_.op(op.operands[0]).type);
      slotOf_[id] = emit(Kernel::EmbeddingGrad, {in(0), in(1)}, 0, {rows, dim, vocab}, name, vocab * dim);
      return;
    }
    case OpKind::ActivationGrad: {
      const std::string fn = op.attrs.getString("fn");
      const int dy = in(0), y = in(1);
      if (fn == "relu") {
        slotOf_[id] = elementwise(Kernel::ReluGrad, {dy, y}, op.type, name);
      } else if (fn == "softmax") {
        const int64_t width = op.type.dims.back().size;
        slotOf_[id] = emit(Kernel::SoftmaxGrad, {dy, y}, perSample, {perSample / width, width}, name);
      } else {
        int local = fn == "tanh" ? elementwise(Kernel::OneMinus, {elementwise(Kernel::Mul, {y, y}, op.type, name)}, op.type, name)
                                 : elementwise(Kernel::Mul, {y, elementwise(Kernel::OneMinus, {y}, op.type, name)}, op.type, name);
        slotOf_[id] = elementwise(Kernel::Mul, {dy, local}, op.type, name);
      }
      return;
    }
    case OpKind::Add: slotOf_[id] = elementwise(Kernel::Add, {in(0), in(1)}, op.type, name); return;
    default:
      RNNC_ASSERT(false, std::string("the imperative plan covers the op ") + ir::opInfo(op.kind).mnemonic);
    }
  }

  void computeFrees(const std::vector<int> &keep) {
    std::vector<int> lastUse(numSlots_, -1);
    for (size_t o = 0; o < ops_.size(); ++o)
      for (int s : ops_[o].in)
        lastUse[s] = static_cast<int>(o);
    for (int s = firstTemporary_; s < numSlots_; ++s)
      if (lastUse[s] >= 0 && std::find(keep.begin(), keep.end(), s) == keep.end() &&
          std::find(persistent_.begin(), persistent_.end(), s) == persistent_.end()) {
        std::vector<int> &frees = ops_[lastUse[s]].frees;
        if (std::find(frees.begin(), frees.end(), s) == frees.end())
          frees.push_back(s);
      }
    // An in-place op writes into its first operand: that tensor stays alive
    // as the op's output, so it is freed where the output is last used.
    for (PrimOp &op : ops_)
      if (op.inPlace)
        op.frees.erase(std::remove(op.frees.begin(), op.frees.end(), op.out), op.frees.end());
  }

  const ir::Graph &graph_;
  std::vector<PrimOp> &ops_;
  int &numSlots_;
  const bool training_;
  std::vector<int> slotOf_;
  std::map<ir::ValueId, SavedSteps> saved_;
  std::map<int, int> transposed_; ///< weight slot -> the slot of its transpose
  std::map<int, int> paramIndexOfSlot_;
  std::vector<int> persistent_; ///< the packed weights' slots: never freed
  ImperativePlan *plan_ = nullptr;
  int numParams_ = 0;
  int firstTemporary_ = 0;
};

} // namespace

ImperativePlan planImperative(const ir::Graph &graph, const ir::Graph *training) {
  RNNC_ASSERT(graph.output, "a graph that is compiled has an output");
  ImperativePlan plan;
  Unroller forward(graph, plan.ops, plan.numSlots, false);
  forward.run(plan, {*graph.output});
  plan.outputSlot = forward.slot(*graph.output);
  if (training) {
    RNNC_ASSERT(training->loss, "a training program needs a loss");
    std::vector<ir::ValueId> roots = {*training->loss};
    for (const auto &[param, grad] : training->gradients)
      roots.push_back(grad);
    Unroller backward(*training, plan.trainOps, plan.trainNumSlots, true);
    backward.run(plan, roots);
    for (size_t id = 0; id < training->size(); ++id)
      if (training->op(id).kind == OpKind::Target)
        plan.targets.push_back(id);
    plan.lossSlot = backward.slot(*training->loss);
    for (const auto &[param, grad] : training->gradients) {
      const auto at = std::find(plan.params.begin(), plan.params.end(), param);
      RNNC_ASSERT(at != plan.params.end(), "every differentiated parameter is in the parameter table");
      plan.gradients.emplace_back(static_cast<int>(at - plan.params.begin()), backward.slot(grad));
    }
  }
  plan.packedSlots.resize(plan.packed.size(), -1);
  plan.trainPackedSlots.resize(plan.packed.size(), -1);
  return plan;
}

} // namespace rnnc::plan
