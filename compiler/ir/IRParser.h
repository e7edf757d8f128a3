//===- IRParser.h - Read the text form of the graph IR ----------*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/support/Diagnostics.h"

#include <optional>

namespace rnnc::ir {

/// Parses the text printGraph writes (so that every printed graph reads back
/// to an equal graph). Syntax errors, unknown ops, undefined values and
/// operand types that differ from their definitions are reported with their
/// location. The result still needs verifyGraph.
std::optional<Graph> parseGraph(const SourceFile &file, Diagnostics &diag);

} // namespace rnnc::ir
