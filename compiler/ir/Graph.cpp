//===- Graph.cpp - Graph construction and queries -------------------------===//
#include "compiler/ir/Graph.h"

#include "compiler/support/Diagnostics.h"

namespace rnnc::ir {

OpKind lossKindOf(const Op &op) {
  if (op.kind != OpKind::LossGrad)
    return op.kind;
  std::optional<OpKind> loss = opKindFromMnemonic(op.attrs.getString("loss"));
  RNNC_ASSERT(loss && isLoss(*loss), "loss_grad names a loss (the verifier checks it)");
  return *loss;
}

ValueId Graph::add(Op op) {
  for (ValueId operand : op.operands)
    RNNC_ASSERT(operand < ops_.size(), "operands are defined before their use");
  RNNC_ASSERT(!find(op.name), "value names are unique: '" + op.name + "'");
  ops_.push_back(std::move(op));
  return static_cast<ValueId>(ops_.size() - 1);
}

std::optional<ValueId> Graph::find(const std::string &name) const {
  for (size_t i = 0; i < ops_.size(); ++i)
    if (ops_[i].name == name)
      return static_cast<ValueId>(i);
  return std::nullopt;
}

std::string Graph::uniqueName(const std::string &base) const {
  if (!find(base))
    return base;
  for (unsigned k = 1;; ++k) {
    std::string candidate = base + "." + std::to_string(k);
    if (!find(candidate))
      return candidate;
  }
}

void Graph::rename(ValueId id, const std::string &newName) {
  RNNC_ASSERT(!find(newName), "rename target '" + newName + "' is free");
  ops_.at(id).name = newName;
}

std::vector<ValueId> Graph::params() const {
  std::vector<ValueId> result;
  for (size_t i = 0; i < ops_.size(); ++i)
    if (ops_[i].kind == OpKind::Param)
      result.push_back(static_cast<ValueId>(i));
  return result;
}

std::vector<unsigned> Graph::useCounts() const {
  std::vector<unsigned> uses(ops_.size(), 0);
  for (const Op &op : ops_)
    for (ValueId operand : op.operands)
      ++uses[operand];
  if (output)
    ++uses[*output];
  if (loss)
    ++uses[*loss];
  return uses;
}

} // namespace rnnc::ir
