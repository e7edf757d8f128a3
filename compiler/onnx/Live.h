//===- Live.h - The ops a graph's output needs ------------------*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"

#include <vector>

namespace rnnc::onnx {

/// For each op: whether the output depends on it, or it is an input (the
/// model's interface stays, used or not).
inline std::vector<bool> neededForOutput(const ir::Graph &graph) {
  std::vector<bool> live(graph.size(), false);
  live[*graph.output] = true;
  for (size_t id = graph.size(); id-- > 0;) {
    const ir::Op &op = graph.op(static_cast<ir::ValueId>(id));
    if (op.kind == ir::OpKind::Input)
      live[id] = true;
    if (live[id])
      for (ir::ValueId o : op.operands)
        live[o] = true;
  }
  return live;
}

} // namespace rnnc::onnx
