//===- Graph.h - The typed graph IR of one model ----------------*- C++ -*-===//
//
// A graph is a list of ops in topological order. Every op produces exactly
// one value, so an op and its result share an id and a name (`%h`). Besides
// the ops a graph records which value is the model's output and which is its
// loss, and three sections copied from the model file: optimizer, train and
// data settings.
#pragma once

#include "compiler/ir/Attr.h"
#include "compiler/ir/OpTable.h"
#include "compiler/ir/Types.h"
#include "compiler/support/SourceFile.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rnnc::ir {

using ValueId = uint32_t;

struct Op {
  OpKind kind;
  std::string name; ///< the result's name, unique in the graph
  std::vector<ValueId> operands;
  AttrMap attrs;
  TensorType type; ///< the result's type
  SourceLoc loc;   ///< where the user wrote what this op came from
};

/// The loss a loss op computes, or a loss_grad op differentiates.
OpKind lossKindOf(const Op &op);

/// A named group of settings: `optimizer adam {lr = 0.01}`, `train {...}`,
/// `data imdb {...}`.
struct Section {
  std::string kind; ///< "adam", "imdb"; empty for train
  AttrMap attrs;
  SourceLoc loc;
};

class Graph {
public:
  std::string name;
  SourceLoc loc;
  std::optional<ValueId> output;
  std::optional<ValueId> loss;
  std::optional<Section> optimizer;
  std::optional<Section> train;
  std::optional<Section> data;
  /// After autodiff: the gradient of the loss with respect to each parameter
  /// it depends on, as (parameter, gradient) pairs.
  std::vector<std::pair<ValueId, ValueId>> gradients;
  /// The values of parameters with init "stored" (imported weights, e.g.
  /// from ONNX), in the parameter's PyTorch layout. Printed IR does not carry
  /// them.
  std::map<ValueId, std::shared_ptr<const std::vector<float>>> storedValues;

  /// Appends an op; its operands must already exist. Returns its id.
  ValueId add(Op op);

  const Op &op(ValueId id) const { return ops_.at(id); }
  Op &op(ValueId id) { return ops_.at(id); }
  const std::vector<Op> &ops() const { return ops_; }
  size_t size() const { return ops_.size(); }

  /// The op whose result is named `name`, if any.
  std::optional<ValueId> find(const std::string &name) const;
  /// A name not yet used in the graph: `base`, else `base.1`, `base.2`, ...
  std::string uniqueName(const std::string &base) const;
  /// Renames an op's result (the new name must be free).
  void rename(ValueId id, const std::string &newName);

  /// All parameter ops, in graph order.
  std::vector<ValueId> params() const;
  /// Number of uses of each value (operands, output and loss).
  std::vector<unsigned> useCounts() const;

private:
  std::vector<Op> ops_;
};

} // namespace rnnc::ir
