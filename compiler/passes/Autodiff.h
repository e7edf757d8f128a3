//===- Autodiff.h - Reverse-mode differentiation of the graph ---*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"

namespace rnnc {

/// Appends the gradient graph of the loss to `graph` (back-propagation
/// through time for recurrent layers): 1) finds the values that depend on a
/// parameter, 2) seeds d loss / d prediction with loss_grad, 3) visits the
/// forward ops in reverse order and emits each one's vector-Jacobian product
/// from the gradient ops of Ops.def, 4) sums the gradients of values used
/// more than once, 5) records the gradient of every parameter the loss
/// depends on in graph.gradients. Every new op carries the location of the
/// forward op it differentiates. The graph must have a loss.
void differentiate(ir::Graph &graph);

} // namespace rnnc
