//===- PrinterParserTest.cpp - print -> parse -> equal graph --------------===//
#include "compiler/ir/IRParser.h"
#include "compiler/ir/Printer.h"
#include "compiler/ir/Verifier.h"

#include <gtest/gtest.h>

#include <sstream>

namespace rnnc::ir {
namespace {

std::string print(const Graph &g, bool locations = false) {
  std::ostringstream out;
  printGraph(g, out, {locations});
  return out.str();
}

std::optional<Graph> parse(const std::string &text, std::string &errors) {
  SourceFile file("t.ir", text);
  std::ostringstream out;
  Diagnostics diag(out);
  auto g = parseGraph(file, diag);
  errors = out.str();
  return g;
}

bool sameGraph(const Graph &a, const Graph &b) {
  if (a.name != b.name || a.size() != b.size() || a.output != b.output || a.loss != b.loss)
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Op &x = a.op(i), &y = b.op(i);
    if (x.kind != y.kind || x.name != y.name || x.operands != y.operands || !(x.attrs == y.attrs) ||
        x.type != y.type)
      return false;
  }
  auto sameSection = [](const std::optional<Section> &p, const std::optional<Section> &q) {
    return p.has_value() == q.has_value() && (!p || (p->kind == q->kind && p->attrs == q->attrs));
  };
  return sameSection(a.optimizer, b.optimizer) && sameSection(a.train, b.train) && sameSection(a.data, b.data);
}

TEST(PrinterParser, RoundTripsEveryAttributeKindAndLocations) {
  Graph g;
  g.name = "round";
  const std::string *path = internPath("models/x.rnn");
  TensorType seq{DType::F32, {Dim::symbolic("batch"), Dim::fixed(3), Dim::fixed(2)}};
  ValueId x = g.add({OpKind::Input, "x", {}, {}, seq, {path, 2, 3}});
  AttrMap p;
  p.set("p", Attr::ofFloat(0.1 + 0.2)); // not exactly representable as a short decimal
  ValueId d = g.add({OpKind::Dropout, "x.drop", {x}, p, seq, {path, 4, 9}});
  g.output = d;
  Section data{"csv", {}, {path, 7, 3}};
  data.attrs.set("na", Attr::ofList({Attr::ofInt(-200), Attr::ofString("N\"A"), Attr::ofFloat(-1e-300),
                                     Attr::ofBool(true), Attr::ofList({})}));
  g.data = data;

  std::string errors;
  for (bool locations : {false, true}) {
    std::string text = print(g, locations);
    std::optional<Graph> back = parse(text, errors);
    ASSERT_TRUE(back) << errors << text;
    EXPECT_TRUE(sameGraph(g, *back)) << text << "\n---\n" << print(*back);
    EXPECT_EQ(print(*back, locations), text);
    if (locations) {
      EXPECT_EQ(*back->op(1).loc.path, "models/x.rnn");
      EXPECT_EQ(back->op(1).loc.line, 4u);
      EXPECT_EQ(back->op(1).loc.column, 9u);
    }
  }
}

TEST(PrinterParser, ReportsTheFirstSyntaxErrorWithItsLocation) {
  std::string errors;
  EXPECT_FALSE(parse("graph @g {\n  %x = input() : () -> f32[b,2]\n  %y = relu(%x) (f32[b,2]) -> f32[b,2]\n}\n", errors));
  EXPECT_EQ(errors.substr(0, errors.find('\n')), "t.ir:3:17: error: expected ':', found '('");
  EXPECT_FALSE(parse("graph @g {\n  %x = input() : () -> q32[b]\n}", errors));
  EXPECT_EQ(errors.substr(0, errors.find('\n')), "t.ir:2:24: error: unknown element type 'q32' (expected f32 or i32)");
}

} // namespace
} // namespace rnnc::ir
