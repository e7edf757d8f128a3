//===- Diagnostics.cpp - Printing located diagnostics with a caret line ---===//
#include "compiler/support/Diagnostics.h"

#include <cstdlib>
#include <iostream>

namespace rnnc {

void Diagnostics::addFile(std::shared_ptr<SourceFile> file) {
  files_[file->path()] = std::move(file);
}

void Diagnostics::report(Severity severity, SourceLoc loc, const std::string &message) {
  all_.push_back({severity, loc, message});
  bool print = true;
  if (severity == Severity::Error) {
    ++errors_;
    print = errorLimit_ == 0 || errors_ <= errorLimit_;
    if (errorLimit_ != 0 && errors_ == errorLimit_ + 1)
      out_ << "rnnc: error: too many errors emitted, stopping now\n";
  } else if (severity == Severity::Warning) {
    ++warnings_;
    print = warningsEnabled_;
  } else {
    print = lastPrinted_; // a note belongs to the diagnostic before it
  }
  lastPrinted_ = print;
  if (!print)
    return;
  const char *label = severity == Severity::Error     ? "error"
                      : severity == Severity::Warning ? "warning"
                                                      : "note";
  out_ << (loc.valid() ? loc.str() : std::string("rnnc")) << ": ";
  out_ << label << ": " << message << "\n";
  printExcerpt(loc);
}

void Diagnostics::printExcerpt(const SourceLoc &loc) {
  if (!loc.valid() || !loc.path)
    return;
  auto it = files_.find(*loc.path);
  if (it == files_.end())
    return;
  std::string_view line = it->second->lineText(loc.line);
  if (line.size() > 240) // keep excerpts of enormous lines readable
    return;
  out_ << line << "\n";
  // Put the caret under the column-th character; tabs are kept so that the
  // caret lines up in a terminal.
  std::string caret;
  uint32_t character = 1;
  for (size_t i = 0; i < line.size() && character < loc.column; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if ((c & 0xC0) == 0x80)
      continue; // continuation byte of a multi-byte character
    caret += c == '\t' ? '\t' : ' ';
    ++character;
  }
  out_ << caret << "^\n";
}

void internalError(const char *file, int line, const std::string &invariant) {
  std::cerr << "rnnc: internal compiler error at " << file << ":" << line
            << ": invariant violated: " << invariant
            << "\nThis is a bug in rnnc, not in your model; please report it with the input.\n";
  std::abort();
}

} // namespace rnnc
