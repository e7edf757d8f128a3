//===- Autodiff.cpp - Vector-Jacobian products, op by op, in reverse ------===//
#include "compiler/passes/Autodiff.h"

#include "compiler/ir/OpFacts.h"
#include "compiler/support/Diagnostics.h"

#include <map>

namespace rnnc {
namespace {

using ir::Attr;
using ir::AttrMap;
using ir::Op;
using ir::OpKind;
using ir::ValueId;

class Differentiator {
public:
  explicit Differentiator(ir::Graph &graph) : g_(graph) {}

  void run() {
    RNNC_ASSERT(g_.loss, "differentiate needs a graph with a loss");
    const size_t forwardSize = g_.size();
    // 1. Values that depend on a parameter: only they need gradients.
    dependsOnParam_.assign(forwardSize, false);
    for (size_t id = 0; id < forwardSize; ++id) {
      const Op &op = g_.op(id);
      bool depends = op.kind == OpKind::Param;
      for (ValueId operand : op.operands)
        depends = depends || dependsOnParam_[operand];
      dependsOnParam_[id] = depends;
    }
    grad_.assign(forwardSize, std::nullopt);
    // 2. The seed.
    const Op loss = g_.op(*g_.loss);
    AttrMap lossAttrs;
    lossAttrs.set("loss", Attr::ofString(ir::opInfo(loss.kind).mnemonic));
    if (dependsOnParam_[loss.operands[0]])
      accumulate(loss.operands[0], make(OpKind::LossGrad, {loss.operands[0], loss.operands[1]}, lossAttrs, loss));
    // 3. Reverse sweep.
    for (size_t id = *g_.loss; id-- > 0;) {
      if (!grad_[id])
        continue;
      backward(static_cast<ValueId>(id), *grad_[id]);
    }
  }

private:
  ValueId make(OpKind kind, std::vector<ValueId> operands, AttrMap attrs, const Op &from, const std::string &suffix = ".grad") {
    std::vector<ir::TensorType> types;
    for (ValueId v : operands)
      types.push_back(g_.op(v).type);
    std::string error;
    std::optional<ir::TensorType> type = ir::inferType(kind, types, attrs, error);
    RNNC_ASSERT(type, "autodiff makes well-typed ops: " + error);
    return g_.add({kind, g_.uniqueName(from.name + suffix), std::move(operands), std::move(attrs), *type, from.loc});
  }

  void accumulate(ValueId value, ValueId gradient) {
    if (!dependsOnParam_[value])
      return;
    if (!grad_[value]) {
      grad_[value] = gradient;
      return;
    }
    grad_[value] = make(OpKind::Add, {*grad_[value], gradient}, {}, g_.op(value));
  }

  static AttrMap attrs(std::initializer_list<std::pair<const char *, Attr>> items) {
    AttrMap a;
    for (const auto &[name, value] : items)
      a.set(name, value);
    return a;
  }

  void backward(ValueId id, ValueId dy) {
    const Op op = g_.op(id); // copy: make() may grow the op list
    auto in = [&](size_t k) { return op.operands[k]; };
    switch (op.kind) {
    case OpKind::Param: g_.gradients.emplace_back(id, dy); return;
    case OpKind::Input:
    case OpKind::Target: return;
    case OpKind::Embedding:
      accumulate(in(1), make(OpKind::EmbeddingGrad, {in(0), dy},
                             attrs({{"vocab", Attr::ofInt(g_.op(in(1)).type.dims[0].size)}}), g_.op(in(1))));
      return;
    case OpKind::Dense:
      if (dependsOnParam_[in(0)])
        accumulate(in(0), make(OpKind::DenseGradInput, {dy, in(1)}, {}, g_.op(in(0))));
      accumulate(in(1), make(OpKind::DenseGradWeight, {dy, in(0)}, {}, g_.op(in(1))));
      if (op.operands.size() > 2)
        accumulate(in(2), make(OpKind::SumRows, {dy}, {}, g_.op(in(2))));
      return;
    case OpKind::Lstm:
    case OpKind::Gru: {
      const ir::RecurrentFacts cell = ir::recurrentFacts(op);
      const bool lstm = cell.lstm(), reverse = cell.reverse;
      const int64_t hidden = cell.hidden, width = cell.gateRows();
      std::vector<ValueId> gradIn = {in(0), in(1), in(2), in(3), in(4), id, dy};
      if (std::optional<ValueId> lengths = ir::lengthsOf(op)) // steps past a sample's length get no gradient
        gradIn.push_back(*lengths);
      ValueId pre = make(OpKind::RecurrentGrad, gradIn,
                         attrs({{"cell", Attr::ofString(lstm ? "lstm" : "gru")}, {"hidden", Attr::ofInt(hidden)},
                                {"reverse", Attr::ofBool(reverse)}}),
                         op, ".gates.grad");
      auto half = [&](int64_t k) {
        return make(OpKind::Slice, {pre},
                    attrs({{"axis", Attr::ofInt(2)}, {"offset", Attr::ofInt(k * width)}, {"width", Attr::ofInt(width)}}),
                    op, k ? ".gates_hh.grad" : ".gates_ih.grad");
      };
      ValueId inputSide = half(0), hiddenSide = half(1);
      if (dependsOnParam_[in(0)])
        accumulate(in(0), make(OpKind::DenseGradInput, {inputSide, in(1)}, {}, g_.op(in(0))));
      accumulate(in(1), make(OpKind::DenseGradWeight, {inputSide, in(0)}, {}, g_.op(in(1))));
      ValueId biasIh = make(OpKind::SumRows, {inputSide}, {}, g_.op(in(3)));
      accumulate(in(3), biasIh);
      ValueId previous = make(OpKind::ShiftSteps, {id}, attrs({{"reverse", Attr::ofBool(reverse)}}), op, ".previous");
      accumulate(in(2), make(OpKind::DenseGradWeight, {hiddenSide, previous}, {}, g_.op(in(2))));
      // LSTM's two halves are equal (its gates' pre-activations are
      // x W_ih^T + b_ih + h W_hh^T + b_hh): b_hh's gradient is b_ih's, summed
      // once over the B*T rows (GRU's differ: the n gate's is dn * r).
      accumulate(in(4), lstm ? biasIh : make(OpKind::SumRows, {hiddenSide}, {}, g_.op(in(4))));
      return;
    }
    case OpKind::Dropout:
      accumulate(in(0), make(OpKind::DropoutGrad, {dy},
                             attrs({{"p", Attr::ofFloat(op.attrs.getNumber("p"))},
                                    {"stream", Attr::ofInt(ir::dropoutStream(g_, id))}}),
                             g_.op(in(0))));
      return;
    case OpKind::Identity: accumulate(in(0), dy); return;
    case OpKind::Concat: {
      const int64_t axis = op.attrs.getInt("axis");
      int64_t offset = 0;
      for (ValueId part : op.operands) {
        const int64_t width = g_.op(part).type.dims[axis].size;
        if (dependsOnParam_[part])
          accumulate(part, make(OpKind::Slice, {dy},
                                attrs({{"axis", Attr::ofInt(axis)}, {"offset", Attr::ofInt(offset)}, {"width", Attr::ofInt(width)}}),
                                g_.op(part)));
        offset += width;
      }
      return;
    }
    case OpKind::First:
    case OpKind::Last: {
      const int64_t steps = g_.op(in(0)).type.dims[1].size;
      std::vector<ValueId> gradIn = {dy};
      if (std::optional<ValueId> lengths = ir::lengthsOf(op)) // last(h, lengths): step length-1 of each sample
        gradIn.push_back(*lengths);
      accumulate(in(0), make(OpKind::StepGrad, gradIn,
                             attrs({{"steps", Attr::ofInt(steps)}, {"index", Attr::ofInt(op.kind == OpKind::Last ? steps - 1 : 0)}}),
                             g_.op(in(0))));
      return;
    }
    case OpKind::Mean: { // dy / L at each of the L steps of a sample (L = T without lengths)
      std::vector<ValueId> gradIn = {dy};
      if (std::optional<ValueId> lengths = ir::lengthsOf(op))
        gradIn.push_back(*lengths);
      accumulate(in(0), make(OpKind::MeanGrad, gradIn, attrs({{"steps", Attr::ofInt(g_.op(in(0)).type.dims[1].size)}}),
                             g_.op(in(0))));
      return;
    }
    case OpKind::Max: { // dy at the step of the max (the first on ties)
      std::vector<ValueId> gradIn = {dy, in(0)};
      if (std::optional<ValueId> lengths = ir::lengthsOf(op))
        gradIn.push_back(*lengths);
      accumulate(in(0), make(OpKind::MaxGrad, gradIn, {}, g_.op(in(0))));
      return;
    }
    case OpKind::Relu:
    case OpKind::Tanh:
    case OpKind::Sigmoid:
    case OpKind::Softmax:
      accumulate(in(0), make(OpKind::ActivationGrad, {dy, id},
                             attrs({{"fn", Attr::ofString(ir::opInfo(op.kind).mnemonic)}}), g_.op(in(0))));
      return;
    default:
      RNNC_ASSERT(false, std::string("autodiff has a rule for every forward op, not for ") + ir::opInfo(op.kind).mnemonic);
    }
  }

  ir::Graph &g_;
  std::vector<bool> dependsOnParam_;
  std::vector<std::optional<ValueId>> grad_;
};

} // namespace

void differentiate(ir::Graph &graph) { Differentiator(graph).run(); }

} // namespace rnnc
