//===- OpFacts.cpp - Typed facts about ops --------------------------------===//
#include "compiler/ir/OpFacts.h"

#include "compiler/support/Diagnostics.h"

namespace rnnc::ir {

RecurrentFacts recurrentFacts(OpKind kind, const AttrMap &attrs) {
  RNNC_ASSERT(kind == OpKind::Lstm || kind == OpKind::Gru || kind == OpKind::RecurrentGrad, "a recurrent op");
  const CellKind cell = kind != OpKind::RecurrentGrad      ? cellKindOf(kind)
                        : attrs.getString("cell") == "lstm" ? CellKind::Lstm
                                                            : CellKind::Gru;
  return {cell, attrs.getInt("hidden"), attrs.getBool("reverse")};
}

int lengthsOperand(OpKind kind) {
  switch (kind) {
  case OpKind::Lstm:
  case OpKind::Gru: return 5;
  case OpKind::RecurrentGrad: return 7;
  case OpKind::Last:
  case OpKind::Mean:
  case OpKind::Max:
  case OpKind::StepGrad:
  case OpKind::MeanGrad: return 1;
  case OpKind::MaxGrad: return 2;
  default: return -1;
  }
}

std::optional<ValueId> lengthsOf(const Op &op) {
  const int k = lengthsOperand(op.kind);
  if (k < 0 || static_cast<int>(op.operands.size()) <= k)
    return std::nullopt;
  return op.operands[k];
}

int64_t dropoutStream(const Graph &graph, ValueId dropout) {
  int64_t ordinal = 0;
  for (ValueId id = 0; id < dropout; ++id)
    ordinal += graph.op(id).kind == OpKind::Dropout;
  return ordinal;
}

} // namespace rnnc::ir
