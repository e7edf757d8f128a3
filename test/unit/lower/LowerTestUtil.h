//===- LowerTestUtil.h - Lower a model given as text ------------*- C++ -*-===//
#pragma once

#include "compiler/ir/Printer.h"
#include "compiler/ir/Verifier.h"
#include "compiler/lower/Lower.h"
#include "compiler/parse/Parser.h"

#include <sstream>
#include <string>
#include <utility>
#include <vector>

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

/// Training models with sequence lengths for one cell ("lstm" or "gru"),
/// with a batch size for each: stacked and bidirectional returning the
/// final states; a sequence output whose targets at the pad steps are not 0
/// (a dy that leaked through a pad step would show); first() and last() of
/// a sequence with lengths; mean() and max() over each sample's steps. The
/// tests fill the lengths mixed in one batch.
inline std::vector<std::pair<std::string, int64_t>> lengthsModels(const std::string &c, int64_t hidden) {
  const std::string h = std::to_string(hidden);
  return {{"model m { input x: f32[b, 5, 3]\n input lengths: i32[b]\n target y: f32[b, 2]\n"
           " h = " + c + "(x, hidden=" + h + ", layers=2, bidirectional=true, returns=\"last\", lengths=lengths)\n"
           " p = dense(h, units=2)\n loss mse(p, y) }", 6},
          {"model m { input ids: i32[b, 5]\n input lengths: i32[b]\n target y: f32[b, 5, 3]\n"
           " e = embedding(ids, vocab=7, dim=3)\n h = " + c + "(e, hidden=" + h + ", bidirectional=true, lengths=lengths)\n"
           " p = dense(h, units=3)\n loss mse(p, y) }", 5},
          {"model m { input x: f32[b, 6, 3]\n input lengths: i32[b]\n target y: i32[b] classes 2\n"
           " h = " + c + "(x, hidden=" + h + ", lengths=lengths)\n"
           " out = dense(concat(first(h), last(tanh(h))), units=2)\n loss softmax_cross_entropy(out, y) }", 4},
          // mean / max over each sample's steps, of a layer and of a dense layer over it (the lengths carried)
          {"model m { input x: f32[b, 5, 3]\n input lengths: i32[b]\n target y: f32[b, 2]\n"
           " h = " + c + "(x, hidden=" + h + ", layers=2, bidirectional=true, lengths=lengths)\n"
           " p = dense(concat(mean(h), max(h)), units=2)\n loss mse(p, y) }", 6},
          {"model m { input ids: i32[b, 6]\n input lengths: i32[b]\n target y: i32[b] classes 3\n"
           " e = embedding(ids, vocab=7, dim=3)\n h = " + c + "(e, hidden=" + h + ", lengths=lengths)\n"
           " out = dense(concat(max(tanh(dense(h, units=3))), mean(h), last(h)), units=3)\n loss softmax_cross_entropy(out, y) }", 5}};
}

} // namespace rnnc::testing
