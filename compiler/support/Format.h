//===- Format.h - Text formatting shared by the printers --------*- C++ -*-===//
#pragma once

#include <string>

namespace rnnc {

/// The shortest text that reads back as the same double; always contains a
/// '.', an 'e', "inf" or "nan", so that it never reads back as an integer.
std::string formatDouble(double value);

/// `text` in double quotes with ", \, newline and tab escaped.
std::string quote(const std::string &text);

/// Levenshtein distance, for "did you mean" suggestions.
size_t editDistance(const std::string &a, const std::string &b);

} // namespace rnnc
