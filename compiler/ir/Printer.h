//===- Printer.h - The stable text form of the graph IR ---------*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"

#include <ostream>

namespace rnnc::ir {

struct PrintOptions {
  bool locations = false; ///< append loc("file":line:col) to each op
};

/// Prints `graph` in the text form that IRParser reads back:
///   graph @name {
///     %x = embedding(%tokens, %x.weight) : (i32[batch,256], f32[20000,64]) -> f32[batch,256,64]
///     output %out
///     loss %loss
///     optimizer adam {lr = 0.01}
///   }
void printGraph(const Graph &graph, std::ostream &out, PrintOptions options = {});

/// Prints what a user wants to know before compiling: inputs, targets,
/// output, loss, and the parameter table (PyTorch names, shapes, element
/// counts) with the total size. This is `rnnc --emit=summary`.
void printSummary(const Graph &graph, std::ostream &out);

} // namespace rnnc::ir
