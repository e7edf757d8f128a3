//===- ASTPrinter.h - Print the AST as indented text ------------*- C++ -*-===//
#pragma once

#include "compiler/parse/AST.h"

#include <ostream>

namespace rnnc {

/// Prints `file` one node per line, indented by depth, each with its
/// line:column. This is the output of `rnnc --emit=ast`.
void printAST(const ast::File &file, std::ostream &out);

} // namespace rnnc
