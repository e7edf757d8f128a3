//===- OpTable.h - Op kinds, their signatures and type rules ---*- C++ -*-===//
#pragma once

#include "compiler/ir/Attr.h"
#include "compiler/ir/Types.h"

#include <optional>
#include <string>
#include <vector>

namespace rnnc::ir {

enum class OpKind {
#define OP(Enum, mnemonic, minOperands, maxOperands, attributes, summary) Enum,
#include "compiler/ir/Ops.def"
};

struct AttrSpec {
  std::string name;
  Attr::Kind kind;
  bool optional;
};

struct OpInfo {
  OpKind kind;
  const char *mnemonic;
  int minOperands;
  int maxOperands; ///< -1: any
  std::vector<AttrSpec> attrs;
  const char *summary;
};

const OpInfo &opInfo(OpKind kind);
const std::vector<OpInfo> &allOps();
std::optional<OpKind> opKindFromMnemonic(const std::string &mnemonic);

bool isSource(OpKind kind); ///< input, target, param
bool isLoss(OpKind kind);
bool isActivation(OpKind kind);

/// Checks the attributes of an op against its spec: every required one is
/// present, none is unknown, each has its kind. Returns an error message or "".
std::string checkAttrs(OpKind kind, const AttrMap &attrs);

/// The result type of an op applied to operands of the given types, or an
/// error message in `error`. Source ops have no rule (their type is declared).
std::optional<TensorType> inferType(OpKind kind, const std::vector<TensorType> &operands,
                                    const AttrMap &attrs, std::string &error);

} // namespace rnnc::ir
