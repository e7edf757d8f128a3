//===- OpFacts.h - Typed facts about ops, read from their attributes -*- C++ -*-===//
//
// What every stage needs to know about a recurrent op (its cell, hidden size,
// gate count, direction) and about a dropout (the stream its mask is drawn
// from), derived in one place instead of from attribute strings at each use.
#pragma once

#include "compiler/ir/Graph.h"

#include <cstdint>
#include <optional>

namespace rnnc::ir {

enum class CellKind { Lstm, Gru };

/// The cell an lstm or gru op computes.
inline CellKind cellKindOf(OpKind kind) { return kind == OpKind::Lstm ? CellKind::Lstm : CellKind::Gru; }

/// Gates per cell, in PyTorch's order: LSTM i, f, g, o; GRU r, z, n.
constexpr int64_t gateCount(CellKind cell) { return cell == CellKind::Lstm ? 4 : 3; }

/// The facts of an lstm, gru or recurrent_grad op (recurrent_grad names its
/// forward cell in its "cell" attribute).
struct RecurrentFacts {
  CellKind cell;
  int64_t hidden;  ///< H
  bool reverse;    ///< runs from the last step to the first
  bool lstm() const { return cell == CellKind::Lstm; }
  int64_t gates() const { return gateCount(cell); } ///< G
  int64_t gateRows() const { return gates() * hidden; } ///< G*H: rows of W_ih, W_hh, the biases
};
RecurrentFacts recurrentFacts(OpKind kind, const AttrMap &attrs);
inline RecurrentFacts recurrentFacts(const Op &op) { return recurrentFacts(op.kind, op.attrs); }

/// The operand position of the sequence lengths an op may take: lstm/gru 5,
/// recurrent_grad 7, last, mean, max, step_grad and mean_grad 1, max_grad 2;
/// -1 for ops that take none.
int lengthsOperand(OpKind kind);
/// The sequence lengths (an i32[B] model input) an op runs with, if any.
std::optional<ValueId> lengthsOf(const Op &op);
inline bool hasLengths(const Op &op) { return lengthsOf(op).has_value(); }

/// The ordinal of a dropout op among the graph's dropouts: the stream its
/// mask is drawn from, shared by the forward pass and dropout_grad.
int64_t dropoutStream(const Graph &graph, ValueId dropout);

} // namespace rnnc::ir
