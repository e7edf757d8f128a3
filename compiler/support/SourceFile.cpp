//===- SourceFile.cpp - Source buffers, reading files, UTF-8 checks -------===//
#include "compiler/support/SourceFile.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace rnnc {

std::string SourceLoc::str() const {
  if (!valid())
    return "<unknown>";
  return (path ? *path : std::string("<input>")) + ":" + std::to_string(line) + ":" +
         std::to_string(column);
}

SourceFile::SourceFile(std::string path, std::string text)
    : path_(std::move(path)), text_(std::move(text)) {}

std::shared_ptr<SourceFile> SourceFile::read(const std::string &path, std::string &error) {
  std::ostringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return std::make_shared<SourceFile>("<stdin>", buffer.str());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return nullptr;
  }
  buffer << in.rdbuf();
  if (in.bad()) {
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return nullptr;
  }
  return std::make_shared<SourceFile>(path, buffer.str());
}

std::string_view SourceFile::lineText(uint32_t line) const {
  std::string_view text(text_);
  size_t start = 0;
  for (uint32_t l = 1; l < line; ++l) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos)
      return {};
    start = nl + 1;
  }
  size_t end = text.find('\n', start);
  std::string_view result = text.substr(start, end == std::string_view::npos ? end : end - start);
  if (!result.empty() && result.back() == '\r')
    result.remove_suffix(1);
  return result;
}

bool SourceFile::checkUtf8(SourceLoc &where, unsigned char &badByte) const {
  const auto *s = reinterpret_cast<const unsigned char *>(text_.data());
  size_t n = text_.size();
  uint32_t line = 1, column = 1;
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        ok = false;
      else
        cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if (ok && len > 1) {
      static const uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < minimum[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        ok = false;
    }
    if (!ok) {
      where = loc(line, column);
      badByte = c;
      return false;
    }
    if (c == 0) { // NUL is valid UTF-8 but never valid source text
      where = loc(line, column);
      badByte = 0;
      return false;
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      column += 1; // columns count characters, as ANTLR does
    }
    i += len;
  }
  return true;
}

} // namespace rnnc

#include <mutex>
#include <set>

namespace rnnc {
const std::string *internPath(const std::string &path) {
  static std::mutex mutex;
  static std::set<std::string> paths;
  std::lock_guard<std::mutex> lock(mutex);
  return &*paths.insert(path).first;
}
} // namespace rnnc
