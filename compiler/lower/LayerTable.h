//===- LayerTable.h - What the model language accepts -----------*- C++ -*-===//
//
// Every function a .rnn file can call (layers, losses, optimizers) and every
// settings block (train, data kinds) is described here once: its tensor
// inputs and its named parameters with type, default and range. Lowering
// checks calls against this table; docs/language.md lists the same table.
#pragma once

#include "compiler/ir/Attr.h"

#include <optional>
#include <string>
#include <vector>

namespace rnnc {

/// Tensor: a named parameter that takes a tensor of the model (a name), not
/// a constant: `lstm(x, lengths=lengths)`.
enum class ParamType { Int, Float, Bool, String, StringList, FloatList, ValueList, Tensor };

struct ParamSpec {
  std::string name;
  ParamType type;
  bool required = false;
  std::optional<ir::Attr> defaultValue; ///< filled in when the parameter is omitted
  double min = -1e300;                  ///< numbers: inclusive lower bound
  double max = 1e300;                   ///< numbers: upper bound
  bool maxExclusive = false;
  bool minExclusive = false;
  std::vector<std::string> choices; ///< strings: the allowed values, if restricted
  std::string help;
};

enum class CallKind { Layer, Loss, Optimizer, Settings };

struct CallSpec {
  std::string name;
  CallKind kind;
  int minInputs = 0; ///< positional tensor arguments
  int maxInputs = 0; ///< -1: any number
  std::vector<ParamSpec> params;
  std::string summary;

  const ParamSpec *param(const std::string &name) const;
};

/// Looks up a function by name among those of `kind` (nullptr if unknown).
const CallSpec *findCall(CallKind kind, const std::string &name);
/// All functions of a kind, in table order.
std::vector<const CallSpec *> callsOfKind(CallKind kind);
/// The `train { ... }` block.
const CallSpec &trainSpec();
/// A `data KIND { ... }` block (nullptr if the kind is unknown).
const CallSpec *dataSpec(const std::string &kind);
std::vector<std::string> dataKinds();

const char *paramTypeName(ParamType type);

/// The closest name in `candidates` to `name`, if it is close enough to be a
/// plausible typo ("lstn" -> "lstm").
std::optional<std::string> closestName(const std::string &name,
                                       const std::vector<std::string> &candidates);

} // namespace rnnc
