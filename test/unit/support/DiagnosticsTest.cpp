//===- DiagnosticsTest.cpp - Located messages, carets, limits -------------===//
#include "compiler/support/Diagnostics.h"

#include <gtest/gtest.h>

#include <sstream>

namespace rnnc {
namespace {

TEST(Diagnostics, PrintsLocationSourceLineAndCaret) {
  auto file = std::make_shared<SourceFile>("m.rnn", "model m {\n  h = lstn(x)\n}\n");
  std::ostringstream out;
  Diagnostics diag(out);
  diag.addFile(file);
  diag.error(file->loc(2, 7), "unknown layer 'lstn'");
  EXPECT_EQ(out.str(), "m.rnn:2:7: error: unknown layer 'lstn'\n"
                       "  h = lstn(x)\n"
                       "      ^\n");
  EXPECT_EQ(diag.errorCount(), 1u);
}

TEST(Diagnostics, CaretCountsCharactersNotBytes) {
  auto file = std::make_shared<SourceFile>("u.rnn", "\"\xC3\xA9\xC3\xA9\" $\n");
  std::ostringstream out;
  Diagnostics diag(out);
  diag.addFile(file);
  diag.error(file->loc(1, 6), "x");
  EXPECT_NE(out.str().find("\n     ^\n"), std::string::npos) << out.str();
}

TEST(Diagnostics, NotesFollowTheirDiagnosticAndWarningsCanBeSilenced) {
  std::ostringstream out;
  Diagnostics diag(out);
  diag.setWarningsEnabled(false);
  diag.warning({}, "w");
  diag.note({}, "note of w");
  diag.error({}, "e");
  diag.note({}, "note of e");
  EXPECT_EQ(out.str(), "rnnc: error: e\nrnnc: note: note of e\n");
  EXPECT_EQ(diag.warningCount(), 1u);
}

TEST(Diagnostics, StopsPrintingAfterTheLimitButKeepsCounting) {
  std::ostringstream out;
  Diagnostics diag(out);
  diag.setErrorLimit(2);
  for (int i = 0; i < 5; ++i)
    diag.error({}, "e" + std::to_string(i));
  EXPECT_EQ(diag.errorCount(), 5u);
  EXPECT_EQ(out.str(), "rnnc: error: e0\nrnnc: error: e1\nrnnc: error: too many errors emitted, stopping now\n");
}

TEST(SourceFile, FindsInvalidUtf8) {
  SourceLoc where;
  unsigned char byte = 0;
  EXPECT_TRUE(SourceFile("a", "caf\xC3\xA9\n").checkUtf8(where, byte));
  EXPECT_FALSE(SourceFile("a", "ok\ncaf\xE9").checkUtf8(where, byte));
  EXPECT_EQ(where.line, 2u);
  EXPECT_EQ(where.column, 4u);
  EXPECT_EQ(byte, 0xE9);
  EXPECT_FALSE(SourceFile("a", "\xC0\xAF").checkUtf8(where, byte)); // overlong '/'
  EXPECT_FALSE(SourceFile("a", "\xED\xA0\x80").checkUtf8(where, byte)); // surrogate
  EXPECT_FALSE(SourceFile("a", std::string("a\0b", 3)).checkUtf8(where, byte));
}

} // namespace
} // namespace rnnc
