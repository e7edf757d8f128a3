//===- ImportRecurrent.cpp - ONNX LSTM and GRU as rnnc layers ---------------===//
#include "compiler/onnx/Importer.h"

#include "compiler/ir/OpFacts.h"

#include <algorithm>
#include <cctype>

namespace rnnc::onnx::detail {

std::vector<float> Importer::reorder(const double *from, int64_t gates, int64_t hidden, int64_t cols,
                                     const std::vector<int> &order) {
  std::vector<float> out;
  out.reserve(gates * hidden * cols);
  for (int g : order)
    for (int64_t k = 0; k < hidden * cols; ++k)
      out.push_back(static_cast<float>(from[g * hidden * cols + k]));
  return out;
}

bool Importer::zeroState(const Value &v) {
  if (v.kind == Value::Kind::Absent || v.kind == Value::Kind::Zeros)
    return true;
  return v.kind == Value::Kind::Const && std::all_of(v.data.begin(), v.data.end(), [](double x) { return x == 0; });
}

void Importer::lowerRecurrent(bool lstm) {
  const int64_t gates = ir::gateCount(lstm ? ir::CellKind::Lstm : ir::CellKind::Gru);
  const std::string cell = lstm ? "lstm" : "gru";
  const int64_t hidden = intAttr("hidden_size", 0);
  if (hidden < 1)
    fail("hidden_size is missing");
  const std::string direction = stringAttr("direction", "forward");
  const int64_t directions = direction == "bidirectional" ? 2 : 1;
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    fail("unknown direction '" + direction + "'");
  const int64_t layout = intAttr("layout", 0);
  if (attr("clip"))
    fail("cell clipping (the clip attribute) is not supported");
  if (lstm && intAttr("input_forget", 0) != 0)
    fail("input_forget=1 (coupled input and forget gates) is not supported");
  if (!lstm && intAttr("linear_before_reset", 0) != 1)
    fail("linear_before_reset=0 is not supported: rnnc's GRU, like PyTorch's, applies the reset gate after the "
         "hidden-side product (torch.onnx.export writes linear_before_reset=1)");
  if (const auto *acts = attr("activations")) {
    const std::vector<std::string> want = lstm ? std::vector<std::string>{"sigmoid", "tanh", "tanh"}
                                               : std::vector<std::string>{"sigmoid", "tanh"};
    for (int k = 0; k < acts->strings_size(); ++k) {
      std::string a = acts->strings(k);
      std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return std::tolower(c); });
      if (a != want[k % want.size()])
        fail("activation '" + acts->strings(k) + "' is not supported; rnnc's " + cell + " uses the default activations");
    }
  }
  Tensor x = tensorInput(0, "the input X");
  const std::string want = layout == 0 ? "TBF" : "BTF";
  dropUnitD(x);
  if (x.order != want || x.step)
    fail("the input X has axis order " + x.order + "; with layout=" + std::to_string(layout) + " it must be " + want);
  const ValueId xv = materialize(x);
  const int64_t inputSize = graph_.op(xv).type.dims.back().size;
  const Value &w = constInput(1, "the weights W"), &r = constInput(2, "the recurrence weights R");
  const Value &b = input(3, "the biases B");
  if (w.dims != std::vector<int64_t>{directions, gates * hidden, inputSize})
    fail("W has shape " + shapeStr(w.dims) + ", expected " + shapeStr({directions, gates * hidden, inputSize}));
  if (r.dims != std::vector<int64_t>{directions, gates * hidden, hidden})
    fail("R has shape " + shapeStr(r.dims) + ", expected " + shapeStr({directions, gates * hidden, hidden}));
  if (b.kind != Value::Kind::Absent && (b.kind != Value::Kind::Const || b.dims != std::vector<int64_t>{directions, 2 * gates * hidden}))
    fail("B must be a constant of shape " + shapeStr({directions, 2 * gates * hidden}));
  const Value &lengths = input(4, "sequence_lens");
  if (lengths.kind != Value::Kind::Absent) {
    const int64_t steps = timeSteps(x);
    if (lengths.kind != Value::Kind::Const ||
        !std::all_of(lengths.data.begin(), lengths.data.end(), [&](double v) { return v == steps; }))
      fail("sequence_lens gives sequences of different lengths; rnnc has no variable-length sequences yet, "
           "so every sequence runs all " + std::to_string(steps) + " steps (export without "
           "pack_padded_sequence, padding the inputs instead)");
  }
  if (!zeroState(input(5, "initial_h")) || (lstm && !zeroState(input(6, "initial_c"))))
    fail("the initial state is not zero; rnnc's recurrent layers start from zeros");
  if (lstm && !zeroState(input(7, "the peepholes P")))
    fail("peephole connections (input P) are not supported");

  // PyTorch's names: from W's name when an exporter kept it (rnnc's own
  // export does), else the module's name and the layer's place in it.
  std::string stem = modulePath(node_->name());
  int64_t layer = -1;
  const std::string suffixWanted = direction == "reverse" ? "_reverse" : "";
  if (size_t at = w.name.rfind(".weight_ih_l"); at != std::string::npos && directions == 1) {
    std::string rest = w.name.substr(at + 12);
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits])))
      ++digits;
    if (digits > 0 && digits < 6 && rest.substr(digits) == suffixWanted) {
      stem = w.name.substr(0, at);
      layer = std::stoll(rest.substr(0, digits));
    }
  }
  if (stem.empty())
    stem = cell;
  if (layer < 0)
    layer = layersSeen_[stem]++;
  const std::vector<int> order = lstm ? std::vector<int>{0, 2, 3, 1} : std::vector<int>{1, 0, 2};
  std::vector<ValueId> outs;
  for (int64_t d = 0; d < directions; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const std::string suffix = "_l" + std::to_string(layer) + (reverse ? "_reverse" : "");
    ValueId wih = param(stem + ".weight_ih" + suffix, {gates * hidden, inputSize},
                        reorder(w.data.data() + d * gates * hidden * inputSize, gates, hidden, inputSize, order));
    ValueId whh = param(stem + ".weight_hh" + suffix, {gates * hidden, hidden},
                        reorder(r.data.data() + d * gates * hidden * hidden, gates, hidden, hidden, order));
    std::vector<double> zeros(2 * gates * hidden, 0.0);
    const double *bias = b.kind == Value::Kind::Const ? b.data.data() + d * 2 * gates * hidden : zeros.data();
    ValueId bih = param(stem + ".bias_ih" + suffix, {gates * hidden}, reorder(bias, gates, hidden, 1, order));
    ValueId bhh = param(stem + ".bias_hh" + suffix, {gates * hidden}, reorder(bias + gates * hidden, gates, hidden, 1, order));
    AttrMap a;
    a.set("hidden", Attr::ofInt(hidden));
    a.set("reverse", Attr::ofBool(reverse));
    outs.push_back(add(lstm ? OpKind::Lstm : OpKind::Gru, {xv, wih, whh, bih, bhh}, a, stem + "." + cell + suffix));
  }
  setTensor(0, Tensor{outs, layout == 0 ? "TDBF" : "BTDF", std::nullopt, DType::F32});
  // Y_h: each direction's final state, the forward's last step and the reverse's first.
  std::vector<ValueId> finals;
  for (size_t d = 0; d < outs.size(); ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    finals.push_back(add(reverse ? OpKind::First : OpKind::Last, {outs[d]}, {}, graph_.op(outs[d]).name + ".h_n"));
  }
  setTensor(1, Tensor{finals, layout == 0 ? "DBF" : "BDF", std::nullopt, DType::F32});
  if (lstm)
    setUnusable(2, "uses the LSTM's final cell state Y_c; rnnc's lstm returns only its hidden states");
}

} // namespace rnnc::onnx::detail
