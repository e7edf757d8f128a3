//===- Import.cpp - ONNX graphs lowered into rnnc's IR ----------------------===//
//
// The walk over the graph and its values; what each op family becomes is in
// the other Import*.cpp files (compiler/onnx/Importer.h says which).
#include "compiler/onnx/Importer.h"

#include "compiler/ir/OpTable.h"
#include "compiler/onnx/Live.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>

namespace rnnc::onnx::detail {

constexpr const char *kSupported =
    "rnnc supports LSTM, GRU, Gather (embedding lookups, first/last step), Gemm, MatMul+Add, Concat, "
    "Slice/Squeeze/Unsqueeze/Transpose/Reshape that select a step or change the layout, Relu, Tanh, Sigmoid, "
    "Softmax, Identity, Dropout, Flatten, ReduceMean/ReduceMax over the time steps, and constant shape arithmetic (Shape, Constant, ConstantOfShape, "
    "Cast, Unsqueeze, Concat, Gather, Slice)";

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

bool meaningfulName(const std::string &name) {
  return !name.empty() && name.find("::") == std::string::npos && name.rfind("onnx", 0) != 0 &&
         name.find('/') == std::string::npos && !std::isdigit(static_cast<unsigned char>(name[0]));
}

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

ir::Graph Importer::run(::onnx::ModelProto &model) {
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

void Importer::fail(const std::string &message) const {
  std::string where = path_ + ": ";
  if (node_)
    where += "node " + std::to_string(nodeIndex_) + " '" + node_->name() + "' (op type " + node_->op_type() + "): ";
  throw ImportError{where + message};
}

std::string Importer::firstLine(const std::string &text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 400 ? line.substr(0, 400) + "..." : line;
}

void Importer::checkOpset(const ::onnx::ModelProto &model) {
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

void Importer::fixDims(::onnx::ValueInfoProto &input) {
  if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
    return;
  for (auto &dim : *input.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim())
    if (dim.has_dim_param())
      if (auto it = options_.dims.find(dim.dim_param()); it != options_.dims.end())
        dim.set_dim_value(it->second);
}

void Importer::declareInput(const ::onnx::ValueInfoProto &input) {
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

const Value &Importer::valueOf(const std::string &name, const std::string &what) {
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

const Value &Importer::input(int k, const std::string &what) {
  return valueOf(k < node_->input_size() ? node_->input(k) : std::string(), what);
}

const Value &Importer::constInput(int k, const std::string &what) {
  const Value &v = input(k, what);
  if (v.kind != Value::Kind::Const)
    fail(what + " must be a constant (an initializer or computed from shapes)");
  return v;
}

Tensor Importer::tensorOf(const std::string &name, const std::string &what) {
  const Value &v = valueOf(name, what);
  if (v.kind != Value::Kind::Tensor)
    fail(what + " '" + name + "' is a constant here; rnnc needs it to be computed from the model's inputs");
  return v.tensor;
}

Tensor Importer::tensorInput(int k, const std::string &what) {
  if (k >= node_->input_size() || node_->input(k).empty())
    fail(what + " is missing");
  return tensorOf(node_->input(k), what);
}

void Importer::setOutput(int k, Value v) {
  if (k < node_->output_size() && !node_->output(k).empty())
    values_[node_->output(k)] = std::move(v);
}

void Importer::setTensor(int k, Tensor t) {
  Value v;
  v.kind = Value::Kind::Tensor;
  v.tensor = std::move(t);
  setOutput(k, std::move(v));
}

void Importer::setUnusable(int k, const std::string &why) {
  Value v;
  v.kind = Value::Kind::Unusable;
  v.why = path_ + ": node " + std::to_string(nodeIndex_) + " '" + node_->name() + "' (op type " +
          node_->op_type() + "): " + why;
  setOutput(k, std::move(v));
}

const ::onnx::AttributeProto *Importer::attr(const std::string &name) const {
  for (const auto &a : node_->attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t Importer::intAttr(const std::string &name, int64_t fallback) const {
  const auto *a = attr(name);
  return a ? a->i() : fallback;
}

double Importer::floatAttr(const std::string &name, double fallback) const {
  const auto *a = attr(name);
  return a ? a->f() : fallback;
}

std::string Importer::stringAttr(const std::string &name, const std::string &fallback) const {
  const auto *a = attr(name);
  return a ? a->s() : fallback;
}

std::optional<std::vector<int64_t>> Importer::intsAttr(const std::string &name) const {
  const auto *a = attr(name);
  if (!a)
    return std::nullopt;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

std::optional<std::vector<int64_t>> Importer::axesOf(int k, int64_t inputSince) {
  if (opset_ < inputSince)
    return intsAttr("axes");
  const Value &v = input(k, "axes");
  if (v.kind == Value::Kind::Absent)
    return std::nullopt;
  if (v.kind != Value::Kind::Const)
    fail("the axes must be a constant");
  return std::vector<int64_t>(v.data.begin(), v.data.end());
}

int64_t Importer::normAxis(int64_t axis, size_t rank, const std::function<void()> &bad) {
  if (axis < 0)
    axis += static_cast<int64_t>(rank);
  if (axis < 0 || axis >= static_cast<int64_t>(rank))
    bad();
  return axis;
}

ValueId Importer::add(OpKind kind, std::vector<ValueId> operands, AttrMap attrs, const std::string &name) {
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

ValueId Importer::param(const std::string &name, std::vector<int64_t> dims, std::vector<float> values) {
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

ValueId Importer::paramOf(const Value &c, const std::string &fallbackName) {
  if (!c.name.empty())
    if (auto it = paramsByInitializer_.find(c.name); it != paramsByInitializer_.end())
      return it->second;
  std::vector<float> values(c.data.begin(), c.data.end());
  ValueId id = param(meaningfulName(c.name) ? c.name : fallbackName, c.dims, std::move(values));
  if (!c.name.empty())
    paramsByInitializer_[c.name] = id;
  return id;
}

void Importer::lowerNode(const ::onnx::NodeProto &n) {
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
  if (op == "ReduceMean" || op == "ReduceMax")
    return lowerReduceSteps(op == "ReduceMax");
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

ir::Graph Importer::prune() {
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

/// The largest model file read (protobuf's own limit is 2 GiB).
constexpr int64_t kMaxModelBytes = int64_t(2) << 30;

} // namespace rnnc::onnx::detail

namespace rnnc::onnx {

std::optional<ir::Graph> importModel(const std::string &path, const ImportOptions &options, Diagnostics &diag) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    diag.error({}, "cannot open '" + path + "': " + std::strerror(errno));
    return std::nullopt;
  }
  const std::streamoff size = in.tellg();
  if (size < 0 || size >= detail::kMaxModelBytes) {
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
    detail::Importer importer(path, options);
    ir::Graph graph = importer.run(model);
    return graph;
  } catch (const detail::ImportError &e) {
    diag.error({}, e.message);
    return std::nullopt;
  }
}

} // namespace rnnc::onnx
