//===- DataBinding.h - Check a data block against the model ---*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/support/Diagnostics.h"

#include <optional>

namespace rnnc {

/// The model's lengths input: an input of type i32[batch] (the sequence
/// lengths a recurrent layer takes as lengths=), if it has one. The runtime
/// finds it the same way in the model's metadata (train::lengthsInputOf).
std::optional<ir::ValueId> lengthsInput(const ir::Graph &graph);

/// Checks graph.data against the inputs and targets it will feed: one input
/// (besides a lengths input, which only imdb feeds); imdb: token ids
/// i32[batch, maxlen] into an embedding of `vocab` rows, each review's length
/// when the model has a lengths input, and one label per review; csv:
/// f32[batch, window, features] with as many features as listed, and a split
/// of three fractions adding up to 1.
void checkDataBinding(const ir::Graph &graph, Diagnostics &diag);

} // namespace rnnc
