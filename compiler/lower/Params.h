//===- Params.h - A call's named parameters against its spec ----*- C++ -*-===//
//
// The checks every call and settings block of a model goes through before it
// is lowered: each named parameter known to its spec (LayerTable.h), given
// once, a constant of the declared type and in range (or one of the choices);
// every required one present; defaults filled in.
#pragma once

#include "compiler/ir/Attr.h"
#include "compiler/lower/LayerTable.h"
#include "compiler/parse/AST.h"
#include "compiler/support/Diagnostics.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rnnc {

/// One `name=value` of a call, as written.
struct NamedValue {
  std::string name;
  SourceLoc loc;
  const ast::Expr *value;
};

/// Converts a constant to the parameter's declared type, or reports why not.
std::optional<ir::Attr> coerceParam(const ParamSpec &spec, const ir::Attr &v, SourceLoc loc, const std::string &owner,
                                    Diagnostics &diag);

/// Evaluates a parameter's expression as a compile-time constant (reporting
/// why not).
using ConstantOf = std::function<std::optional<ir::Attr>(const ast::Expr &)>;

/// Checks the named parameters `given` to `owner` against `spec` and sets
/// `out` to them in the spec's order, defaults filled in. Returns false if any
/// was wrong; each problem is reported.
bool checkParams(const CallSpec &spec, const std::vector<NamedValue> &given, SourceLoc callLoc,
                 const std::string &owner, ir::AttrMap &out, Diagnostics &diag, const ConstantOf &constant);

} // namespace rnnc
