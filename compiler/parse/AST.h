//===- AST.h - The syntax tree of a .rnn file ------------------*- C++ -*-===//
//
// What the user wrote, nothing resolved yet. Every node carries the location
// of its first token so that every later error can point at the source.
#pragma once

#include "compiler/support/SourceFile.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rnnc::ast {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// `name = value` or a positional `value` inside a call.
struct Arg {
  std::string name; ///< empty for a positional argument
  SourceLoc nameLoc;
  ExprPtr value;
};

struct Expr {
  enum class Kind { Int, Float, Bool, String, Name, Call, List };
  Kind kind;
  SourceLoc loc;
  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  std::string text;           ///< Name: the name; String: the unescaped text; Call: the callee
  std::vector<Arg> args;      ///< Call
  std::vector<ExprPtr> items; ///< List

  Expr(Kind kind, SourceLoc loc) : kind(kind), loc(loc) {}
};

/// One dimension of a tensor type: a size, or a name (a constant or the
/// symbolic batch dimension).
struct Dim {
  SourceLoc loc;
  std::optional<int64_t> size;
  std::string name;
};

struct TensorTypeExpr {
  SourceLoc loc;
  std::string dtype;
  SourceLoc dtypeLoc;
  std::vector<Dim> dims;
};

/// `key = value` in a train or data block.
struct Setting {
  std::string name;
  SourceLoc loc;
  ExprPtr value;
};

struct Stmt {
  enum class Kind { Const, Input, Target, Output, Assign, Loss, Optimizer, Train, Data };
  Kind kind;
  SourceLoc loc;              ///< the statement's first token
  std::string name;           ///< Const/Input/Target/Output/Assign: the name; Data: the kind
  SourceLoc nameLoc;
  ExprPtr value;              ///< Const/Assign: the value; Loss/Optimizer: the call
  std::optional<TensorTypeExpr> type; ///< Input/Target
  ExprPtr classes;            ///< Target: `classes N`
  std::vector<Setting> settings; ///< Train/Data

  Stmt(Kind kind, SourceLoc loc) : kind(kind), loc(loc) {}
};

struct Model {
  std::string name;
  SourceLoc loc;
  SourceLoc nameLoc;
  std::vector<Stmt> stmts;
};

/// A whole file: constants declared outside the model and the model(s).
struct File {
  std::vector<Stmt> constants;
  std::vector<Model> models;
};

const char *kindName(Expr::Kind kind);
const char *kindName(Stmt::Kind kind);

} // namespace rnnc::ast
