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

/// Lowers a training stub onto `base` (docs/language.md, "Training stubs"):
/// `base` is a model from elsewhere (an ONNX import) with an output and no
/// loss. The stub is a model file lowered as above, in which `base`'s inputs
/// and output are already defined names; it adds what training needs (a
/// target, the loss on that output or on layers the stub puts on it, the
/// optimizer, train and data blocks) and must declare a loss. The result is
/// named by the stub's model. Errors point into the stub; `baseWhat` names the
/// base in them ("the imported model 'net.onnx'").
std::optional<ir::Graph> lowerStub(const ast::File &stub, SourceLoc fileLoc, ir::Graph base, const std::string &baseWhat,
                                   Diagnostics &diag);

} // namespace rnnc
