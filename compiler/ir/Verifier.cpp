//===- Verifier.cpp - Graph invariants ------------------------------------===//
#include "compiler/ir/Verifier.h"

#include "compiler/ir/OpFacts.h"

#include <set>

namespace rnnc::ir {
namespace {

bool verifySource(const Graph &graph, ValueId id, std::string &symbol, std::string &error) {
  const Op &op = graph.op(id);
  const TensorType &t = op.type;
  if (op.kind == OpKind::Param) {
    if (t.dtype != DType::F32 || !t.isStatic() || t.rank() == 0) {
      error = "parameter '" + op.name + "' must be a static f32 tensor, got " + t.str();
      return false;
    }
    std::string init = op.attrs.getString("init");
    if (init != "uniform" && init != "normal" && init != "zeros" && init != "stored") {
      error = "parameter '" + op.name + "' has unknown init '" + init +
              "' (expected uniform, normal, zeros or stored)";
      return false;
    }
    if (init == "stored") {
      auto values = graph.storedValues.find(id);
      if (values == graph.storedValues.end()) {
        error = "parameter '" + op.name + "' has init \"stored\" but no stored values (printed IR does not carry "
                "imported weights; compile the .onnx file itself)";
        return false;
      }
      if (static_cast<int64_t>(values->second->size()) != t.elementCount().value_or(-1)) {
        error = "parameter '" + op.name + "' has " + std::to_string(values->second->size()) +
                " stored values for type " + t.str();
        return false;
      }
    }
    if (init == "uniform" && !(op.attrs.getNumber("bound", -1) > 0)) {
      error = "parameter '" + op.name + "' with uniform init needs a bound > 0";
      return false;
    }
  } else if (t.rank() == 0) {
    error = std::string(opInfo(op.kind).mnemonic) + " '" + op.name +
            "' needs a batch dimension, got " + t.str();
    return false;
  }
  for (size_t d = 0; d < t.rank(); ++d) {
    const Dim &dim = t.dims[d];
    if (dim.isSymbolic()) {
      if (d != 0) {
        error = "only the first (batch) dimension may be symbolic, got " + t.str() + " for '" +
                op.name + "'";
        return false;
      }
      if (!symbol.empty() && symbol != dim.symbol) {
        error = "all inputs must share one batch dimension; '" + op.name + "' uses '" +
                dim.symbol + "', an earlier input '" + symbol + "'";
        return false;
      }
      symbol = dim.symbol;
    } else if (dim.size < 1) {
      error = "dimension " + std::to_string(d) + " of '" + op.name + "' must be at least 1, got " +
              t.str();
      return false;
    }
  }
  return true;
}

} // namespace

bool verifyGraph(const Graph &graph, Diagnostics &diag) {
  unsigned before = diag.errorCount();
  std::set<std::string> names;
  std::string batchSymbol;
  for (size_t id = 0; id < graph.size(); ++id) {
    const Op &op = graph.op(static_cast<ValueId>(id));
    if (op.name.empty())
      diag.error(op.loc, "op #" + std::to_string(id) + " has no result name");
    else if (!names.insert(op.name).second)
      diag.error(op.loc, "value '%" + op.name + "' is defined twice");
    bool operandsOk = true;
    for (ValueId operand : op.operands)
      if (operand >= id) {
        diag.error(op.loc, "'%" + op.name + "' uses a value defined after it");
        operandsOk = false;
      }
    if (!operandsOk)
      continue;
    std::string error;
    if (isSource(op.kind)) {
      if (!op.operands.empty())
        error = std::string(opInfo(op.kind).mnemonic) + " takes no operands";
      else
        error = checkAttrs(op.kind, op.attrs);
      if (error.empty())
        verifySource(graph, static_cast<ValueId>(id), batchSymbol, error);
    } else {
      std::vector<TensorType> operandTypes;
      for (ValueId operand : op.operands)
        operandTypes.push_back(graph.op(operand).type);
      std::optional<TensorType> inferred = inferType(op.kind, operandTypes, op.attrs, error);
      if (std::optional<ValueId> lengths = lengthsOf(op); inferred && lengths && graph.op(*lengths).kind != OpKind::Input)
        error = std::string(opInfo(op.kind).mnemonic) + " '%" + op.name + "' takes its lengths from '%" +
                graph.op(*lengths).name + "', which is not a model input";
      else if (inferred && *inferred != op.type)
        error = "'%" + op.name + "' is declared " + op.type.str() + " but " +
                opInfo(op.kind).mnemonic + " gives " + inferred->str();
    }
    if (error.empty() && op.type.isStatic() && !op.type.elementCount())
      error = "'%" + op.name + "' has more than 2^31-1 elements: " + op.type.str();
    if (!error.empty())
      diag.error(op.loc, error);
  }
  if (graph.loss) {
    const Op &loss = graph.op(*graph.loss);
    if (!isLoss(loss.kind))
      diag.error(loss.loc, "the loss '%" + loss.name + "' is not computed by a loss op");
  }
  std::set<ValueId> differentiated;
  for (const auto &[param, grad] : graph.gradients) {
    const Op &p = graph.op(param), &g = graph.op(grad);
    if (p.kind != OpKind::Param)
      diag.error(g.loc, "'%" + p.name + "' has a gradient but is not a parameter");
    else if (p.type != g.type)
      diag.error(g.loc, "the gradient '%" + g.name + "' of '%" + p.name + "' is " + g.type.str() + ", not " + p.type.str());
    if (!differentiated.insert(param).second)
      diag.error(g.loc, "'%" + p.name + "' has two gradients");
  }
  if (!graph.output && !graph.loss)
    diag.error(graph.loc, "graph @" + graph.name + " has neither an output nor a loss");
  return diag.errorCount() == before;
}

} // namespace rnnc::ir
