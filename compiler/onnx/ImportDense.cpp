//===- ImportDense.cpp - ONNX Gather, Gemm, MatMul + Add as embeddings and dense ---===//
#include "compiler/onnx/Importer.h"

namespace rnnc::onnx::detail {

void Importer::lowerGather() {
  const Value &data = input(0, "the data");
  const int64_t axis = intAttr("axis", 0);
  if (data.kind == Value::Kind::Const) { // an embedding lookup
    Tensor ids = tensorInput(1, "the indices");
    if (ids.dtype != DType::I32 || data.dims.size() != 2 || axis != 0)
      fail("Gather from a constant is supported as an embedding lookup: a [vocab, dim] table indexed by token ids");
    if (ids.parts.size() != 1 || ids.step)
      fail("the indices must be the model's token ids");
    std::string stem = modulePath(node_->name());
    ValueId table = paramOf(data, (stem.empty() ? "embedding" : stem) + ".weight");
    ValueId y = add(OpKind::Embedding, {ids.parts[0], table}, {}, node_->output(0));
    return setTensor(0, Tensor{{y}, ids.order + "F", std::nullopt, DType::F32});
  }
  Tensor t = tensorInput(0, "the data");
  const Value &idx = constInput(1, "the indices");
  if (!idx.dims.empty())
    fail("Gather from a computed tensor is supported with one scalar index (a step or a direction), got indices of "
         "shape " + shapeStr(idx.dims));
  const int64_t a = normAxis(axis, t.order.size(), [&] { fail("axis out of range"); });
  int64_t k = static_cast<int64_t>(idx.data[0]);
  const char which = t.order[a];
  if (which == 'T') {
    if (t.step)
      fail("selects from a time axis of length 1");
    applyStep(t, k);
  } else if (which == 'D') {
    const int64_t n = static_cast<int64_t>(t.parts.size());
    if (k < 0)
      k += n;
    if (k < 0 || k >= n)
      fail("direction index out of range");
    t.parts = {t.parts[k]};
    t.order.erase(a, 1);
  } else {
    fail(std::string("Gather along the ") + (which == 'B' ? "batch" : "feature") +
         " axis is not supported; rnnc selects along time (first/last step) or direction");
  }
  setTensor(0, t);
}

ValueId Importer::denseWeight(const Value &w, bool transposed, const std::string &stem) {
  if (w.dims.size() != 2)
    fail("the weight must be a matrix, got shape " + shapeStr(w.dims));
  if (!transposed)
    return paramOf(w, stem + ".weight");
  // ONNX's [I, U] -> PyTorch's [U, I].
  const int64_t in = w.dims[0], units = w.dims[1];
  std::vector<float> values(in * units);
  for (int64_t i = 0; i < in; ++i)
    for (int64_t u = 0; u < units; ++u)
      values[u * in + i] = static_cast<float>(w.data[i * units + u]);
  std::string name = meaningfulName(w.name) ? w.name : stem + ".weight";
  return param(name, {units, in}, std::move(values));
}

std::string Importer::denseStem() {
  std::string stem = modulePath(node_->name());
  return stem.empty() ? "dense" + std::to_string(denseCount_++) : stem;
}

void Importer::lowerGemm() {
  Tensor x = tensorInput(0, "the input A");
  if (intAttr("transA", 0) != 0)
    fail("transA=1 is not supported");
  const Value &w = constInput(1, "the weight B");
  const double alpha = floatAttr("alpha", 1), beta = floatAttr("beta", 1);
  if (x.order != "BF")
    fail("Gemm's input must be [batch, features], got axis order " + x.order);
  const std::string stem = denseStem();
  Value scaled = w;
  for (double &v : scaled.data)
    v *= alpha;
  if (alpha != 1)
    scaled.name.clear();
  ValueId weight = denseWeight(scaled, intAttr("transB", 0) == 0, stem);
  std::vector<ValueId> operands{materialize(x), weight};
  const int64_t units = graph_.op(weight).type.dims[0].size;
  const Value &c = input(2, "the bias C");
  if (c.kind != Value::Kind::Absent) {
    if (c.kind != Value::Kind::Const || static_cast<int64_t>(c.data.size()) != units)
      fail("the bias C must be a constant of " + std::to_string(units) + " values");
    Value bias = c;
    for (double &v : bias.data)
      v *= beta;
    bias.dims = {units};
    if (beta != 1)
      bias.name.clear();
    operands.push_back(paramOf(bias, stem + ".bias"));
  }
  setTensor(0, like(x, add(OpKind::Dense, operands, {}, node_->output(0))));
}

void Importer::lowerMatMul() {
  Tensor x = tensorInput(0, "the input A");
  const Value &w = constInput(1, "the weight B");
  if (x.order.back() != 'F')
    fail("MatMul must multiply along the features (the last axis), got axis order " + x.order);
  const std::string stem = denseStem();
  ValueId weight = denseWeight(w, true, stem);
  ValueId y = add(OpKind::Dense, {materialize(x), weight}, {}, node_->output(0));
  matmuls_[node_->output(0)] = {y, stem};
  setTensor(0, like(x, y));
}

void Importer::lowerAdd() {
  int tensorSide = input(0, "A").kind == Value::Kind::Tensor ? 0 : 1;
  Tensor x = tensorInput(tensorSide, "the tensor operand");
  const Value &bias = constInput(1 - tensorSide, "the other operand");
  auto mm = matmuls_.find(node_->input(tensorSide));
  if (mm == matmuls_.end() || x.parts.size() != 1 || x.parts[0] != mm->second.first)
    fail("Add is supported only as the bias of a MatMul (a dense layer)");
  const ir::Op &dense = graph_.op(mm->second.first);
  const int64_t units = dense.type.dims.back().size;
  if (static_cast<int64_t>(bias.data.size()) != units)
    fail("the bias has " + std::to_string(bias.data.size()) + " values for " + std::to_string(units) + " units");
  Value b = bias;
  b.dims = {units};
  ValueId y = add(OpKind::Dense, {dense.operands[0], dense.operands[1], paramOf(b, mm->second.second + ".bias")}, {},
                  node_->output(0));
  setTensor(0, like(x, y));
}

} // namespace rnnc::onnx::detail
