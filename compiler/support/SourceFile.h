//===- SourceFile.h - A source buffer and positions inside it ---*- C++ -*-===//
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rnnc {

/// A position in a source file. Line and column are 1-based; the column counts
/// characters (code points). A default-constructed location is "unknown".
struct SourceLoc {
  const std::string *path = nullptr; ///< Owned by the SourceFile.
  uint32_t line = 0;
  uint32_t column = 0;

  bool valid() const { return line != 0; }
  std::string str() const; ///< "path:line:col", or "<unknown>"
};

/// The text of one input file, kept alive for diagnostics.
class SourceFile {
public:
  SourceFile(std::string path, std::string text);

  /// Reads a file ("-" is standard input). On failure returns null and sets
  /// `error` to a message naming the path and the reason.
  static std::shared_ptr<SourceFile> read(const std::string &path, std::string &error);

  const std::string &path() const { return path_; }
  const std::string &text() const { return text_; }
  SourceLoc loc(uint32_t line, uint32_t column) const { return {&path_, line, column}; }
  /// The text of 1-based line `line`, without its line terminator.
  std::string_view lineText(uint32_t line) const;

  /// Finds the first byte that is not valid UTF-8; returns false and its
  /// location and value if there is one.
  bool checkUtf8(SourceLoc &where, unsigned char &badByte) const;

private:
  std::string path_;
  std::string text_;
};

} // namespace rnnc

namespace rnnc {
/// A stable pointer to a copy of `path`, for locations that name a file no
/// SourceFile holds (locations read back from printed IR).
const std::string *internPath(const std::string &path);
} // namespace rnnc
