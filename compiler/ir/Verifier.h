//===- Verifier.h - Structural and type checks of a graph -------*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/support/Diagnostics.h"

namespace rnnc::ir {

/// Checks the invariants every pass may rely on: 1) names are unique and
/// operands are defined before use (topological order), 2) every op has the
/// operands and attributes Ops.def declares, 3) source ops have valid declared
/// types (parameters static and f32; only the batch dimension symbolic),
/// 4) every other op's type equals the one its type rule infers, 5) the
/// output and loss exist and the loss is a scalar loss op. Reports each
/// violation at the op's location; returns true when there is none.
bool verifyGraph(const Graph &graph, Diagnostics &diag);

} // namespace rnnc::ir
