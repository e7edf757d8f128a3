//===- Export.cpp - rnnc's forward graph written as ONNX ------------------===//
//
// One ONNX node (or a short fixed pattern) per rnnc op, so that rnnc's own
// importer (Import.cpp) and any ONNX runtime read it back:
//   embedding -> Gather(table, ids)
//   lstm/gru  -> LSTM/GRU (layout=1, one direction) + Squeeze of the
//                direction axis; gates reordered from PyTorch's (i,f,g,o /
//                r,z,n) to ONNX's (i,o,f,c / z,r,h), the two biases joined
//   dense     -> Gemm(transB=1) on [B,F]; MatMul(x, Transpose(w)) + Add on [B,T,F]
//   first/last -> Gather(axis=1) of step 0 / -1
//   mean/max   -> ReduceMean/ReduceMax(axes=[1], keepdims=0); with sequence
//                 lengths refused (as the recurrent layers with lengths)
//   concat, relu, tanh, sigmoid, softmax, identity, dropout (identity)
#include "compiler/onnx/Export.h"

#include "compiler/ir/OpFacts.h"
#include "compiler/ir/OpTable.h"
#include "compiler/onnx/Live.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace rnnc::onnx {
namespace {

using ir::OpKind;
using ir::ValueId;

struct ExportError {
  std::string message;
};

class Exporter {
public:
  Exporter(const ir::Graph &graph, const std::map<std::string, std::vector<float>> &params)
      : graph_(graph), params_(params) {}

  ::onnx::ModelProto run() {
    if (!graph_.output)
      throw ExportError{"the model has no output to export"};
    ::onnx::ModelProto model;
    model.set_ir_version(8);
    model.set_producer_name("rnnc");
    auto *opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(kExportOpset);
    g_ = model.mutable_graph();
    g_->set_name(graph_.name);
    const std::vector<bool> live = neededForOutput(graph_);
    for (size_t id = 0; id < graph_.size(); ++id)
      if (live[id])
        emit(static_cast<ValueId>(id));
    valueInfo(g_->add_output(), graph_.op(*graph_.output));
    return model;
  }

private:
  const std::string &name(ValueId v) const { return graph_.op(v).name; }

  void valueInfo(::onnx::ValueInfoProto *info, const ir::Op &op) {
    info->set_name(op.name);
    auto *tt = info->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(op.type.dtype == ir::DType::I32 ? ::onnx::TensorProto::INT64 : ::onnx::TensorProto::FLOAT);
    for (const ir::Dim &d : op.type.dims) {
      auto *dim = tt->mutable_shape()->add_dim();
      if (d.isSymbolic())
        dim->set_dim_param(d.symbol);
      else
        dim->set_dim_value(d.size);
    }
  }

  void floats(const std::string &n, std::vector<int64_t> dims, const std::vector<float> &values) {
    auto *t = g_->add_initializer();
    t->set_name(n);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : dims)
      t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(float)));
  }

  void ints(const std::string &n, std::vector<int64_t> dims, const std::vector<int64_t> &values) {
    auto *t = g_->add_initializer();
    t->set_name(n);
    t->set_data_type(::onnx::TensorProto::INT64);
    for (int64_t d : dims)
      t->add_dims(d);
    for (int64_t v : values)
      t->add_int64_data(v);
  }

  ::onnx::NodeProto *node(const std::string &type, const std::string &nodeName, std::vector<std::string> inputs,
                          std::vector<std::string> outputs) {
    auto *n = g_->add_node();
    n->set_op_type(type);
    n->set_name(nodeName);
    for (auto &i : inputs)
      n->add_input(i);
    for (auto &o : outputs)
      n->add_output(o);
    return n;
  }

  static void intAttr(::onnx::NodeProto *n, const std::string &a, int64_t v) {
    auto *attr = n->add_attribute();
    attr->set_name(a);
    attr->set_type(::onnx::AttributeProto::INT);
    attr->set_i(v);
  }
  static void intsAttr(::onnx::NodeProto *n, const std::string &a, const std::vector<int64_t> &v) {
    auto *attr = n->add_attribute();
    attr->set_name(a);
    attr->set_type(::onnx::AttributeProto::INTS);
    for (int64_t x : v)
      attr->add_ints(x);
  }
  static void stringAttr(::onnx::NodeProto *n, const std::string &a, const std::string &v) {
    auto *attr = n->add_attribute();
    attr->set_name(a);
    attr->set_type(::onnx::AttributeProto::STRING);
    attr->set_s(v);
  }

  const std::vector<float> &valuesOf(ValueId p) const {
    auto it = params_.find(name(p));
    if (it == params_.end())
      throw ExportError{"no values for parameter '" + name(p) + "'"};
    return it->second;
  }

  /// The module prefix of a parameter (`fc.weight` -> `fc`), for node names
  /// that rnnc's importer turns back into PyTorch's parameter names.
  static std::string prefix(const std::string &param) {
    size_t dot = param.rfind('.');
    return dot == std::string::npos ? param : param.substr(0, dot);
  }

  void emit(ValueId id) {
    const ir::Op &op = graph_.op(id);
    std::vector<std::string> in;
    for (ValueId o : op.operands)
      in.push_back(name(o));
    switch (op.kind) {
    case OpKind::Input:
      if (op.type.dtype != ir::DType::F32 && op.type.dtype != ir::DType::I32)
        throw ExportError{"input '" + op.name + "' has a type ONNX export does not support"};
      valueInfo(g_->add_input(), op);
      return;
    case OpKind::Param: {
      std::vector<int64_t> dims;
      for (const ir::Dim &d : op.type.dims)
        dims.push_back(d.size);
      if (consumedByRecurrent(id))
        return; // written by the recurrent op in ONNX's layout
      floats(op.name, dims, valuesOf(id));
      return;
    }
    case OpKind::Embedding:
      node("Gather", "/" + prefix(in[1]) + "/Gather", {in[1], in[0]}, {op.name});
      return;
    case OpKind::Lstm:
    case OpKind::Gru:
      if (ir::hasLengths(op))
        throw ExportError{"'" + op.name + "' runs with sequence lengths, which ONNX export does not support yet"};
      return emitRecurrent(op);
    case OpKind::Dense: {
      const bool rows = graph_.op(op.operands[0]).type.rank() == 2;
      const std::string stem = "/" + prefix(in[1]) + "/";
      if (rows) {
        in.resize(std::min<size_t>(in.size(), 3));
        auto *n = node("Gemm", stem + "Gemm", in, {op.name});
        intAttr(n, "transB", 1);
        return;
      }
      node("Transpose", stem + "Transpose", {in[1]}, {op.name + ".wT"});
      node("MatMul", stem + "MatMul", {in[0], op.name + ".wT"}, {in.size() > 2 ? op.name + ".mm" : op.name});
      if (in.size() > 2)
        node("Add", stem + "Add", {op.name + ".mm", in[2]}, {op.name});
      return;
    }
    case OpKind::First:
    case OpKind::Last: {
      if (ir::hasLengths(op)) // step length-1 of each sample is no Gather
        throw ExportError{"'" + op.name + "' is the last step of a sequence with lengths, which ONNX export does not support yet"};
      ints(op.name + ".step", {}, {op.kind == OpKind::First ? 0 : -1});
      auto *n = node("Gather", "/" + op.name + "/Gather", {in[0], op.name + ".step"}, {op.name});
      intAttr(n, "axis", 1);
      return;
    }
    case OpKind::Mean:
    case OpKind::Max: {
      if (ir::hasLengths(op))
        throw ExportError{"'" + op.name + "' is a " + ir::opInfo(op.kind).mnemonic +
                          " over sequence lengths, which ONNX export does not support yet"};
      const std::string type = op.kind == OpKind::Mean ? "ReduceMean" : "ReduceMax";
      auto *n = node(type, "/" + op.name + "/" + type, in, {op.name});
      intsAttr(n, "axes", {1}); // an attribute up to opset 17
      intAttr(n, "keepdims", 0);
      return;
    }
    case OpKind::Concat: {
      auto *n = node("Concat", "/" + op.name + "/Concat", in, {op.name});
      intAttr(n, "axis", op.attrs.getInt("axis"));
      return;
    }
    case OpKind::Softmax: {
      auto *n = node("Softmax", "/" + op.name + "/Softmax", in, {op.name});
      intAttr(n, "axis", -1);
      return;
    }
    case OpKind::Relu:
    case OpKind::Tanh:
    case OpKind::Sigmoid:
    case OpKind::Identity:
    case OpKind::Dropout: {
      static const std::map<OpKind, std::string> types = {{OpKind::Relu, "Relu"},         {OpKind::Tanh, "Tanh"},
                                                          {OpKind::Sigmoid, "Sigmoid"},   {OpKind::Identity, "Identity"},
                                                          {OpKind::Dropout, "Identity"}};
      node(types.at(op.kind), "/" + op.name + "/" + types.at(op.kind), in, {op.name});
      return;
    }
    default:
      throw ExportError{"op '" + op.name + "' (" + ir::opInfo(op.kind).mnemonic +
                        ") cannot be exported to ONNX; rnnc exports input, param, embedding, lstm, gru, dense, "
                        "first, last, mean, max, concat, relu, tanh, sigmoid, softmax, identity and dropout"};
    }
  }

  bool consumedByRecurrent(ValueId p) const {
    bool recurrent = false, other = false;
    for (size_t id = 0; id < graph_.size(); ++id) {
      const ir::Op &op = graph_.op(static_cast<ValueId>(id));
      for (size_t k = 0; k < op.operands.size(); ++k)
        if (op.operands[k] == p)
          ((op.kind == OpKind::Lstm || op.kind == OpKind::Gru) && k > 0 ? recurrent : other) = true;
    }
    return recurrent && !other;
  }

  /// The gate blocks of a [G*H, K] matrix (or [G*H] vector) in a new order:
  /// block k of the result is block order[k] of `from`.
  static void reorder(const std::vector<float> &from, int64_t hidden, int64_t cols, const std::vector<int> &order,
                      std::vector<float> &out) {
    for (int g : order)
      out.insert(out.end(), from.begin() + g * hidden * cols, from.begin() + (g + 1) * hidden * cols);
  }

  void emitRecurrent(const ir::Op &op) {
    const ir::RecurrentFacts facts = ir::recurrentFacts(op);
    const bool lstm = facts.lstm();
    const int64_t hidden = facts.hidden, gates = facts.gates();
    const int64_t inputSize = graph_.op(op.operands[0]).type.dims.back().size;
    // PyTorch i,f,g,o -> ONNX i,o,f,c; PyTorch r,z,n -> ONNX z,r,h.
    const std::vector<int> order = lstm ? std::vector<int>{0, 3, 1, 2} : std::vector<int>{1, 0, 2};
    const std::string &wName = name(op.operands[1]), &rName = name(op.operands[2]);
    std::vector<float> w, r, b;
    reorder(valuesOf(op.operands[1]), hidden, inputSize, order, w);
    reorder(valuesOf(op.operands[2]), hidden, hidden, order, r);
    reorder(valuesOf(op.operands[3]), hidden, 1, order, b);
    reorder(valuesOf(op.operands[4]), hidden, 1, order, b);
    // The initializers keep the PyTorch names (rnnc's importer reads the
    // layer's name and index from them) with ONNX's shapes and gate order.
    floats(wName, {1, gates * hidden, inputSize}, w);
    floats(rName, {1, gates * hidden, hidden}, r);
    std::string bName = name(op.operands[3]);
    if (size_t at = bName.find(".bias_ih"); at != std::string::npos)
      bName.replace(at, 8, ".bias");
    floats(bName, {1, 2 * gates * hidden}, b);
    const std::string stem = "/" + prefix(wName) + "/";
    auto *n = node(lstm ? "LSTM" : "GRU", stem + (lstm ? "LSTM" : "GRU"), {name(op.operands[0]), wName, rName, bName},
                   {op.name + ".Y"});
    intAttr(n, "hidden_size", hidden);
    intAttr(n, "layout", 1);
    stringAttr(n, "direction", op.attrs.getBool("reverse") ? "reverse" : "forward");
    if (!lstm)
      intAttr(n, "linear_before_reset", 1);
    ints(op.name + ".axes", {1}, {2});
    node("Squeeze", stem + "Squeeze", {op.name + ".Y", op.name + ".axes"}, {op.name});
  }

  const ir::Graph &graph_;
  const std::map<std::string, std::vector<float>> &params_;
  ::onnx::GraphProto *g_ = nullptr;
};

} // namespace

bool exportModel(const ir::Graph &graph, const std::map<std::string, std::vector<float>> &params,
                 const std::string &path, std::string &error) {
  ::onnx::ModelProto model;
  try {
    model = Exporter(graph, params).run();
  } catch (const ExportError &e) {
    error = e.message;
    return false;
  }
  try {
    ::onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    error = std::string("the ONNX checker refuses the exported model (an rnnc bug): ") + e.what();
    return false;
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    error = "cannot serialize the model (larger than protobuf's 2 GiB?)";
    return false;
  }
  // Atomically: a temporary file beside the target, renamed over it.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!(out << bytes) || !out.flush()) {
      std::remove(tmp.c_str());
      error = "cannot write '" + path + "'";
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    error = "cannot write '" + path + "'";
    return false;
  }
  return true;
}

} // namespace rnnc::onnx
