//===- Printer.cpp - Graph IR to text -------------------------------------===//
#include "compiler/ir/Printer.h"

#include "compiler/support/Format.h"

#include <algorithm>

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
  for (const auto &[param, grad] : graph.gradients)
    out << "  grad %" << graph.op(param).name << " = %" << graph.op(grad).name << "\n";
  if (graph.optimizer)
    printSection("optimizer", *graph.optimizer, out, options);
  if (graph.train)
    printSection("train", *graph.train, out, options);
  if (graph.data)
    printSection("data", *graph.data, out, options);
  out << "}\n";
}

void printSummary(const Graph &graph, std::ostream &out) {
  out << "model " << graph.name << "\n";
  for (const Op &op : graph.ops())
    if (op.kind == OpKind::Input || op.kind == OpKind::Target)
      out << "  " << (op.kind == OpKind::Input ? "input  " : "target ") << op.name << ": "
          << op.type.str() << "\n";
  if (graph.output)
    out << "  output " << graph.op(*graph.output).name << ": " << graph.op(*graph.output).type.str() << "\n";
  if (graph.loss)
    out << "  loss   " << opInfo(graph.op(*graph.loss).kind).mnemonic << "\n";
  size_t width = 4;
  for (ValueId id : graph.params())
    width = std::max(width, graph.op(id).name.size());
  out << "  parameters:\n";
  int64_t total = 0;
  for (ValueId id : graph.params()) {
    const Op &p = graph.op(id);
    int64_t n = p.type.elementCount().value_or(0);
    total += n;
    std::string shape = p.type.str();
    out << "    " << p.name << std::string(width - p.name.size() + 2, ' ') << shape
        << std::string(shape.size() < 16 ? 16 - shape.size() : 1, ' ') << n << "\n";
  }
  out << "  total: " << total << " parameters, " << total * 4 << " bytes as f32, "
      << graph.params().size() << " tensors, " << graph.size() << " ops\n";
}

} // namespace rnnc::ir
