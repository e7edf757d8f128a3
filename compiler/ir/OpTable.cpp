//===- OpTable.cpp - Op signatures from Ops.def and their type rules ------===//
#include "compiler/ir/OpTable.h"

#include "compiler/ir/OpFacts.h"

#include <sstream>

namespace rnnc::ir {
namespace {

std::vector<AttrSpec> parseAttrSpecs(const std::string &text) {
  std::vector<AttrSpec> specs;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty())
      continue;
    AttrSpec spec;
    spec.optional = item.back() == '?';
    if (spec.optional)
      item.pop_back();
    size_t colon = item.find(':');
    spec.name = item.substr(0, colon);
    std::string kind = item.substr(colon + 1);
    spec.kind = kind == "int"      ? Attr::Kind::Int
                : kind == "float"  ? Attr::Kind::Float
                : kind == "bool"   ? Attr::Kind::Bool
                : kind == "string" ? Attr::Kind::String
                                   : Attr::Kind::List;
    specs.push_back(spec);
  }
  return specs;
}

std::vector<OpInfo> buildTable() {
  std::vector<OpInfo> table;
#define OP(Enum, mnemonic, minOperands, maxOperands, attributes, summary)                          \
  table.push_back({OpKind::Enum, mnemonic, minOperands, maxOperands, parseAttrSpecs(attributes),   \
                   summary});
#include "compiler/ir/Ops.def"
  return table;
}

std::string shapeList(const std::vector<TensorType> &types) {
  std::string s;
  for (size_t i = 0; i < types.size(); ++i)
    s += (i ? ", " : "") + types[i].str();
  return s;
}

/// Checks that `t` is f32 and has the given rank (-1: any rank >= 1).
bool expectFloat(const char *op, const char *what, const TensorType &t, int rank,
                 const char *shapeHint, std::string &error) {
  if (t.dtype != DType::F32 || (rank >= 0 && static_cast<int>(t.rank()) != rank) ||
      (rank < 0 && t.rank() == 0)) {
    error = std::string(op) + " expects " + what + " of type f32" + shapeHint + ", got " + t.str();
    return false;
  }
  return true;
}

bool expectShape(const char *op, const char *what, const TensorType &t,
                 const std::vector<Dim> &dims, std::string &error) {
  TensorType want{DType::F32, dims};
  if (t != want) {
    error = std::string(op) + " expects " + what + " of type " + want.str() + ", got " + t.str();
    return false;
  }
  return true;
}

/// Sequence lengths: i32[B] with the batch dimension of the sequence they
/// belong to.
bool expectLengths(const char *op, const TensorType &lengths, const Dim &batch, std::string &error) {
  if (lengths.dtype != DType::I32 || lengths.rank() != 1 || lengths.dims[0] != batch) {
    error = std::string(op) + " expects lengths of type i32[" + batch.str() + "], got " + lengths.str();
    return false;
  }
  return true;
}

std::optional<TensorType> inferRecurrent(OpKind kind, const std::vector<TensorType> &in,
                                         const AttrMap &attrs, std::string &error) {
  const char *op = kind == OpKind::Lstm ? "lstm" : "gru";
  const int64_t gates = gateCount(cellKindOf(kind));
  const int64_t hidden = attrs.getInt("hidden");
  if (hidden < 1) {
    error = std::string(op) + " needs hidden >= 1, got " + std::to_string(hidden);
    return std::nullopt;
  }
  const TensorType &x = in[0];
  if (!expectFloat(op, "an input", x, 3, "[batch, time, features]", error))
    return std::nullopt;
  const Dim width = x.dims[2];
  const Dim rows = Dim::fixed(gates * hidden);
  if (!expectShape(op, "weight_ih", in[1], {rows, width}, error) ||
      !expectShape(op, "weight_hh", in[2], {rows, Dim::fixed(hidden)}, error) ||
      !expectShape(op, "bias_ih", in[3], {rows}, error) ||
      !expectShape(op, "bias_hh", in[4], {rows}, error))
    return std::nullopt;
  if (in.size() > 5 && !expectLengths(op, in[5], x.dims[0], error))
    return std::nullopt;
  return TensorType{DType::F32, {x.dims[0], x.dims[1], Dim::fixed(hidden)}};
}

/// Losses compare a prediction with a target of the same shape; a trailing
/// unit dimension of the prediction may be absent from the target
/// (prediction [B,1], target [B]).
bool sameShapeUpToUnit(const TensorType &pred, const TensorType &target) {
  if (pred.dims == target.dims)
    return true;
  if (pred.rank() == target.rank() + 1 && !pred.dims.back().isSymbolic() &&
      pred.dims.back().size == 1) {
    return std::vector<Dim>(pred.dims.begin(), pred.dims.end() - 1) == target.dims;
  }
  return false;
}

std::optional<TensorType> inferLoss(OpKind kind, const std::vector<TensorType> &in,
                                    std::string &error) {
  const char *op = opInfo(kind).mnemonic;
  const TensorType &pred = in[0], &target = in[1];
  const TensorType scalar{DType::F32, {}};
  if (pred.dtype != DType::F32 || pred.rank() == 0) {
    error = std::string(op) + " expects a f32 prediction with a batch dimension, got " + pred.str();
    return std::nullopt;
  }
  if (kind == OpKind::SoftmaxCrossEntropy) {
    if (pred.rank() != 2) {
      error = "softmax_cross_entropy expects logits of shape [batch, classes], got " + pred.str();
      return std::nullopt;
    }
    if (target.dtype != DType::I32 || target.rank() != 1 || target.dims[0] != pred.dims[0]) {
      error = "softmax_cross_entropy expects class ids of type i32[" + pred.dims[0].str() +
              "] as target, got " + target.str();
      return std::nullopt;
    }
    return scalar;
  }
  if (target.dtype != DType::F32) {
    error = std::string(op) + " expects a f32 target, got " + target.str() +
            (kind == OpKind::BceWithLogits ? " (use f32 values 0 and 1)"
                                           : " (class ids need softmax_cross_entropy)");
    return std::nullopt;
  }
  if (!sameShapeUpToUnit(pred, target)) {
    error = std::string(op) + " expects prediction and target of the same shape, got " +
            pred.str() + " and " + target.str();
    return std::nullopt;
  }
  return scalar;
}

/// Type rules of the ops the autodiff pass makes.
std::optional<TensorType> inferGradient(OpKind kind, const std::vector<TensorType> &in, const AttrMap &attrs,
                                        std::string &error) {
  const char *op = opInfo(kind).mnemonic;
  for (size_t k = 0; k < in.size(); ++k) {
    const bool ids = (kind == OpKind::EmbeddingGrad && k == 0) || (kind == OpKind::LossGrad && k == 1) ||
                     (kind == OpKind::RecurrentGrad && k == 7) || (kind == OpKind::StepGrad && k == 1) ||
                     (kind == OpKind::MeanGrad && k == 1) || (kind == OpKind::MaxGrad && k == 2);
    if (!ids && (in[k].dtype != DType::F32 || in[k].rank() == 0)) {
      error = std::string(op) + " expects f32 tensors with a batch or row dimension, got " + in[k].str();
      return std::nullopt;
    }
  }
  switch (kind) {
  case OpKind::LossGrad: {
    std::optional<OpKind> loss = opKindFromMnemonic(attrs.getString("loss"));
    if (!loss || !isLoss(*loss)) {
      error = "loss_grad names no loss: '" + attrs.getString("loss") + "'";
      return std::nullopt;
    }
    if (!inferLoss(*loss, in, error))
      return std::nullopt;
    return in[0];
  }
  case OpKind::DenseGradInput:
    if (in[1].rank() != 2 || in[0].dims.back() != in[1].dims[0]) {
      error = "dense_grad_input expects dy [..., U] and w [U, I], got " + in[0].str() + " and " + in[1].str();
      return std::nullopt;
    } else {
      TensorType out = in[0];
      out.dims.back() = in[1].dims[1];
      return out;
    }
  case OpKind::DenseGradWeight: {
    const TensorType &dy = in[0], &x = in[1];
    bool ok = dy.rank() == x.rank();
    for (size_t d = 0; ok && d + 1 < dy.rank(); ++d)
      ok = dy.dims[d] == x.dims[d];
    if (!ok || dy.dims.back().isSymbolic() || x.dims.back().isSymbolic()) {
      error = "dense_grad_weight expects dy [..., U] and x [..., I] with the same rows, got " + dy.str() + " and " + x.str();
      return std::nullopt;
    }
    return TensorType{DType::F32, {dy.dims.back(), x.dims.back()}};
  }
  case OpKind::SumRows:
    if (in[0].dims.back().isSymbolic()) {
      error = "sum_rows expects a static last axis, got " + in[0].str();
      return std::nullopt;
    }
    return TensorType{DType::F32, {in[0].dims.back()}};
  case OpKind::RecurrentGrad: {
    const std::string cell = attrs.getString("cell");
    if (cell != "lstm" && cell != "gru") {
      error = "recurrent_grad cell must be \"lstm\" or \"gru\", got '" + cell + "'";
      return std::nullopt;
    }
    AttrMap forwardAttrs;
    forwardAttrs.set("hidden", *attrs.find("hidden"));
    forwardAttrs.set("reverse", *attrs.find("reverse"));
    std::vector<TensorType> forwardIn(in.begin(), in.begin() + 5);
    if (in.size() > 7)
      forwardIn.push_back(in[7]);
    std::optional<TensorType> y = inferType(cell == "lstm" ? OpKind::Lstm : OpKind::Gru, forwardIn, forwardAttrs, error);
    if (!y)
      return std::nullopt;
    if (in[5] != *y || in[6] != *y) {
      error = "recurrent_grad expects y and dy of type " + y->str() + ", got " + in[5].str() + " and " + in[6].str();
      return std::nullopt;
    }
    const int64_t gateRows = recurrentFacts(OpKind::RecurrentGrad, attrs).gateRows();
    return TensorType{DType::F32, {y->dims[0], y->dims[1], Dim::fixed(2 * gateRows)}};
  }
  case OpKind::ShiftSteps:
    if (in[0].rank() != 3) {
      error = "shift_steps expects a sequence [batch, time, features], got " + in[0].str();
      return std::nullopt;
    }
    return in[0];
  case OpKind::Slice: {
    const TensorType &x = in[0];
    const int64_t axis = attrs.getInt("axis"), offset = attrs.getInt("offset"), width = attrs.getInt("width");
    if (axis < 1 || axis >= static_cast<int64_t>(x.rank()) || offset < 0 || width < 1 ||
        offset + width > x.dims[axis].size) {
      error = "slice [" + std::to_string(offset) + ", " + std::to_string(offset + width) + ") of axis " +
              std::to_string(axis) + " is outside " + x.str();
      return std::nullopt;
    }
    TensorType out = x;
    out.dims[axis] = Dim::fixed(width);
    return out;
  }
  case OpKind::StepGrad: {
    const int64_t steps = attrs.getInt("steps"), index = attrs.getInt("index");
    if (in[0].rank() != 2 || steps < 1 || index < 0 || index >= steps) {
      error = "step_grad expects dy [batch, features] and 0 <= index < steps, got " + in[0].str();
      return std::nullopt;
    }
    if (in.size() > 1 && !expectLengths("step_grad", in[1], in[0].dims[0], error))
      return std::nullopt;
    return TensorType{DType::F32, {in[0].dims[0], Dim::fixed(steps), in[0].dims[1]}};
  }
  case OpKind::MeanGrad: {
    const int64_t steps = attrs.getInt("steps");
    if (in[0].rank() != 2 || steps < 1) {
      error = "mean_grad expects dy [batch, features] and steps >= 1, got " + in[0].str();
      return std::nullopt;
    }
    if (in.size() > 1 && !expectLengths("mean_grad", in[1], in[0].dims[0], error))
      return std::nullopt;
    return TensorType{DType::F32, {in[0].dims[0], Dim::fixed(steps), in[0].dims[1]}};
  }
  case OpKind::MaxGrad: {
    const TensorType &dy = in[0], &x = in[1];
    if (dy.rank() != 2 || x.rank() != 3 || dy.dims[0] != x.dims[0] || dy.dims[1] != x.dims[2]) {
      error = "max_grad expects dy [batch, features] and x [batch, time, features], got " + dy.str() + " and " + x.str();
      return std::nullopt;
    }
    if (in.size() > 2 && !expectLengths("max_grad", in[2], x.dims[0], error))
      return std::nullopt;
    return x;
  }
  case OpKind::EmbeddingGrad: {
    const TensorType &ids = in[0], &dy = in[1];
    bool ok = ids.dtype == DType::I32 && dy.rank() == ids.rank() + 1;
    for (size_t d = 0; ok && d < ids.rank(); ++d)
      ok = ids.dims[d] == dy.dims[d];
    if (!ok || attrs.getInt("vocab") < 1) {
      error = "embedding_grad expects ids i32[...] and dy [..., D], got " + ids.str() + " and " + dy.str();
      return std::nullopt;
    }
    return TensorType{DType::F32, {Dim::fixed(attrs.getInt("vocab")), dy.dims.back()}};
  }
  case OpKind::ActivationGrad: {
    const std::string fn = attrs.getString("fn");
    if (fn != "relu" && fn != "tanh" && fn != "sigmoid" && fn != "softmax") {
      error = "activation_grad has no rule for '" + fn + "'";
      return std::nullopt;
    }
    if (in[0] != in[1]) {
      error = "activation_grad expects dy and y of one type, got " + in[0].str() + " and " + in[1].str();
      return std::nullopt;
    }
    return in[0];
  }
  case OpKind::DropoutGrad: {
    const double p = attrs.getNumber("p");
    if (!(p >= 0 && p < 1)) {
      error = "dropout probability must be in [0, 1)";
      return std::nullopt;
    }
    return in[0];
  }
  case OpKind::Add:
    if (in[0] != in[1]) {
      error = "add expects two tensors of one type, got " + in[0].str() + " and " + in[1].str();
      return std::nullopt;
    }
    return in[0];
  default: break;
  }
  error = std::string("no type rule for ") + op;
  return std::nullopt;
}

} // namespace

const std::vector<OpInfo> &allOps() {
  static const std::vector<OpInfo> table = buildTable();
  return table;
}

const OpInfo &opInfo(OpKind kind) { return allOps()[static_cast<size_t>(kind)]; }

std::optional<OpKind> opKindFromMnemonic(const std::string &mnemonic) {
  for (const OpInfo &info : allOps())
    if (mnemonic == info.mnemonic)
      return info.kind;
  return std::nullopt;
}

bool isSource(OpKind kind) {
  return kind == OpKind::Input || kind == OpKind::Target || kind == OpKind::Param;
}

bool isLoss(OpKind kind) {
  return kind == OpKind::Mse || kind == OpKind::Mae || kind == OpKind::BceWithLogits ||
         kind == OpKind::SoftmaxCrossEntropy;
}

bool isActivation(OpKind kind) {
  return kind == OpKind::Relu || kind == OpKind::Tanh || kind == OpKind::Sigmoid ||
         kind == OpKind::Softmax || kind == OpKind::Identity;
}

std::string checkAttrs(OpKind kind, const AttrMap &attrs) {
  const OpInfo &info = opInfo(kind);
  for (const AttrSpec &spec : info.attrs) {
    const Attr *a = attrs.find(spec.name);
    if (!a) {
      if (!spec.optional)
        return std::string(info.mnemonic) + " needs attribute '" + spec.name + "'";
      continue;
    }
    bool ok = a->kind == spec.kind || (spec.kind == Attr::Kind::Float && a->isNumber());
    if (!ok)
      return std::string(info.mnemonic) + " attribute '" + spec.name + "' must be a " +
             attrKindName(spec.kind) + ", got " + a->str();
  }
  for (const auto &[name, value] : attrs.entries()) {
    bool known = false;
    for (const AttrSpec &spec : info.attrs)
      known |= spec.name == name;
    if (!known)
      return std::string(info.mnemonic) + " has no attribute '" + name + "'";
  }
  return "";
}

std::optional<TensorType> inferType(OpKind kind, const std::vector<TensorType> &in,
                                    const AttrMap &attrs, std::string &error) {
  const OpInfo &info = opInfo(kind);
  const int n = static_cast<int>(in.size());
  if (n < info.minOperands || (info.maxOperands >= 0 && n > info.maxOperands)) {
    error = std::string(info.mnemonic) + " takes " + std::to_string(info.minOperands) +
            (info.maxOperands == info.minOperands ? ""
             : info.maxOperands < 0             ? " or more"
                                                : " to " + std::to_string(info.maxOperands)) +
            (info.maxOperands == 1 ? " operand" : " operands") + ", got " + std::to_string(n);
    return std::nullopt;
  }
  std::string attrError = checkAttrs(kind, attrs);
  if (!attrError.empty()) {
    error = attrError;
    return std::nullopt;
  }

  switch (kind) {
  case OpKind::Input:
  case OpKind::Target:
  case OpKind::Param:
    error = std::string(info.mnemonic) + " has a declared type, not an inferred one";
    return std::nullopt;

  case OpKind::Embedding: {
    const TensorType &ids = in[0], &table = in[1];
    if (ids.dtype != DType::I32 || ids.rank() == 0) {
      error = "embedding expects integer token ids (i32 with a batch dimension), got " + ids.str();
      return std::nullopt;
    }
    if (table.dtype != DType::F32 || table.rank() != 2 || !table.isStatic()) {
      error = "embedding expects a table of type f32[vocab, dim], got " + table.str();
      return std::nullopt;
    }
    TensorType out{DType::F32, ids.dims};
    out.dims.push_back(table.dims[1]);
    return out;
  }

  case OpKind::Lstm:
  case OpKind::Gru:
    return inferRecurrent(kind, in, attrs, error);

  case OpKind::Dense: {
    const TensorType &x = in[0], &w = in[1];
    if (!expectFloat("dense", "an input", x, -1, "[..., features]", error))
      return std::nullopt;
    if (w.dtype != DType::F32 || w.rank() != 2 || w.dims[1] != x.dims.back()) {
      error = "dense expects a weight of type f32[units, " + x.dims.back().str() + "], got " +
              w.str();
      return std::nullopt;
    }
    if (n == 3 && !expectShape("dense", "a bias", in[2], {w.dims[0]}, error))
      return std::nullopt;
    TensorType out = x;
    out.dims.back() = w.dims[0];
    return out;
  }

  case OpKind::Dropout: {
    double p = attrs.getNumber("p");
    if (!(p >= 0 && p < 1)) {
      error = "dropout probability must be in [0, 1), got " + attrs.find("p")->str();
      return std::nullopt;
    }
    if (!expectFloat("dropout", "an input", in[0], -1, "", error))
      return std::nullopt;
    return in[0];
  }

  case OpKind::Concat: {
    const TensorType &first = in[0];
    const int64_t rank = static_cast<int64_t>(first.rank());
    const int64_t axis = attrs.getInt("axis");
    if (rank == 0 || axis < 0 || axis >= rank) {
      error = "concat axis " + std::to_string(axis) + " is out of range for " + first.str();
      return std::nullopt;
    }
    TensorType out = first;
    int64_t total = 0;
    for (const TensorType &t : in) {
      bool ok = t.dtype == first.dtype && t.rank() == first.rank();
      for (int64_t d = 0; ok && d < rank; ++d)
        ok = d == axis || t.dims[d] == first.dims[d];
      if (!ok || t.dims[axis].isSymbolic()) {
        error = "concat expects tensors that differ only in axis " + std::to_string(axis) +
                ", got " + shapeList(in);
        return std::nullopt;
      }
      total += t.dims[axis].size;
    }
    out.dims[axis] = Dim::fixed(total);
    return out;
  }

  case OpKind::First:
  case OpKind::Last:
  case OpKind::Mean:
  case OpKind::Max: {
    const TensorType &x = in[0];
    if (x.rank() != 3) {
      error = std::string(info.mnemonic) + " expects a sequence [batch, time, features], got " +
              x.str() + (x.rank() == 2 ? " (is the recurrent layer already returning its last step?)" : "");
      return std::nullopt;
    }
    if (in.size() > 1 && !expectLengths(info.mnemonic, in[1], x.dims[0], error))
      return std::nullopt;
    return TensorType{x.dtype, {x.dims[0], x.dims[2]}};
  }

  case OpKind::Relu:
  case OpKind::Tanh:
  case OpKind::Sigmoid:
  case OpKind::Softmax:
  case OpKind::Identity:
    if (!expectFloat(info.mnemonic, "an input", in[0], -1, "", error))
      return std::nullopt;
    return in[0];

  case OpKind::Mse:
  case OpKind::Mae:
  case OpKind::BceWithLogits:
  case OpKind::SoftmaxCrossEntropy:
    return inferLoss(kind, in, error);

  default:
    return inferGradient(kind, in, attrs, error);
  }
  error = "unknown op";
  return std::nullopt;
}

} // namespace rnnc::ir
