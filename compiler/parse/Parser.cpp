//===- Parser.cpp - ANTLR parse tree to AST, with located syntax errors ---===//
#include "compiler/parse/Parser.h"

#include "RnnLexer.h"
#include "RnnParser.h"
#include "antlr4-runtime.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace rnnc {
namespace {

using rnngen::RnnLexer;
using rnngen::RnnParser;

/// Turns ANTLR's messages into readable, located diagnostics.
class ErrorListener : public antlr4::BaseErrorListener {
public:
  ErrorListener(const SourceFile &file, Diagnostics &diag) : file_(file), diag_(diag) {}

  void syntaxError(antlr4::Recognizer *recognizer, antlr4::Token *offendingSymbol, size_t line,
                   size_t charPositionInLine, const std::string &msg,
                   std::exception_ptr) override {
    SourceLoc loc = file_.loc(static_cast<uint32_t>(line),
                              static_cast<uint32_t>(charPositionInLine + 1));
    diag_.error(loc, rewrite(recognizer, msg));
  }

private:
  static void replaceAll(std::string &s, const std::string &from, const std::string &to) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
      s.replace(pos, from.size(), to);
  }

  /// Splits ANTLR's "'a', ',', ID" into items, respecting quotes.
  static std::vector<std::string> splitExpected(const std::string &text) {
    std::vector<std::string> items;
    std::string current;
    bool quoted = false;
    for (char c : text) {
      if (c == '\'' )
        quoted = !quoted;
      if (c == ',' && !quoted) {
        items.push_back(current);
        current.clear();
        continue;
      }
      if (c == ' ' && !quoted && current.empty())
        continue;
      current += c;
    }
    if (!current.empty())
      items.push_back(current);
    return items;
  }

  std::string rewrite(antlr4::Recognizer *recognizer, std::string msg) {
    static const std::string tokenError = "token recognition error at: '";
    if (msg.rfind(tokenError, 0) == 0) {
      std::string text = msg.substr(tokenError.size());
      if (!text.empty() && text.back() == '\'')
        text.pop_back();
      if (!text.empty() && text[0] == '"')
        return "unterminated string literal (or an unknown escape; use \\\" \\\\ \\n \\t)";
      if (text.rfind("/*", 0) == 0)
        return "unterminated block comment: '/*' has no matching '*/'";
      std::string shown = text.size() > 20 ? text.substr(0, 20) + "..." : text;
      return "unexpected character '" + shown + "'";
    }
    replaceAll(msg, "'<EOF>'", "end of file");
    // "expecting {a, b, c}": keep a short list, drop a long one.
    size_t brace = msg.find(" expecting {");
    if (brace != std::string::npos) {
      std::vector<std::string> items = splitExpected(msg.substr(brace + 12, msg.rfind('}') - brace - 12));
      msg = msg.substr(0, brace);
      const bool closes = std::find(items.begin(), items.end(), "'}'") != items.end();
      if (items.size() > 4 && closes && msg.find("end of file") != std::string::npos)
        msg += "; is a closing '}' missing?";
      else if (items.size() <= 4) {
        msg += ", expected ";
        for (size_t i = 0; i < items.size(); ++i)
          msg += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
      }
    } else {
      replaceAll(msg, " expecting ", ", expected ");
    }
    replaceAll(msg, "<EOF>", "end of file");
    replaceAll(msg, "mismatched input", "unexpected");
    replaceAll(msg, "extraneous input", "unexpected");
    replaceAll(msg, "no viable alternative at input", "cannot parse");
    return "syntax error: " + msg;
  }

  const SourceFile &file_;
  Diagnostics &diag_;
};

/// Builds AST nodes from a parse tree that has no syntax errors.
class ASTBuilder {
public:
  ASTBuilder(const SourceFile &file, Diagnostics &diag) : file_(file), diag_(diag) {}

  ast::File build(RnnParser::FileContext *ctx) {
    ast::File result;
    for (auto *decl : ctx->decl()) {
      if (auto *c = decl->constDecl())
        result.constants.push_back(constDecl(c));
      else if (auto *m = decl->modelDecl())
        result.models.push_back(model(m));
    }
    return result;
  }

private:
  SourceLoc loc(antlr4::Token *token) const {
    return file_.loc(static_cast<uint32_t>(token->getLine()),
                     static_cast<uint32_t>(token->getCharPositionInLine() + 1));
  }
  SourceLoc loc(antlr4::ParserRuleContext *ctx) const { return loc(ctx->getStart()); }

  ast::Model model(RnnParser::ModelDeclContext *ctx) {
    ast::Model m;
    m.loc = loc(ctx);
    m.name = ctx->name()->getText();
    m.nameLoc = loc(ctx->name());
    for (auto *s : ctx->stmt())
      m.stmts.push_back(stmt(s));
    return m;
  }

  ast::Stmt constDecl(RnnParser::ConstDeclContext *ctx) {
    ast::Stmt s(ast::Stmt::Kind::Const, loc(ctx));
    s.name = ctx->name()->getText();
    s.nameLoc = loc(ctx->name());
    s.value = expr(ctx->expr());
    return s;
  }

  ast::Stmt stmt(RnnParser::StmtContext *ctx) {
    using Kind = ast::Stmt::Kind;
    if (auto *c = ctx->constDecl())
      return constDecl(c);
    if (auto *c = ctx->inputDecl()) {
      ast::Stmt s(Kind::Input, loc(c));
      s.name = c->name()->getText();
      s.nameLoc = loc(c->name());
      s.type = tensorType(c->tensorType());
      return s;
    }
    if (auto *c = ctx->targetDecl()) {
      ast::Stmt s(Kind::Target, loc(c));
      s.name = c->name()->getText();
      s.nameLoc = loc(c->name());
      s.type = tensorType(c->tensorType());
      if (c->expr())
        s.classes = expr(c->expr());
      return s;
    }
    if (auto *c = ctx->outputDecl()) {
      ast::Stmt s(Kind::Output, loc(c));
      s.name = c->name()->getText();
      s.nameLoc = loc(c->name());
      return s;
    }
    if (auto *c = ctx->lossDecl()) {
      ast::Stmt s(Kind::Loss, loc(c));
      s.value = call(c->call());
      return s;
    }
    if (auto *c = ctx->optimizerDecl()) {
      ast::Stmt s(Kind::Optimizer, loc(c));
      s.value = call(c->call());
      return s;
    }
    if (auto *c = ctx->trainDecl()) {
      ast::Stmt s(Kind::Train, loc(c));
      s.settings = settings(c->settings());
      return s;
    }
    if (auto *c = ctx->dataDecl()) {
      ast::Stmt s(Kind::Data, loc(c));
      s.name = c->name()->getText();
      s.nameLoc = loc(c->name());
      s.settings = settings(c->settings());
      return s;
    }
    auto *c = ctx->assignStmt();
    ast::Stmt s(Kind::Assign, loc(c));
    s.name = c->name()->getText();
    s.nameLoc = loc(c->name());
    s.value = expr(c->expr());
    return s;
  }

  std::vector<ast::Setting> settings(RnnParser::SettingsContext *ctx) {
    std::vector<ast::Setting> result;
    for (auto *s : ctx->setting())
      result.push_back({s->name()->getText(), loc(s), expr(s->expr())});
    return result;
  }

  ast::TensorTypeExpr tensorType(RnnParser::TensorTypeContext *ctx) {
    ast::TensorTypeExpr t;
    t.loc = loc(ctx);
    t.dtype = ctx->name()->getText();
    t.dtypeLoc = loc(ctx->name());
    for (auto *d : ctx->dim()) {
      ast::Dim dim;
      dim.loc = loc(d);
      if (d->INT())
        dim.size = integer(d->INT()->getSymbol(), false);
      else
        dim.name = d->name()->getText();
      t.dims.push_back(std::move(dim));
    }
    return t;
  }

  ast::ExprPtr call(RnnParser::CallContext *ctx) {
    auto e = std::make_unique<ast::Expr>(ast::Expr::Kind::Call, loc(ctx));
    e->text = ctx->name()->getText();
    for (auto *a : ctx->arg()) {
      ast::Arg arg;
      if (a->name()) {
        arg.name = a->name()->getText();
        arg.nameLoc = loc(a->name());
      }
      arg.value = expr(a->expr());
      e->args.push_back(std::move(arg));
    }
    return e;
  }

  ast::ExprPtr expr(RnnParser::ExprContext *ctx) {
    using Kind = ast::Expr::Kind;
    if (auto *c = ctx->call())
      return call(c);
    if (auto *l = ctx->list()) {
      auto e = std::make_unique<ast::Expr>(Kind::List, loc(l));
      for (auto *item : l->expr())
        e->items.push_back(expr(item));
      return e;
    }
    bool negative = ctx->MINUS() != nullptr;
    if (auto *t = ctx->INT()) {
      auto e = std::make_unique<ast::Expr>(Kind::Int, loc(ctx));
      e->intValue = integer(t->getSymbol(), negative);
      return e;
    }
    if (auto *t = ctx->FLOAT()) {
      auto e = std::make_unique<ast::Expr>(Kind::Float, loc(ctx));
      e->floatValue = floating(t->getSymbol(), negative);
      return e;
    }
    if (auto *t = ctx->STRING()) {
      auto e = std::make_unique<ast::Expr>(Kind::String, loc(ctx));
      e->text = unescape(t->getText());
      return e;
    }
    if (ctx->TRUE() || ctx->FALSE()) {
      auto e = std::make_unique<ast::Expr>(Kind::Bool, loc(ctx));
      e->boolValue = ctx->TRUE() != nullptr;
      return e;
    }
    auto e = std::make_unique<ast::Expr>(Kind::Name, loc(ctx));
    e->text = ctx->name()->getText();
    return e;
  }

  int64_t integer(antlr4::Token *token, bool negative) {
    const std::string text = token->getText();
    uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), magnitude);
    const uint64_t limit = negative ? uint64_t(INT64_MAX) + 1 : uint64_t(INT64_MAX);
    if (ec != std::errc() || end != text.data() + text.size() || magnitude > limit) {
      diag_.error(loc(token), "integer literal '" + (negative ? "-" + text : text) +
                                  "' is out of range (a 64-bit integer)");
      return 0;
    }
    if (negative)
      return magnitude == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(magnitude);
    return static_cast<int64_t>(magnitude);
  }

  double floating(antlr4::Token *token, bool negative) {
    const std::string text = token->getText();
    errno = 0;
    double value = std::strtod(text.c_str(), nullptr);
    if (errno == ERANGE && std::isinf(value)) {
      diag_.error(loc(token), "number '" + text + "' is out of range of a 64-bit float");
      return 0;
    }
    return negative ? -value : value;
  }

  static std::string unescape(const std::string &quoted) {
    std::string out;
    for (size_t i = 1; i + 1 < quoted.size(); ++i) {
      char c = quoted[i];
      if (c == '\\' && i + 2 < quoted.size()) {
        char next = quoted[++i];
        out += next == 'n' ? '\n' : next == 't' ? '\t' : next;
      } else {
        out += c;
      }
    }
    return out;
  }

  const SourceFile &file_;
  Diagnostics &diag_;
};

/// Rejects bracket nesting deeper than the limit before the recursive-descent
/// parser sees it, so hostile input cannot exhaust the stack.
bool checkNesting(antlr4::CommonTokenStream &tokens, const SourceFile &file, Diagnostics &diag,
                  unsigned limit) {
  unsigned depth = 0;
  for (antlr4::Token *token : tokens.getTokens()) {
    const std::string text = token->getType() == antlr4::Token::EOF ? "" : token->getText();
    if (text == "(" || text == "[" || text == "{") {
      if (++depth > limit) {
        diag.error(file.loc(static_cast<uint32_t>(token->getLine()),
                            static_cast<uint32_t>(token->getCharPositionInLine() + 1)),
                   "expression nested too deeply (more than " + std::to_string(limit) +
                       " levels of brackets)");
        return false;
      }
    } else if ((text == ")" || text == "]" || text == "}") && depth > 0) {
      --depth;
    }
  }
  return true;
}

} // namespace

std::optional<ast::File> parseFile(const SourceFile &file, Diagnostics &diag, ParseLimits limits) {
  SourceLoc bad;
  unsigned char byte = 0;
  if (!file.checkUtf8(bad, byte)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", byte);
    diag.error(bad, byte == 0 ? std::string("NUL byte in source text")
                              : std::string("invalid UTF-8 byte ") + hex +
                                    " (.rnn files must be UTF-8 text)");
    return std::nullopt;
  }
  unsigned errorsBefore = diag.errorCount();
  ErrorListener listener(file, diag);

  antlr4::ANTLRInputStream input(file.text());
  input.name = file.path();
  RnnLexer lexer(&input);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&listener);
  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();
  if (!checkNesting(tokens, file, diag, limits.maxNesting))
    return std::nullopt;

  RnnParser parser(&tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(&listener);
  RnnParser::FileContext *tree = parser.file();
  if (diag.errorCount() != errorsBefore)
    return std::nullopt;

  ASTBuilder builder(file, diag);
  ast::File result = builder.build(tree);
  if (diag.errorCount() != errorsBefore)
    return std::nullopt;
  return result;
}

} // namespace rnnc
