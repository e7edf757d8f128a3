//===- FormatTest.cpp - Number formatting, quoting, edit distance ---------===//
#include "compiler/support/Format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

namespace rnnc {
namespace {

TEST(FormatDouble, AlwaysReadsBackAsAFloat) {
  EXPECT_EQ(formatDouble(1.0), "1.0");
  EXPECT_EQ(formatDouble(0.5), "0.5");
  EXPECT_EQ(formatDouble(1e-8), "1e-08");
  EXPECT_EQ(formatDouble(-250.0), "-250.0");
  EXPECT_EQ(formatDouble(1.0 / 0.0), "inf");
}

TEST(FormatDouble, ShortestRoundTrip) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::uniform_int_distribution<int> exponent(-300, 300);
  for (int i = 0; i < 10000; ++i) {
    double x = std::ldexp(mantissa(rng), exponent(rng));
    std::string text = formatDouble(x);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), x) << text;
  }
}

TEST(Quote, EscapesWhatTheLexersUnescape) {
  EXPECT_EQ(quote("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
}

TEST(EditDistance, CountsEditsAndTranspositions) {
  EXPECT_EQ(editDistance("lstm", "lstm"), 0u);
  EXPECT_EQ(editDistance("lstn", "lstm"), 1u);
  EXPECT_EQ(editDistance("imbd", "imdb"), 1u); // one transposition
  EXPECT_EQ(editDistance("", "gru"), 3u);
  EXPECT_EQ(editDistance("hidden", "hiden"), 1u);
}

} // namespace
} // namespace rnnc
