//===- IRParser.cpp - Recursive-descent reader of printed graph IR --------===//
#include "compiler/ir/IRParser.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace rnnc::ir {
namespace {

struct Token {
  enum class Kind { End, Ident, Value, Global, Int, Float, String, Punct, Error };
  Kind kind = Kind::End;
  std::string text; ///< identifier/name without sigil, unescaped string, punctuation
  int64_t intValue = 0;
  double floatValue = 0;
  SourceLoc loc;
};

class Lexer {
public:
  Lexer(const SourceFile &file) : file_(file), text_(file.text()) {}

  Token next() {
    skipSpaceAndComments();
    Token t;
    t.loc = file_.loc(line_, column_);
    if (pos_ >= text_.size())
      return t;
    char c = text_[pos_];
    if (c == '%' || c == '@') {
      advance();
      t.kind = c == '%' ? Token::Kind::Value : Token::Kind::Global;
      t.text = takeWhile([](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.'; });
      if (t.text.empty()) {
        t.kind = Token::Kind::Error;
        t.text = std::string("expected a name after '") + c + "'";
      }
      return t;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      t.kind = Token::Kind::Ident;
      t.text = takeWhile([](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
      return t;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.') {
      if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '>') {
        advance(), advance();
        t.kind = Token::Kind::Punct;
        t.text = "->";
        return t;
      }
      return number(t);
    }
    if (c == '"')
      return string(t);
    if (std::string("{}()[],:=").find(c) != std::string::npos) {
      advance();
      t.kind = Token::Kind::Punct;
      t.text = std::string(1, c);
      return t;
    }
    advance();
    t.kind = Token::Kind::Error;
    t.text = std::string("unexpected character '") + c + "'";
    return t;
  }

private:
  void advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(text_[pos_]) & 0xC0) != 0x80) {
      ++column_;
    }
    ++pos_;
  }

  template <typename Pred> std::string takeWhile(Pred pred) {
    size_t start = pos_;
    while (pos_ < text_.size() && pred(text_[pos_]))
      advance();
    return text_.substr(start, pos_ - start);
  }

  void skipSpaceAndComments() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        advance();
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        while (pos_ < text_.size() && text_[pos_] != '\n')
          advance();
      } else {
        return;
      }
    }
  }

  Token number(Token &t) {
    std::string text = takeWhile([](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '+';
    });
    bool isFloat = text.find_first_of(".eEn") != std::string::npos; // n: inf/nan
    if (!isFloat) {
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t.intValue);
      if (ec == std::errc() && end == text.data() + text.size()) {
        t.kind = Token::Kind::Int;
        return t;
      }
    } else {
      errno = 0;
      char *end = nullptr;
      t.floatValue = std::strtod(text.c_str(), &end);
      if (end == text.c_str() + text.size() && !(errno == ERANGE && std::isinf(t.floatValue))) {
        t.kind = Token::Kind::Float;
        return t;
      }
    }
    t.kind = Token::Kind::Error;
    t.text = "invalid or out-of-range number '" + text + "'";
    return t;
  }

  Token string(Token &t) {
    advance(); // opening quote
    while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\n') {
      char c = text_[pos_];
      advance();
      if (c == '\\' && pos_ < text_.size()) {
        char e = text_[pos_];
        advance();
        t.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        t.text += c;
      }
    }
    if (pos_ >= text_.size() || text_[pos_] != '"') {
      t.kind = Token::Kind::Error;
      t.text = "unterminated string";
      return t;
    }
    advance();
    t.kind = Token::Kind::String;
    return t;
  }

  const SourceFile &file_;
  const std::string &text_;
  size_t pos_ = 0;
  uint32_t line_ = 1, column_ = 1;
};

/// Thrown to unwind out of a malformed graph after the error is reported.
struct ParseFailure {};

class Parser {
public:
  Parser(const SourceFile &file, Diagnostics &diag) : lexer_(file), diag_(diag) {}

  std::optional<Graph> parse() {
    try {
      bump();
      Graph g;
      g.loc = tok_.loc;
      expectKeyword("graph");
      if (tok_.kind != Token::Kind::Global)
        fail("expected '@name' after 'graph'");
      g.name = tok_.text;
      bump();
      expectPunct("{");
      while (!isPunct("}"))
        item(g);
      bump();
      if (tok_.kind != Token::Kind::End)
        fail("unexpected text after the end of the graph");
      return g;
    } catch (const ParseFailure &) {
      return std::nullopt;
    }
  }

private:
  void bump() {
    tok_ = lexer_.next();
    if (tok_.kind == Token::Kind::Error)
      fail(tok_.text);
  }
  [[noreturn]] void fail(const std::string &message) {
    diag_.error(tok_.loc, message);
    throw ParseFailure{};
  }
  bool isPunct(const char *p) const { return tok_.kind == Token::Kind::Punct && tok_.text == p; }
  void expectPunct(const char *p) {
    if (!isPunct(p))
      fail(std::string("expected '") + p + "'" + found());
    bump();
  }
  void expectKeyword(const char *k) {
    if (tok_.kind != Token::Kind::Ident || tok_.text != k)
      fail(std::string("expected '") + k + "'" + found());
    bump();
  }
  std::string found() const {
    if (tok_.kind == Token::Kind::End)
      return ", found end of file";
    std::string sigil = tok_.kind == Token::Kind::Value ? "%" : tok_.kind == Token::Kind::Global ? "@" : "";
    if (tok_.kind == Token::Kind::Int)
      return ", found " + std::to_string(tok_.intValue);
    return ", found '" + sigil + tok_.text + "'";
  }
  std::string ident(const char *what) {
    if (tok_.kind != Token::Kind::Ident)
      fail(std::string("expected ") + what + found());
    std::string text = tok_.text;
    bump();
    return text;
  }
  ValueId valueRef(const Graph &g) {
    if (tok_.kind != Token::Kind::Value)
      fail("expected a value '%name'" + found());
    std::optional<ValueId> id = g.find(tok_.text);
    if (!id)
      fail("use of undefined value '%" + tok_.text + "'");
    bump();
    return *id;
  }

  void item(Graph &g) {
    if (tok_.kind == Token::Kind::Value)
      return op(g);
    SourceLoc loc = tok_.loc;
    std::string keyword = ident("an op '%name = ...', output, loss, grad, optimizer, train or data");
    if (keyword == "output" || keyword == "loss") {
      std::optional<ValueId> &slot = keyword == "output" ? g.output : g.loss;
      if (slot)
        fail("the graph already has a " + keyword);
      slot = valueRef(g);
      return;
    }
    if (keyword == "grad") {
      ValueId param = valueRef(g);
      expectPunct("=");
      ValueId grad = valueRef(g);
      g.gradients.emplace_back(param, grad);
      return;
    }
    if (keyword == "optimizer" || keyword == "train" || keyword == "data") {
      std::optional<Section> &slot = keyword == "optimizer" ? g.optimizer
                                     : keyword == "train"   ? g.train
                                                            : g.data;
      if (slot)
        fail("the graph already has a " + keyword + " section");
      Section s;
      s.loc = loc;
      if (keyword != "train")
        s.kind = ident("a kind");
      s.attrs = attrMap();
      if (tok_.kind == Token::Kind::Ident && tok_.text == "loc")
        s.loc = location();
      slot = std::move(s);
      return;
    }
    diag_.error(loc, "unknown graph item '" + keyword + "'");
    throw ParseFailure{};
  }

  void op(Graph &g) {
    Op op;
    op.loc = tok_.loc;
    op.name = tok_.text;
    if (g.find(op.name))
      fail("value '%" + op.name + "' is defined twice");
    bump();
    expectPunct("=");
    SourceLoc mnemonicLoc = tok_.loc;
    std::string mnemonic = ident("an op name");
    std::optional<OpKind> kind = opKindFromMnemonic(mnemonic);
    if (!kind) {
      diag_.error(mnemonicLoc, "unknown op '" + mnemonic + "'");
      throw ParseFailure{};
    }
    op.kind = *kind;
    expectPunct("(");
    while (!isPunct(")")) {
      if (!op.operands.empty())
        expectPunct(",");
      op.operands.push_back(valueRef(g));
    }
    bump();
    if (isPunct("{"))
      op.attrs = attrMap();
    expectPunct(":");
    expectPunct("(");
    size_t index = 0;
    while (!isPunct(")")) {
      if (index)
        expectPunct(",");
      SourceLoc typeLoc = tok_.loc;
      TensorType t = type();
      if (index >= op.operands.size()) {
        diag_.error(typeLoc, "more operand types than operands");
        throw ParseFailure{};
      }
      const Op &def = g.op(op.operands[index]);
      if (t != def.type) {
        diag_.error(typeLoc, "operand '%" + def.name + "' has type " + def.type.str() +
                                 ", not " + t.str());
        throw ParseFailure{};
      }
      ++index;
    }
    if (index != op.operands.size())
      fail("expected " + std::to_string(op.operands.size()) + " operand types, got " +
           std::to_string(index));
    bump();
    expectPunct("->");
    op.type = type();
    if (tok_.kind == Token::Kind::Ident && tok_.text == "loc")
      op.loc = location();
    g.add(std::move(op));
  }

  SourceLoc location() {
    bump(); // 'loc'
    expectPunct("(");
    if (tok_.kind != Token::Kind::String)
      fail("expected a file name in loc(...)");
    const std::string *path = internPath(tok_.text);
    bump();
    expectPunct(":");
    int64_t line = integer("a line number");
    expectPunct(":");
    int64_t column = integer("a column number");
    expectPunct(")");
    if (line < 1 || column < 1 || line > UINT32_MAX || column > UINT32_MAX)
      fail("invalid location");
    return SourceLoc{path, static_cast<uint32_t>(line), static_cast<uint32_t>(column)};
  }

  int64_t integer(const char *what) {
    if (tok_.kind != Token::Kind::Int)
      fail(std::string("expected ") + what + found());
    int64_t v = tok_.intValue;
    bump();
    return v;
  }

  TensorType type() {
    SourceLoc loc = tok_.loc;
    std::string dtypeName = ident("a type such as f32[batch,16]");
    std::optional<DType> dtype = parseDType(dtypeName);
    if (!dtype) {
      diag_.error(loc, "unknown element type '" + dtypeName + "' (expected f32 or i32)");
      throw ParseFailure{};
    }
    TensorType t{*dtype, {}};
    expectPunct("[");
    while (!isPunct("]")) {
      if (!t.dims.empty())
        expectPunct(",");
      if (tok_.kind == Token::Kind::Int) {
        t.dims.push_back(Dim::fixed(tok_.intValue));
        bump();
      } else {
        t.dims.push_back(Dim::symbolic(ident("a dimension")));
      }
      if (t.dims.size() > 16)
        fail("tensor rank above 16");
    }
    bump();
    return t;
  }

  AttrMap attrMap() {
    AttrMap attrs;
    expectPunct("{");
    while (!isPunct("}")) {
      if (!attrs.empty())
        expectPunct(",");
      std::string key = ident("an attribute name");
      if (attrs.has(key))
        fail("attribute '" + key + "' given twice");
      expectPunct("=");
      attrs.set(key, attr(0));
    }
    bump();
    return attrs;
  }

  Attr attr(int depth) {
    if (depth > 32)
      fail("attribute lists nested too deeply");
    Attr a;
    switch (tok_.kind) {
    case Token::Kind::Int: a = Attr::ofInt(tok_.intValue); break;
    case Token::Kind::Float: a = Attr::ofFloat(tok_.floatValue); break;
    case Token::Kind::String: a = Attr::ofString(tok_.text); break;
    case Token::Kind::Ident:
      if (tok_.text == "true" || tok_.text == "false") {
        a = Attr::ofBool(tok_.text == "true");
        break;
      }
      if (tok_.text == "inf" || tok_.text == "nan") {
        a = Attr::ofFloat(tok_.text == "inf" ? HUGE_VAL : std::nan(""));
        break;
      }
      fail("expected an attribute value" + found());
    case Token::Kind::Punct:
      if (tok_.text == "[") {
        bump();
        std::vector<Attr> items;
        while (!isPunct("]")) {
          if (!items.empty())
            expectPunct(",");
          items.push_back(attr(depth + 1));
        }
        bump();
        return Attr::ofList(std::move(items));
      }
      [[fallthrough]];
    default: fail("expected an attribute value" + found());
    }
    bump();
    return a;
  }

  Lexer lexer_;
  Diagnostics &diag_;
  Token tok_;
};

} // namespace

std::optional<Graph> parseGraph(const SourceFile &file, Diagnostics &diag) {
  return Parser(file, diag).parse();
}

} // namespace rnnc::ir
