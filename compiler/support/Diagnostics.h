//===- Diagnostics.h - User-facing errors, warnings and notes ---*- C++ -*-===//
//
// User errors (something wrong in the model) are reported through
// Diagnostics, as `path:line:col: error: message` followed by the source line
// and a caret. Compiler bugs are different: they go through RNNC_ASSERT, which
// names the broken invariant and aborts.
#pragma once

#include "compiler/support/SourceFile.h"

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace rnnc {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity;
  SourceLoc loc;
  std::string message;
};

/// Collects and prints diagnostics. Every error is printed as it is reported,
/// so that all errors of a file appear in one run.
class Diagnostics {
public:
  explicit Diagnostics(std::ostream &out) : out_(out) {}

  /// Makes the text of `file` available for source-line excerpts.
  void addFile(std::shared_ptr<SourceFile> file);

  void error(SourceLoc loc, const std::string &message) { report(Severity::Error, loc, message); }
  void warning(SourceLoc loc, const std::string &message) { report(Severity::Warning, loc, message); }
  void note(SourceLoc loc, const std::string &message) { report(Severity::Note, loc, message); }
  void report(Severity severity, SourceLoc loc, const std::string &message);

  unsigned errorCount() const { return errors_; }
  unsigned warningCount() const { return warnings_; }
  bool hasErrors() const { return errors_ != 0; }
  void setWarningsEnabled(bool enabled) { warningsEnabled_ = enabled; }
  /// Stop printing after this many errors (0: no limit); the count goes on.
  void setErrorLimit(unsigned limit) { errorLimit_ = limit; }
  const std::vector<Diagnostic> &all() const { return all_; }

private:
  void printExcerpt(const SourceLoc &loc);

  std::ostream &out_;
  std::map<std::string, std::shared_ptr<SourceFile>> files_;
  std::vector<Diagnostic> all_;
  unsigned errors_ = 0;
  unsigned warnings_ = 0;
  unsigned errorLimit_ = 50;
  bool warningsEnabled_ = true;
  bool lastPrinted_ = false;
};

[[noreturn]] void internalError(const char *file, int line, const std::string &invariant);

} // namespace rnnc

/// Checks an invariant of the compiler itself (never a property of the user's
/// input). Failure is a compiler bug: it prints the invariant and aborts.
#define RNNC_ASSERT(cond, what)                                                                    \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      ::rnnc::internalError(__FILE__, __LINE__, std::string(#cond) + ": " + (what));               \
  } while (0)
