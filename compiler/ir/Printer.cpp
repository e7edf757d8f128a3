//===- Printer.cpp - Graph IR to text -------------------------------------===//
#include "compiler/ir/Printer.h"

#include "compiler/support/Format.h"

namespace rnnc::ir {
namespace {

void printLoc(const SourceLoc &loc, std::ostream &out) {
  if (!loc.valid())
    return;
  out << " loc(" << quote(loc.path ? *loc.path : "") << ":" << loc.line << ":" << loc.column
      << ")";
}

void printSection(const char *keyword, const Section &s, std::ostream &out,
                  const PrintOptions &options) {
  out << "  " << keyword;
  if (!s.kind.empty())
    out << " " << s.kind;
  out << " " << s.attrs.str();
  if (options.locations)
    printLoc(s.loc, out);
  out << "\n";
}

} // namespace

void printGraph(const Graph &graph, std::ostream &out, PrintOptions options) {
  out << "graph @" << graph.name << " {\n";
  for (const Op &op : graph.ops()) {
    out << "  %" << op.name << " = " << opInfo(op.kind).mnemonic << "(";
    for (size_t i = 0; i < op.operands.size(); ++i)
      out << (i ? ", %" : "%") << graph.op(op.operands[i]).name;
    out << ")";
    if (!op.attrs.empty())
      out << " " << op.attrs.str();
    out << " : (";
    for (size_t i = 0; i < op.operands.size(); ++i)
      out << (i ? ", " : "") << graph.op(op.operands[i]).type.str();
    out << ") -> " << op.type.str();
    if (options.locations)
      printLoc(op.loc, out);
    out << "\n";
  }
  if (graph.output)
    out << "  output %" << graph.op(*graph.output).name << "\n";
  if (graph.loss)
    out << "  loss %" << graph.op(*graph.loss).name << "\n";
  if (graph.optimizer)
    printSection("optimizer", *graph.optimizer, out, options);
  if (graph.train)
    printSection("train", *graph.train, out, options);
  if (graph.data)
    printSection("data", *graph.data, out, options);
  out << "}\n";
}

} // namespace rnnc::ir
