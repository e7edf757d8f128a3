//===- ASTPrinter.cpp - Indented text form of the AST (--emit=ast) --------===//
#include "compiler/parse/ASTPrinter.h"

#include "compiler/support/Format.h"

#include <string>

namespace rnnc {
namespace ast {

const char *kindName(Expr::Kind kind) {
  switch (kind) {
  case Expr::Kind::Int: return "int";
  case Expr::Kind::Float: return "float";
  case Expr::Kind::Bool: return "bool";
  case Expr::Kind::String: return "string";
  case Expr::Kind::Name: return "name";
  case Expr::Kind::Call: return "call";
  case Expr::Kind::List: return "list";
  }
  return "?";
}

const char *kindName(Stmt::Kind kind) {
  switch (kind) {
  case Stmt::Kind::Const: return "const";
  case Stmt::Kind::Input: return "input";
  case Stmt::Kind::Target: return "target";
  case Stmt::Kind::Output: return "output";
  case Stmt::Kind::Assign: return "assign";
  case Stmt::Kind::Loss: return "loss";
  case Stmt::Kind::Optimizer: return "optimizer";
  case Stmt::Kind::Train: return "train";
  case Stmt::Kind::Data: return "data";
  }
  return "?";
}

} // namespace ast

namespace {

class ASTPrinter {
public:
  explicit ASTPrinter(std::ostream &out) : out_(out) {}

  void file(const ast::File &f) {
    out_ << "file\n";
    for (const auto &c : f.constants)
      stmt(c, 1);
    for (const auto &m : f.models) {
      line(1) << "model " << m.name << at(m.loc) << "\n";
      for (const auto &s : m.stmts)
        stmt(s, 2);
    }
  }

private:
  std::ostream &line(int depth) {
    for (int i = 0; i < depth; ++i)
      out_ << "  ";
    return out_;
  }
  static std::string at(const SourceLoc &loc) {
    return " <" + std::to_string(loc.line) + ":" + std::to_string(loc.column) + ">";
  }

  void type(const ast::TensorTypeExpr &t) {
    out_ << t.dtype << "[";
    for (size_t i = 0; i < t.dims.size(); ++i) {
      if (i)
        out_ << ", ";
      if (t.dims[i].size)
        out_ << *t.dims[i].size;
      else
        out_ << t.dims[i].name;
    }
    out_ << "]";
  }

  void stmt(const ast::Stmt &s, int depth) {
    line(depth) << ast::kindName(s.kind);
    if (!s.name.empty())
      out_ << " " << s.name;
    if (s.type) {
      out_ << " : ";
      type(*s.type);
    }
    out_ << at(s.loc) << "\n";
    if (s.classes) {
      line(depth + 1) << "classes\n";
      expr(*s.classes, depth + 2);
    }
    if (s.value)
      expr(*s.value, depth + 1);
    for (const auto &setting : s.settings) {
      line(depth + 1) << "setting " << setting.name << at(setting.loc) << "\n";
      expr(*setting.value, depth + 2);
    }
  }

  void expr(const ast::Expr &e, int depth) {
    line(depth) << ast::kindName(e.kind);
    switch (e.kind) {
    case ast::Expr::Kind::Int: out_ << " " << e.intValue; break;
    case ast::Expr::Kind::Float: out_ << " " << formatDouble(e.floatValue); break;
    case ast::Expr::Kind::Bool: out_ << (e.boolValue ? " true" : " false"); break;
    case ast::Expr::Kind::String: out_ << " " << quote(e.text); break;
    case ast::Expr::Kind::Name:
    case ast::Expr::Kind::Call: out_ << " " << e.text; break;
    case ast::Expr::Kind::List: break;
    }
    out_ << at(e.loc) << "\n";
    for (const auto &arg : e.args) {
      line(depth + 1) << "arg";
      if (!arg.name.empty())
        out_ << " " << arg.name;
      out_ << "\n";
      expr(*arg.value, depth + 2);
    }
    for (const auto &item : e.items)
      expr(*item, depth + 1);
  }

  std::ostream &out_;
};

} // namespace

void printAST(const ast::File &file, std::ostream &out) { ASTPrinter(out).file(file); }

} // namespace rnnc
