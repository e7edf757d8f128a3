//===- LowerTestUtil.h - Lower a model given as text ------------*- C++ -*-===//
#pragma once

#include "compiler/ir/Printer.h"
#include "compiler/ir/Verifier.h"
#include "compiler/lower/Lower.h"
#include "compiler/parse/Parser.h"

#include <sstream>

namespace rnnc::testing {

struct Lowered {
  std::optional<ir::Graph> graph;
  std::string diagnostics;
  std::string ir() const {
    std::ostringstream out;
    if (graph)
      ir::printGraph(*graph, out);
    return out.str();
  }
};

inline Lowered lowerText(const std::string &text) {
  Lowered result;
  auto file = std::make_shared<SourceFile>("t.rnn", text);
  std::ostringstream out;
  Diagnostics diag(out);
  diag.addFile(file);
  if (auto tree = parseFile(*file, diag))
    result.graph = lowerToGraph(*tree, file->loc(1, 1), diag);
  if (result.graph) {
    bool valid = ir::verifyGraph(*result.graph, diag);
    if (!valid)
      result.graph.reset();
  }
  result.diagnostics = out.str();
  return result;
}

} // namespace rnnc::testing
