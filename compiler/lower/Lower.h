//===- Lower.h - AST to graph IR --------------------------------*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/parse/AST.h"
#include "compiler/support/Diagnostics.h"

#include <optional>

namespace rnnc {

/// Lowers the model of `file` to a graph: 1) evaluates constants, 2) declares
/// inputs and targets with their types, 3) expands each layer call in order
/// (stacked and bidirectional recurrent layers become one op per layer and
/// direction, with PyTorch-named parameters), inferring every result type as
/// it goes, 4) checks the loss against its operands, the optimizer, train and
/// data sections against their tables and the data binding against the
/// inputs, 5) warns about values nobody uses. Every error in the file is
/// reported (an op whose operand failed is skipped silently); returns the
/// graph only if there was none. `fileLoc` locates file-level errors.
std::optional<ir::Graph> lowerToGraph(const ast::File &file, SourceLoc fileLoc, Diagnostics &diag);

} // namespace rnnc
