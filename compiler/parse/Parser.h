//===- Parser.h - .rnn text to AST -----------------------------*- C++ -*-===//
#pragma once

#include "compiler/parse/AST.h"
#include "compiler/support/Diagnostics.h"

#include <optional>

namespace rnnc {

/// Limits that keep hostile input from exhausting the stack or memory.
struct ParseLimits {
  unsigned maxNesting = 128; ///< brackets and parentheses open at once
};

/// Parses `file` (grammar/Rnn.g4): 1) checks that the text is UTF-8,
/// 2) lexes it and rejects nesting deeper than the limit, 3) parses with
/// ANTLR, recovering from syntax errors and reporting each one, 4) builds the
/// AST. Literals are checked here (integer overflow, float range, escapes).
/// Returns the AST if there was no error; every error goes to `diag`.
std::optional<ast::File> parseFile(const SourceFile &file, Diagnostics &diag,
                                   ParseLimits limits = {});

} // namespace rnnc
