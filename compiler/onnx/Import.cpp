//===- Import.cpp - ONNX graphs lowered into rnnc's IR --------------------===//
//
// rnnc's IR is batch-major ([B,T,F]) and has no general tensor algebra, so
// the importer interprets the ONNX graph rather than translating it op by op:
// every ONNX value is one of
//   - a constant (an initializer, a Constant node, or shape arithmetic on
//     them; the batch size stays symbolic as kBatch),
//   - zeros of some shape (ConstantOfShape: recurrent layers' initial states),
//   - a tensor: rnnc values seen through an ONNX axis order (B batch, T time,
//     D direction, F features), so that Transpose, Squeeze and Reshape change
//     only the order, and Gather/Slice on T select the first or last step.
// Ops are added as the graph is walked; what the output does not need is
// dropped at the end.
#include "compiler/onnx/Import.h"

#include "compiler/ir/OpTable.h"
#include "compiler/onnx/Live.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

namespace rnnc::onnx {
namespace {

using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::OpKind;
using ir::TensorType;
using ir::ValueId;

/// A symbolic batch size inside constant shape arithmetic.
constexpr int64_t kBatch = std::numeric_limits<int64_t>::min();

constexpr const char *kSupported =
    "rnnc supports LSTM, GRU, Gather (embedding lookups, first/last step), Gemm, MatMul+Add, Concat, "
    "Slice/Squeeze/Unsqueeze/Transpose/Reshape that select a step or change the layout, Relu, Tanh, Sigmoid, "
    "Softmax, Identity, Dropout, Flatten, and constant shape arithmetic (Shape, Constant, ConstantOfShape, "
    "Cast, Unsqueeze, Concat, Gather, Slice)";

/// A user-visible failure; caught once, reported as a diagnostic.
struct ImportError {
  std::string message;
};

/// rnnc values seen through an ONNX tensor's axes.
struct Tensor {
  std::vector<ValueId> parts; ///< one per direction when `order` has D; else joined along F
  std::string order;          ///< ONNX axes, each one of B T D F
  /// A T axis of length 1 that stands for step `step` (0 or -1: last) of the
  /// parts' time axis, until a Squeeze or Reshape removes it.
  std::optional<int64_t> step;
  DType dtype = DType::F32;
};

struct Value {
  enum class Kind { Absent, Const, Zeros, Tensor, Unusable } kind = Kind::Absent;
  std::vector<int64_t> dims; ///< Const, Zeros (kBatch for the batch)
  std::vector<double> data;  ///< Const
  bool integer = false;
  std::string name; ///< Const from an initializer: its name
  Tensor tensor;
  std::string why; ///< Unusable: what a use must say
};

std::string sanitize(const std::string &name) {
  std::string out;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
    if (ok)
      out += c;
    else if (c == '/' || c == ':')
      out += out.empty() || out.back() == '.' ? "" : ".";
    else
      out += '_';
  }
  while (!out.empty() && out.back() == '.')
    out.pop_back();
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])) || out[0] == '.')
    out = "v" + out;
  return out;
}

/// A PyTorch-style name (`fc.weight`), not one an exporter made up.
bool meaningfulName(const std::string &name) {
  return !name.empty() && name.find("::") == std::string::npos && name.rfind("onnx", 0) != 0 &&
         name.find('/') == std::string::npos && !std::isdigit(static_cast<unsigned char>(name[0]));
}

/// `/rnn/LSTM_1` -> `rnn`: the module a node came from, when the exporter said.
std::string modulePath(const std::string &nodeName) {
  size_t slash = nodeName.rfind('/');
  if (slash == std::string::npos || slash == 0)
    return "";
  return sanitize(nodeName.substr(0, slash));
}

std::string shapeStr(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t k = 0; k < dims.size(); ++k)
    s += (k ? "," : "") + (dims[k] == kBatch ? std::string("batch") : std::to_string(dims[k]));
  return s + "]";
}

class Importer {
public:
  Importer(const std::string &path, const ImportOptions &options) : path_(path), options_(options) {}

  ir::Graph run(::onnx::ModelProto &model) {
    checkOpset(model);
    for (auto &input : *model.mutable_graph()->mutable_input())
      fixDims(input);
    try {
      ::onnx::checker::check_model(model);
    } catch (const std::exception &e) {
      fail("the ONNX checker refuses the model: " + firstLine(e.what()));
    }
    try {
      ::onnx::shape_inference::InferShapes(model);
    } catch (const std::exception &e) {
      fail("ONNX shape inference fails: " + firstLine(e.what()));
    }
    const ::onnx::GraphProto &g = model.graph();
    size_t slash = path_.find_last_of('/');
    std::string stem = path_.substr(slash == std::string::npos ? 0 : slash + 1);
    if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".onnx") == 0)
      stem.resize(stem.size() - 5);
    graph_.name = sanitize(stem);
    for (const ::onnx::TensorProto &t : g.initializer())
      values_[t.name()] = constantOf(t, "initializer '" + t.name() + "'");
    for (const ::onnx::ValueInfoProto &input : g.input())
      if (!values_.count(input.name()))
        declareInput(input);
    for (int k = 0; k < g.node_size(); ++k) {
      node_ = &g.node(k);
      nodeIndex_ = k;
      lowerNode(*node_);
    }
    node_ = nullptr;
    if (g.output_size() != 1)
      fail("the graph has " + std::to_string(g.output_size()) +
           " outputs; rnnc compiles models with one output (export only the prediction)");
    const std::string &outName = g.output(0).name();
    Tensor out = tensorOf(outName, "the graph's output");
    const std::string canonical = out.order.find('T') != std::string::npos ? "BTF" : "BF";
    if (out.order != canonical || out.step)
      fail("the output '" + outName + "' has axis order " + out.order + "; rnnc's outputs are batch-major (" + canonical +
           ", B batch, T time, F features)");
    ValueId id = materialize(out);
    if (graph_.op(id).kind == OpKind::Input || graph_.op(id).kind == OpKind::Param)
      id = add(OpKind::Identity, {id}, {}, outName);
    if (!graph_.find(sanitize(outName)))
      graph_.rename(id, sanitize(outName));
    graph_.output = id;
    return prune();
  }

private:
  [[noreturn]] void fail(const std::string &message) const {
    std::string where = path_ + ": ";
    if (node_)
      where += "node " + std::to_string(nodeIndex_) + " '" + node_->name() + "' (op type " + node_->op_type() + "): ";
    throw ImportError{where + message};
  }

  static std::string firstLine(const std::string &text) {
    std::string line = text.substr(0, text.find('\n'));
    return line.size() > 400 ? line.substr(0, 400) + "..." : line;
  }

  // --- The model's header --------------------------------------------------

  void checkOpset(const ::onnx::ModelProto &model) {
    std::optional<int64_t> opset;
    for (const auto &entry : model.opset_import())
      if (entry.domain().empty() || entry.domain() == "ai.onnx")
        opset = entry.version();
    if (!opset)
      fail("the model imports no opset of the default ONNX domain; rnnc reads opsets " + std::to_string(kMinOpset) +
           " to " + std::to_string(kMaxOpset));
    if (*opset < kMinOpset || *opset > kMaxOpset)
      fail("opset " + std::to_string(*opset) + " is not supported; rnnc reads opsets " + std::to_string(kMinOpset) +
           " to " + std::to_string(kMaxOpset) + " (torch.onnx.export(..., opset_version=14))");
    opset_ = *opset;
    if (!model.has_graph())
      fail("the model has no graph");
  }

  /// Applies --onnx-dim NAME=N to an input's named dimensions.
  void fixDims(::onnx::ValueInfoProto &input) {
    if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
      return;
    for (auto &dim : *input.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim())
      if (dim.has_dim_param())
        if (auto it = options_.dims.find(dim.dim_param()); it != options_.dims.end())
          dim.set_dim_value(it->second);
  }

  void declareInput(const ::onnx::ValueInfoProto &input) {
    const std::string &name = input.name();
    if (!input.type().has_tensor_type())
      fail("input '" + name + "' is not a tensor");
    const auto &tt = input.type().tensor_type();
    const int elem = tt.elem_type();
    DType dtype;
    if (elem == ::onnx::TensorProto::FLOAT)
      dtype = DType::F32;
    else if (elem == ::onnx::TensorProto::INT64 || elem == ::onnx::TensorProto::INT32)
      dtype = DType::I32;
    else
      fail("input '" + name + "' has element type " + ::onnx::TensorProto::DataType_Name(elem) +
           "; rnnc's inputs are float (features) or int64/int32 (token ids)");
    if (!tt.has_shape())
      fail("input '" + name + "' has no shape; export with fixed shapes (torch.onnx.export with an example input)");
    const int rank = tt.shape().dim_size();
    const bool ids = dtype == DType::I32;
    if (ids ? rank != 2 : (rank != 2 && rank != 3))
      fail("input '" + name + "' has rank " + std::to_string(rank) + "; rnnc reads " +
           (ids ? "token ids [batch, time]" : "sequences [batch, time, features] or rows [batch, features]"));
    // The batch axis: the one dynamic dimension, else the first.
    std::vector<int> dynamic;
    for (int d = 0; d < rank; ++d)
      if (!tt.shape().dim(d).has_dim_value())
        dynamic.push_back(d);
    int batchAxis = dynamic.empty() ? 0 : dynamic[0];
    if (dynamic.size() > 1 || (batchAxis > 1) || (batchAxis == 1 && rank == 2 && !ids)) {
      int bad = dynamic.size() > 1 ? dynamic[1] : batchAxis;
      const auto &dim = tt.shape().dim(bad);
      std::string label = dim.has_dim_param() ? "'" + dim.dim_param() + "'" : "(unnamed)";
      fail("input '" + name + "' dimension " + std::to_string(bad) + " " + label +
           " is dynamic; rnnc needs every dimension but the batch fixed (the sequence length too): export without "
           "that dynamic_axes entry, or fix it with " +
           (dim.has_dim_param() ? "--onnx-dim " + dim.dim_param() + "=N" : std::string("a fixed-shape export")));
    }
    std::string order = ids ? "BT" : rank == 3 ? "BTF" : "BF";
    if (batchAxis == 1)
      std::swap(order[0], order[1]);
    std::vector<int64_t> sizes; // in rnnc's order (batch first)
    for (char axis : std::string(ids ? "BT" : rank == 3 ? "BTF" : "BF")) {
      if (axis == 'B')
        continue;
      int d = static_cast<int>(order.find(axis));
      int64_t v = tt.shape().dim(d).dim_value();
      if (v < 1 || v > ir::kMaxElements)
        fail("input '" + name + "' dimension " + std::to_string(d) + " has size " + std::to_string(v));
      sizes.push_back(v);
    }
    if (tt.shape().dim(batchAxis).has_dim_value())
      staticBatch_ = tt.shape().dim(batchAxis).dim_value();
    TensorType type{dtype, {ir::Dim::symbolic("batch")}};
    for (int64_t v : sizes)
      type.dims.push_back(ir::Dim::fixed(v));
    if (!type.elementCount().has_value() && false)
      fail("input too large");
    std::string rnncName = sanitize(name);
    if (graph_.find(rnncName))
      fail("two inputs are named '" + rnncName + "' once names are made IR names");
    ir::Op op{OpKind::Input, rnncName, {}, {}, type, {}};
    ValueId id = graph_.add(std::move(op));
    Value v;
    v.kind = Value::Kind::Tensor;
    v.tensor = Tensor{{id}, order, std::nullopt, dtype};
    values_[name] = v;
  }

  // --- Constants ------------------------------------------------------------

  Value constantOf(const ::onnx::TensorProto &t, const std::string &what) {
    Value v;
    v.kind = Value::Kind::Const;
    v.name = t.name();
    int64_t count = 1;
    for (int64_t d : t.dims()) {
      if (d < 0 || d > ir::kMaxElements || count * std::max<int64_t>(d, 1) > (int64_t(1) << 31))
        fail(what + " has a bad or too large shape");
      v.dims.push_back(d);
      count *= d;
    }
    if (t.data_location() == ::onnx::TensorProto::EXTERNAL)
      fail(what + " keeps its data in an external file; save the model with its weights inside "
                  "(onnx.save(model, path, save_as_external_data=False))");
    const std::string &raw = t.raw_data();
    auto fromRaw = [&](size_t size, auto read) {
      if (raw.size() != static_cast<size_t>(count) * size)
        fail(what + " has " + std::to_string(raw.size()) + " bytes of data for shape " + shapeStr(v.dims));
      for (int64_t k = 0; k < count; ++k)
        v.data.push_back(read(raw.data() + k * size));
    };
    switch (t.data_type()) {
    case ::onnx::TensorProto::FLOAT:
      if (t.has_raw_data())
        fromRaw(4, [](const char *p) { float f; std::memcpy(&f, p, 4); return double(f); });
      else
        v.data.assign(t.float_data().begin(), t.float_data().end());
      break;
    case ::onnx::TensorProto::DOUBLE:
      if (t.has_raw_data())
        fromRaw(8, [](const char *p) { double f; std::memcpy(&f, p, 8); return f; });
      else
        v.data.assign(t.double_data().begin(), t.double_data().end());
      break;
    case ::onnx::TensorProto::INT64:
      v.integer = true;
      if (t.has_raw_data())
        fromRaw(8, [](const char *p) { int64_t i; std::memcpy(&i, p, 8); return double(i); });
      else
        v.data.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    case ::onnx::TensorProto::INT32:
    case ::onnx::TensorProto::BOOL:
      v.integer = true;
      if (t.has_raw_data())
        fromRaw(t.data_type() == ::onnx::TensorProto::BOOL ? 1 : 4, [&](const char *p) {
          if (t.data_type() == ::onnx::TensorProto::BOOL)
            return double(*p != 0);
          int32_t i; std::memcpy(&i, p, 4); return double(i);
        });
      else
        v.data.assign(t.int32_data().begin(), t.int32_data().end());
      break;
    default:
      fail(what + " has element type " + ::onnx::TensorProto::DataType_Name(t.data_type()) +
           "; rnnc reads float, double, int32 and int64 constants");
    }
    if (static_cast<int64_t>(v.data.size()) != count)
      fail(what + " has " + std::to_string(v.data.size()) + " values for shape " + shapeStr(v.dims));
    return v;
  }

  static Value constant(std::vector<int64_t> dims, std::vector<double> data, bool integer) {
    Value v;
    v.kind = Value::Kind::Const;
    v.dims = std::move(dims);
    v.data = std::move(data);
    v.integer = integer;
    return v;
  }

  // --- Looking values up ------------------------------------------------------

  const Value &valueOf(const std::string &name, const std::string &what) {
    if (name.empty()) {
      static const Value absent;
      return absent;
    }
    auto it = values_.find(name);
    if (it == values_.end())
      fail(what + " '" + name + "' is neither a graph input, an initializer nor an earlier node's output "
                                "(a missing initializer?)");
    if (it->second.kind == Value::Kind::Unusable)
      fail(it->second.why);
    return it->second;
  }

  const Value &input(int k, const std::string &what) {
    return valueOf(k < node_->input_size() ? node_->input(k) : std::string(), what);
  }

  const Value &constInput(int k, const std::string &what) {
    const Value &v = input(k, what);
    if (v.kind != Value::Kind::Const)
      fail(what + " must be a constant (an initializer or computed from shapes)");
    return v;
  }

  Tensor tensorOf(const std::string &name, const std::string &what) {
    const Value &v = valueOf(name, what);
    if (v.kind != Value::Kind::Tensor)
      fail(what + " '" + name + "' is a constant here; rnnc needs it to be computed from the model's inputs");
    return v.tensor;
  }

  Tensor tensorInput(int k, const std::string &what) {
    if (k >= node_->input_size() || node_->input(k).empty())
      fail(what + " is missing");
    return tensorOf(node_->input(k), what);
  }

  void setOutput(int k, Value v) {
    if (k < node_->output_size() && !node_->output(k).empty())
      values_[node_->output(k)] = std::move(v);
  }

  void setTensor(int k, Tensor t) {
    Value v;
    v.kind = Value::Kind::Tensor;
    v.tensor = std::move(t);
    setOutput(k, std::move(v));
  }

  void setUnusable(int k, const std::string &why) {
    Value v;
    v.kind = Value::Kind::Unusable;
    v.why = path_ + ": node " + std::to_string(nodeIndex_) + " '" + node_->name() + "' (op type " +
            node_->op_type() + "): " + why;
    setOutput(k, std::move(v));
  }

  // --- Attributes -------------------------------------------------------------

  const ::onnx::AttributeProto *attr(const std::string &name) const {
    for (const auto &a : node_->attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t intAttr(const std::string &name, int64_t fallback) const {
    const auto *a = attr(name);
    return a ? a->i() : fallback;
  }
  double floatAttr(const std::string &name, double fallback) const {
    const auto *a = attr(name);
    return a ? a->f() : fallback;
  }
  std::string stringAttr(const std::string &name, const std::string &fallback) const {
    const auto *a = attr(name);
    return a ? a->s() : fallback;
  }
  std::optional<std::vector<int64_t>> intsAttr(const std::string &name) const {
    const auto *a = attr(name);
    if (!a)
      return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }

  /// An axes list from the attribute (older opsets) or input k (newer ones).
  std::optional<std::vector<int64_t>> axesOf(int k, int64_t inputSince) {
    if (opset_ < inputSince)
      return intsAttr("axes");
    const Value &v = input(k, "axes");
    if (v.kind == Value::Kind::Absent)
      return std::nullopt;
    if (v.kind != Value::Kind::Const)
      fail("the axes must be a constant");
    return std::vector<int64_t>(v.data.begin(), v.data.end());
  }

  static int64_t normAxis(int64_t axis, size_t rank, const std::function<void()> &bad) {
    if (axis < 0)
      axis += static_cast<int64_t>(rank);
    if (axis < 0 || axis >= static_cast<int64_t>(rank))
      bad();
    return axis;
  }

  // --- Building rnnc ops ------------------------------------------------------

  ValueId add(OpKind kind, std::vector<ValueId> operands, AttrMap attrs, const std::string &name) {
    std::vector<TensorType> types;
    for (ValueId v : operands)
      types.push_back(graph_.op(v).type);
    std::string error;
    std::optional<TensorType> type = ir::inferType(kind, types, attrs, error);
    if (!type)
      fail(error);
    ir::Op op{kind, graph_.uniqueName(sanitize(name)), std::move(operands), std::move(attrs), *type, {}};
    return graph_.add(std::move(op));
  }

  ValueId param(const std::string &name, std::vector<int64_t> dims, std::vector<float> values) {
    TensorType type{DType::F32, {}};
    for (int64_t d : dims)
      type.dims.push_back(ir::Dim::fixed(d));
    AttrMap attrs;
    attrs.set("init", Attr::ofString("stored"));
    ir::Op op{OpKind::Param, graph_.uniqueName(sanitize(name)), {}, attrs, type, {}};
    ValueId id = graph_.add(std::move(op));
    graph_.storedValues[id] = std::make_shared<const std::vector<float>>(std::move(values));
    return id;
  }

  /// A parameter from a constant, reusing it when several nodes share it.
  ValueId paramOf(const Value &c, const std::string &fallbackName) {
    if (!c.name.empty())
      if (auto it = paramsByInitializer_.find(c.name); it != paramsByInitializer_.end())
        return it->second;
    std::vector<float> values(c.data.begin(), c.data.end());
    ValueId id = param(meaningfulName(c.name) ? c.name : fallbackName, c.dims, std::move(values));
    if (!c.name.empty())
      paramsByInitializer_[c.name] = id;
    return id;
  }

  int64_t timeSteps(const Tensor &t) const { return graph_.op(t.parts[0]).type.dims[1].size; }

  int64_t axisLength(const Tensor &t, char axis) const {
    switch (axis) {
    case 'B': return kBatch;
    case 'T': return t.step ? 1 : timeSteps(t);
    case 'D': return static_cast<int64_t>(t.parts.size());
    default: {
      if (t.order.find('D') != std::string::npos)
        return graph_.op(t.parts[0]).type.dims.back().size;
      int64_t f = 0;
      for (ValueId p : t.parts)
        f += graph_.op(p).type.dims.back().size;
      return f;
    }
    }
  }

  std::vector<int64_t> dimsOf(const Tensor &t) const {
    std::vector<int64_t> dims;
    for (char a : t.order)
      dims.push_back(axisLength(t, a));
    return dims;
  }

  /// Replaces the parts' time axis by their first or last step.
  void applyStep(Tensor &t, int64_t step) {
    const int64_t steps = timeSteps(t);
    if (step < 0)
      step += steps;
    if (step != 0 && step != steps - 1)
      fail("selects time step " + std::to_string(step) + " of " + std::to_string(steps) +
           "; rnnc selects only the first or the last step");
    for (ValueId &p : t.parts)
      p = add(step == 0 ? OpKind::First : OpKind::Last, {p}, {}, graph_.op(p).name + (step == 0 ? ".first" : ".last"));
    t.order.erase(t.order.find('T'), 1);
    t.step.reset();
  }

  /// The tensor as one rnnc value (parts joined along the features).
  ValueId materialize(const Tensor &t) {
    if (t.order.find('D') != std::string::npos && t.parts.size() > 1)
      fail("uses a tensor with a separate direction axis (" + t.order +
           "); rnnc joins directions along the features: Transpose/Reshape it to [..., D*H] first");
    if (t.step)
      fail("uses a single time step that keeps its time axis; Squeeze it away first");
    if (t.parts.size() == 1)
      return t.parts[0];
    AttrMap a;
    a.set("axis", Attr::ofInt(static_cast<int64_t>(graph_.op(t.parts[0]).type.rank()) - 1));
    return add(OpKind::Concat, t.parts, a, node_ ? node_->output(0) : "concat");
  }

  /// A tensor with one part and the same order, made of `v`.
  static Tensor like(const Tensor &t, ValueId v) { return Tensor{{v}, t.order, std::nullopt, t.dtype}; }

  /// Drops a D axis of length 1 (one direction).
  static void dropUnitD(Tensor &t) {
    size_t d = t.order.find('D');
    if (d != std::string::npos && t.parts.size() == 1)
      t.order.erase(d, 1);
  }

  // --- Nodes --------------------------------------------------------------------

  void lowerNode(const ::onnx::NodeProto &n) {
    const std::string &op = n.op_type();
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      fail("operators of domain '" + n.domain() + "' are not supported; " + kSupported);
    // Constant shape arithmetic first: any op whose inputs are all constants.
    bool allConst = n.input_size() > 0;
    for (const std::string &in : n.input())
      if (!in.empty()) {
        const Value &v = valueOf(in, "input");
        allConst &= v.kind == Value::Kind::Const || v.kind == Value::Kind::Zeros;
      }
    if (op == "Constant")
      return lowerConstant();
    if (op == "Shape")
      return lowerShape();
    if (op == "ConstantOfShape")
      return lowerConstantOfShape();
    if (allConst && foldConstant(op))
      return;
    if (op == "LSTM" || op == "GRU")
      return lowerRecurrent(op == "LSTM");
    if (op == "Gather")
      return lowerGather();
    if (op == "Gemm")
      return lowerGemm();
    if (op == "MatMul")
      return lowerMatMul();
    if (op == "Add")
      return lowerAdd();
    if (op == "Concat")
      return lowerConcat();
    if (op == "Transpose")
      return lowerTranspose();
    if (op == "Squeeze")
      return lowerSqueeze();
    if (op == "Unsqueeze")
      fail("adds an axis to a computed tensor; rnnc's tensors keep the layouts [B,T,F] and [B,F]");
    if (op == "Reshape")
      return lowerReshape();
    if (op == "Slice")
      return lowerSlice();
    if (op == "Flatten") {
      Tensor t = tensorInput(0, "the input");
      if (t.order.size() != 2 || intAttr("axis", 1) != 1)
        fail("Flatten is supported only as the identity on [batch, features]");
      return setTensor(0, t);
    }
    if (op == "Identity" || op == "Dropout" || op == "Cast") {
      Tensor t = tensorInput(0, "the input");
      if (op == "Cast") {
        const int64_t to = intAttr("to", 0);
        const bool toInt = to == ::onnx::TensorProto::INT64 || to == ::onnx::TensorProto::INT32;
        if (toInt != (t.dtype == DType::I32))
          fail("Cast between floats and integers of computed tensors is not supported");
      }
      if (op == "Dropout")
        setUnusable(1, "uses Dropout's mask output; rnnc runs dropout as the identity in inference");
      return setTensor(0, t);
    }
    if (op == "Relu" || op == "Tanh" || op == "Sigmoid" || op == "Softmax") {
      Tensor t = tensorInput(0, "the input");
      if (t.dtype != DType::F32)
        fail("needs a float input");
      if (op == "Softmax") {
        const int64_t rank = static_cast<int64_t>(t.order.size());
        int64_t axis = intAttr("axis", opset_ >= 13 ? -1 : 1);
        axis = normAxis(axis, t.order.size(), [&] { fail("axis out of range"); });
        if (t.order[axis] != 'F' || (opset_ < 13 && axis != rank - 1))
          fail("Softmax must run over the features (the last axis); rnnc's softmax is over the last axis");
      }
      const OpKind kind = op == "Relu" ? OpKind::Relu : op == "Tanh" ? OpKind::Tanh : op == "Sigmoid" ? OpKind::Sigmoid : OpKind::Softmax;
      return setTensor(0, like(t, add(kind, {materialize(t)}, {}, n.output(0))));
    }
    fail(std::string("not supported; ") + kSupported);
  }

  void lowerConstant() {
    const auto *value = attr("value");
    if (value && value->has_t())
      return setOutput(0, constantOf(value->t(), "the constant"));
    if (const auto *a = attr("value_float"))
      return setOutput(0, constant({}, {a->f()}, false));
    if (const auto *a = attr("value_int"))
      return setOutput(0, constant({}, {double(a->i())}, true));
    if (const auto *a = attr("value_ints"))
      return setOutput(0, constant({a->ints_size()}, {a->ints().begin(), a->ints().end()}, true));
    if (const auto *a = attr("value_floats"))
      return setOutput(0, constant({a->floats_size()}, {a->floats().begin(), a->floats().end()}, false));
    fail("this kind of Constant is not supported (rnnc reads value, value_float(s), value_int(s))");
  }

  void lowerShape() {
    const Value &v = input(0, "the input");
    std::vector<int64_t> dims;
    if (v.kind == Value::Kind::Tensor)
      dims = dimsOf(v.tensor);
    else if (v.kind == Value::Kind::Const || v.kind == Value::Kind::Zeros)
      dims = v.dims;
    else
      fail("the input is missing");
    if (opset_ >= 15) { // start and end attributes
      const int64_t r = static_cast<int64_t>(dims.size());
      int64_t start = intAttr("start", 0), end = intAttr("end", r);
      start = std::clamp<int64_t>(start < 0 ? start + r : start, 0, r);
      end = std::clamp<int64_t>(end < 0 ? end + r : end, 0, r);
      dims = std::vector<int64_t>(dims.begin() + start, dims.begin() + std::max(start, end));
    }
    setOutput(0, constant({static_cast<int64_t>(dims.size())}, {dims.begin(), dims.end()}, true));
  }

  void lowerConstantOfShape() {
    const Value &shape = constInput(0, "the shape");
    double fill = 0;
    if (const auto *a = attr("value"); a && a->has_t()) {
      Value c = constantOf(a->t(), "the fill value");
      if (!c.data.empty())
        fill = c.data[0];
    }
    std::vector<int64_t> dims(shape.data.begin(), shape.data.end());
    const bool symbolic = std::find(dims.begin(), dims.end(), kBatch) != dims.end();
    if (fill == 0) {
      Value z;
      z.kind = Value::Kind::Zeros;
      z.dims = dims;
      return setOutput(0, z);
    }
    if (symbolic)
      return setUnusable(0, "a batch-sized constant that is not zero is not supported");
    int64_t count = 1;
    for (int64_t d : dims)
      count *= d;
    setOutput(0, constant(dims, std::vector<double>(count, fill), false));
  }

  /// Evaluates an op on constants (shape arithmetic). False: not one we fold.
  bool foldConstant(const std::string &op) {
    auto in = [&](int k) -> const Value & { return input(k, "input " + std::to_string(k)); };
    const Value &a = in(0);
    // Zeros stay zeros through layout ops and casts (recurrent initial states).
    if (a.kind == Value::Kind::Zeros) {
      static const std::set<std::string> keep = {"Slice", "Gather", "Squeeze", "Unsqueeze", "Reshape", "Transpose",
                                                 "Expand", "Cast", "Identity", "Tile"};
      if (!keep.count(op))
        return false;
      Value z = a;
      z.dims.clear(); // shape no longer tracked: only used as an initial state
      setOutput(0, z);
      return true;
    }
    if (a.kind != Value::Kind::Const)
      return false;
    // A zero broadcast to a shape (torch's initial states at some opsets).
    if (op == "Expand" && std::all_of(a.data.begin(), a.data.end(), [](double x) { return x == 0; })) {
      Value z;
      z.kind = Value::Kind::Zeros;
      z.dims = std::vector<int64_t>(in(1).data.begin(), in(1).data.end());
      setOutput(0, z);
      return true;
    }
    auto shapeValue = [](const Value &v) { return std::vector<int64_t>(v.data.begin(), v.data.end()); };
    if (op == "Identity" || op == "Cast") {
      Value v = a;
      v.name.clear();
      if (op == "Cast") {
        const int64_t to = intAttr("to", 0);
        v.integer = to != ::onnx::TensorProto::FLOAT && to != ::onnx::TensorProto::DOUBLE && to != ::onnx::TensorProto::FLOAT16;
      }
      setOutput(0, v);
      return true;
    }
    if (op == "Unsqueeze" || op == "Squeeze") {
      Value v = a;
      v.name.clear();
      std::vector<int64_t> axes = axesOf(1, 13).value_or(std::vector<int64_t>{});
      if (op == "Unsqueeze") {
        const size_t rank = v.dims.size() + axes.size();
        for (int64_t &x : axes)
          x = normAxis(x, rank, [&] { fail("axis out of range"); });
        std::sort(axes.begin(), axes.end());
        for (int64_t x : axes)
          v.dims.insert(v.dims.begin() + x, 1);
      } else {
        std::vector<int64_t> dims;
        for (size_t d = 0; d < v.dims.size(); ++d) {
          bool drop = axes.empty() ? v.dims[d] == 1
                                   : std::any_of(axes.begin(), axes.end(), [&](int64_t x) {
                                       return normAxis(x, v.dims.size(), [&] { fail("axis out of range"); }) ==
                                              static_cast<int64_t>(d);
                                     });
          if (!drop)
            dims.push_back(v.dims[d]);
        }
        v.dims = dims;
      }
      setOutput(0, v);
      return true;
    }
    if (op == "Transpose" && a.dims.size() == 2) { // a weight stored as PyTorch's [U, I] (rnnc's export)
      std::vector<int64_t> perm = intsAttr("perm").value_or(std::vector<int64_t>{1, 0});
      if (perm != std::vector<int64_t>{1, 0}) {
        setOutput(0, a);
        return true;
      }
      Value v = constant({a.dims[1], a.dims[0]}, std::vector<double>(a.data.size()), a.integer);
      for (int64_t i = 0; i < a.dims[0]; ++i)
        for (int64_t j = 0; j < a.dims[1]; ++j)
          v.data[j * a.dims[0] + i] = a.data[i * a.dims[1] + j];
      setOutput(0, v);
      return true;
    }
    if (op == "Concat") {
      Value v;
      v.kind = Value::Kind::Const;
      v.integer = true;
      for (int k = 0; k < node_->input_size(); ++k) {
        const Value &c = in(k);
        if (c.kind != Value::Kind::Const || c.dims.size() > 1)
          return false;
        v.data.insert(v.data.end(), c.data.begin(), c.data.end());
        v.integer &= c.integer;
      }
      v.dims = {static_cast<int64_t>(v.data.size())};
      setOutput(0, v);
      return true;
    }
    if (op == "Gather") {
      const Value &idx = in(1);
      if (idx.kind != Value::Kind::Const || a.dims.size() != 1 || intAttr("axis", 0) != 0)
        return false;
      Value v = constant(idx.dims, {}, a.integer);
      for (double i : idx.data) {
        int64_t k = static_cast<int64_t>(i);
        if (k < 0)
          k += static_cast<int64_t>(a.data.size());
        if (k < 0 || k >= static_cast<int64_t>(a.data.size()))
          fail("index " + std::to_string(static_cast<int64_t>(i)) + " out of range");
        v.data.push_back(a.data[k]);
      }
      setOutput(0, v);
      return true;
    }
    if (op == "Slice" && a.dims.size() == 1 && opset_ >= 10) {
      const int64_t n = static_cast<int64_t>(a.data.size());
      int64_t start = static_cast<int64_t>(in(1).data.at(0)), end = static_cast<int64_t>(in(2).data.at(0));
      if (node_->input_size() > 4 && !node_->input(4).empty() && in(4).data.at(0) != 1)
        return false;
      start = std::clamp<int64_t>(start < 0 ? start + n : start, 0, n);
      end = std::clamp<int64_t>(end < 0 ? end + n : end, 0, n);
      Value v = constant({std::max<int64_t>(0, end - start)}, {}, a.integer);
      for (int64_t k = start; k < end; ++k)
        v.data.push_back(a.data[k]);
      setOutput(0, v);
      return true;
    }
    if (op == "Reshape") {
      Value v = a;
      v.name.clear();
      v.dims = shapeValue(in(1));
      int64_t known = 1, unknown = -1;
      for (size_t d = 0; d < v.dims.size(); ++d) {
        if (v.dims[d] == 0 && d < a.dims.size())
          v.dims[d] = a.dims[d];
        if (v.dims[d] == -1)
          unknown = static_cast<int64_t>(d);
        else
          known *= v.dims[d];
      }
      if (unknown >= 0)
        v.dims[unknown] = known ? static_cast<int64_t>(a.data.size()) / known : 0;
      setOutput(0, v);
      return true;
    }
    if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && node_->input_size() == 2 &&
        in(1).kind == Value::Kind::Const) {
      const Value &b = in(1);
      if (a.data.size() != b.data.size() && b.data.size() != 1 && a.data.size() != 1)
        return false;
      const Value &big = a.data.size() >= b.data.size() ? a : b;
      Value v = constant(big.dims, {}, a.integer && b.integer);
      for (size_t k = 0; k < big.data.size(); ++k) {
        double x = a.data[a.data.size() == 1 ? 0 : k], y = b.data[b.data.size() == 1 ? 0 : k];
        if (x == kBatch || y == kBatch)
          return false;
        v.data.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y
                         : v.integer ? std::floor(x / y) : x / y);
      }
      setOutput(0, v);
      return true;
    }
    return false;
  }

  // --- Recurrent layers -----------------------------------------------------------

  /// The rows of a [G*H, K] matrix (or a [G*H] vector) with its gate blocks
  /// reordered: block k of the result is block order[k] of `from`.
  static std::vector<float> reorder(const double *from, int64_t gates, int64_t hidden, int64_t cols,
                                    const std::vector<int> &order) {
    std::vector<float> out;
    out.reserve(gates * hidden * cols);
    for (int g : order)
      for (int64_t k = 0; k < hidden * cols; ++k)
        out.push_back(static_cast<float>(from[g * hidden * cols + k]));
    return out;
  }

  bool zeroState(const Value &v) {
    if (v.kind == Value::Kind::Absent || v.kind == Value::Kind::Zeros)
      return true;
    return v.kind == Value::Kind::Const && std::all_of(v.data.begin(), v.data.end(), [](double x) { return x == 0; });
  }

  void lowerRecurrent(bool lstm) {
    const int64_t gates = lstm ? 4 : 3;
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

  // --- Other layers ---------------------------------------------------------------

  void lowerGather() {
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

  /// A dense layer's weight [U, I] and the name its module gives it.
  ValueId denseWeight(const Value &w, bool transposed, const std::string &stem) {
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

  std::string denseStem() {
    std::string stem = modulePath(node_->name());
    return stem.empty() ? "dense" + std::to_string(denseCount_++) : stem;
  }

  void lowerGemm() {
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

  void lowerMatMul() {
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

  void lowerAdd() {
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

  void lowerConcat() {
    std::vector<Tensor> ins;
    for (int k = 0; k < node_->input_size(); ++k)
      ins.push_back(tensorInput(k, "input " + std::to_string(k)));
    const int64_t axis = normAxis(intAttr("axis", 0), ins[0].order.size(), [&] { fail("axis out of range"); });
    if (ins[0].order[axis] == 'D') { // stacking layers' and directions' final states (h_n)
      Tensor out = ins[0];
      out.parts.clear();
      for (const Tensor &t : ins) {
        if (t.order != ins[0].order || t.step)
          fail("Concat along the direction axis needs inputs of one layout; got " + t.order + " and " + ins[0].order);
        out.parts.insert(out.parts.end(), t.parts.begin(), t.parts.end());
      }
      return setTensor(0, out);
    }
    std::vector<ValueId> parts;
    for (Tensor &t : ins) {
      dropUnitD(t);
      if (t.order != ins[0].order || t.order[axis] != 'F')
        fail("Concat is supported along the features of tensors of one layout; got axis " + std::to_string(axis) +
             " of layout " + t.order);
      parts.push_back(materialize(t));
    }
    AttrMap a;
    a.set("axis", Attr::ofInt(static_cast<int64_t>(graph_.op(parts[0]).type.rank()) - 1));
    setTensor(0, like(ins[0], add(OpKind::Concat, parts, a, node_->output(0))));
  }

  void lowerTranspose() {
    Tensor t = tensorInput(0, "the input");
    std::vector<int64_t> perm = intsAttr("perm").value_or(std::vector<int64_t>{});
    if (perm.empty())
      for (int64_t k = static_cast<int64_t>(t.order.size()) - 1; k >= 0; --k)
        perm.push_back(k);
    if (perm.size() != t.order.size())
      fail("perm has " + std::to_string(perm.size()) + " axes for a tensor of rank " + std::to_string(t.order.size()));
    std::string order;
    for (int64_t p : perm)
      order += t.order.at(normAxis(p, t.order.size(), [&] { fail("perm out of range"); }));
    t.order = order;
    setTensor(0, t);
  }

  /// Removes axis `a` of length 1: a single direction or a selected step.
  void dropAxis(Tensor &t, size_t a) {
    const char which = t.order[a];
    if (which == 'D' && t.parts.size() == 1)
      t.order.erase(a, 1);
    else if (which == 'T' && t.step)
      applyStep(t, *t.step);
    else if (which == 'T' && timeSteps(t) == 1)
      applyStep(t, 0);
    else
      fail("removes axis " + std::to_string(a) + " (" + std::string(1, which) + ", length " +
           std::to_string(axisLength(t, which)) + "); only axes of length 1 can be removed");
  }

  void lowerSqueeze() {
    Tensor t = tensorInput(0, "the input");
    std::vector<int64_t> axes = axesOf(1, 13).value_or(std::vector<int64_t>{});
    if (axes.empty())
      for (size_t a = 0; a < t.order.size(); ++a)
        if (t.order[a] != 'B' && axisLength(t, t.order[a]) == 1)
          axes.push_back(static_cast<int64_t>(a));
    std::vector<char> letters;
    for (int64_t x : axes)
      letters.push_back(t.order.at(normAxis(x, t.order.size(), [&] { fail("axis out of range"); })));
    for (char c : letters)
      dropAxis(t, t.order.find(c));
    setTensor(0, t);
  }

  void lowerReshape() {
    Tensor t = tensorInput(0, "the input");
    const Value &shape = constInput(1, "the shape");
    std::vector<int64_t> src = dimsOf(t), target(shape.data.begin(), shape.data.end());
    const bool allowZero = intAttr("allowzero", 0) != 0;
    for (size_t j = 0; j < target.size(); ++j)
      if (target[j] == 0 && !allowZero) {
        if (j >= src.size())
          fail("shape entry 0 beyond the input's rank");
        target[j] = src[j];
      }
    auto bad = [&] {
      fail("Reshape from " + shapeStr(src) + " (axes " + t.order + ") to " + shapeStr(target) +
           " is not a layout change rnnc supports (merging directions into features, dropping axes of length 1)");
    };
    // Match source axes to target dims left to right.
    std::string order;
    bool mergeD = false;
    std::vector<size_t> drops; // letters of axes removed
    std::string dropLetters;
    size_t i = 0;
    for (size_t j = 0; j < target.size(); ++j) {
      const int64_t want = target[j];
      const size_t srcLeft = src.size() - i, tgtLeft = target.size() - j;
      // Axes of length 1 that the target does not keep.
      while (i < src.size() && src[i] == 1 && want != 1 && srcLeft > tgtLeft) {
        dropLetters += t.order[i];
        ++i;
      }
      if (i >= src.size())
        bad();
      if (src[i] == kBatch) {
        if (want != kBatch && want != -1 && want != staticBatch_)
          bad();
        order += 'B';
        ++i;
        continue;
      }
      if (want == src[i] && !(want == -1)) {
        order += t.order[i];
        ++i;
        continue;
      }
      // D then F merged into one axis.
      if (i + 1 < src.size() && t.order[i] == 'D' && t.order[i + 1] == 'F' &&
          (want == -1 || want == src[i] * src[i + 1])) {
        order += 'F';
        mergeD = true;
        i += 2;
        continue;
      }
      if (want == -1 && src.size() - i == target.size() - j) {
        order += t.order[i];
        ++i;
        continue;
      }
      bad();
    }
    while (i < src.size() && src[i] == 1)
      dropLetters += t.order[i++];
    if (i != src.size())
      bad();
    for (char c : dropLetters) {
      Tensor probe = t;
      size_t a = probe.order.find(c);
      dropAxis(probe, a);
      t = probe;
    }
    if (mergeD) {
      t.order.erase(t.order.find('D'), 1);
    }
    // What is left of t.order must equal the new order.
    if (t.order != order)
      bad();
    setTensor(0, t);
  }

  void lowerSlice() {
    Tensor t = tensorInput(0, "the input");
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
      starts = intsAttr("starts").value_or(std::vector<int64_t>{});
      ends = intsAttr("ends").value_or(std::vector<int64_t>{});
      axes = intsAttr("axes").value_or(std::vector<int64_t>{});
    } else {
      auto ints = [&](int k) {
        const Value &v = input(k, "a slice bound");
        if (v.kind == Value::Kind::Absent)
          return std::vector<int64_t>{};
        if (v.kind != Value::Kind::Const)
          fail("the slice bounds must be constants");
        return std::vector<int64_t>(v.data.begin(), v.data.end());
      };
      starts = ints(1), ends = ints(2), axes = ints(3), steps = ints(4);
    }
    if (axes.empty())
      for (size_t k = 0; k < starts.size(); ++k)
        axes.push_back(static_cast<int64_t>(k));
    for (size_t k = 0; k < axes.size(); ++k) {
      if (!steps.empty() && steps[k] != 1)
        fail("slices with a step other than 1 are not supported");
      const size_t a = normAxis(axes[k], t.order.size(), [&] { fail("axis out of range"); });
      const char which = t.order[a];
      const int64_t n = which == 'B' ? std::numeric_limits<int64_t>::max() : axisLength(t, which);
      int64_t s = starts[k], e = ends[k];
      s = std::clamp<int64_t>(s < 0 ? s + n : s, 0, n);
      e = std::clamp<int64_t>(e < 0 ? e + n : e, 0, n);
      if (s == 0 && e == n)
        continue; // the whole axis
      if (which == 'T' && e - s == 1 && !t.step) {
        t.step = s;
        continue;
      }
      if (which == 'D' && e - s == 1) {
        t.parts = {t.parts[s]};
        continue;
      }
      fail("slices [" + std::to_string(s) + ", " + std::to_string(e) + ") of axis " + std::to_string(a) + " (" +
           std::string(1, which) + ", length " + std::to_string(n) +
           "); rnnc slices only single time steps (first/last) and single directions");
    }
    setTensor(0, t);
  }

  // --- The end -----------------------------------------------------------------

  /// The graph with only the ops the output needs, in the same order.
  ir::Graph prune() {
    const std::vector<bool> live = neededForOutput(graph_);
    ir::Graph out;
    out.name = graph_.name;
    std::vector<ValueId> remap(graph_.size(), 0);
    for (size_t id = 0; id < graph_.size(); ++id) {
      if (!live[id])
        continue;
      ir::Op op = graph_.op(static_cast<ValueId>(id));
      for (ValueId &o : op.operands)
        o = remap[o];
      remap[id] = out.add(std::move(op));
      if (auto it = graph_.storedValues.find(static_cast<ValueId>(id)); it != graph_.storedValues.end())
        out.storedValues[remap[id]] = it->second;
    }
    out.output = remap[*graph_.output];
    return out;
  }

  const std::string path_;
  const ImportOptions &options_;
  ir::Graph graph_;
  std::map<std::string, Value> values_;
  std::map<std::string, ValueId> paramsByInitializer_;
  std::map<std::string, int64_t> layersSeen_;
  std::map<std::string, std::pair<ValueId, std::string>> matmuls_;
  int64_t opset_ = 0;
  int64_t staticBatch_ = -2;
  int denseCount_ = 0;
  const ::onnx::NodeProto *node_ = nullptr;
  int nodeIndex_ = 0;
};

/// The largest model file read (protobuf's own limit is 2 GiB).
constexpr int64_t kMaxModelBytes = int64_t(2) << 30;

} // namespace

std::optional<ir::Graph> importModel(const std::string &path, const ImportOptions &options, Diagnostics &diag) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    diag.error({}, "cannot open '" + path + "': " + std::strerror(errno));
    return std::nullopt;
  }
  const std::streamoff size = in.tellg();
  if (size < 0 || size >= kMaxModelBytes) {
    diag.error({}, path + ": the file is larger than 2 GiB, the limit of an ONNX protobuf");
    return std::nullopt;
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) {
    diag.error({}, "cannot read '" + path + "'");
    return std::nullopt;
  }
  ::onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) {
    diag.error({}, path + ": not an ONNX model: the protobuf does not parse (a truncated or corrupted file?)");
    return std::nullopt;
  }
  try {
    Importer importer(path, options);
    ir::Graph graph = importer.run(model);
    return graph;
  } catch (const ImportError &e) {
    diag.error({}, e.message);
    return std::nullopt;
  }
}

} // namespace rnnc::onnx
