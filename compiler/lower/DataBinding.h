//===- DataBinding.h - Check a data block against the model ---*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/support/Diagnostics.h"

namespace rnnc {

/// Checks graph.data against the inputs and targets it will feed: one input;
/// imdb: token ids i32[batch, maxlen] into an embedding of `vocab` rows and
/// one label per review; csv: f32[batch, window, features] with as many
/// features as listed, and a split of three fractions adding up to 1.
void checkDataBinding(const ir::Graph &graph, Diagnostics &diag);

} // namespace rnnc
