//===- DataTest.cpp - Data directories, the IMDB tokenizer and encoder ----===//
#include "runtime/data/DataDir.h"
#include "runtime/data/Imdb.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unistd.h>

namespace rnnc::data {
namespace {

namespace fs = std::filesystem;
using Words = std::vector<std::string>;

/// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
public:
  ScopedEnv(const char *name, std::optional<std::string> value) : name(name) {
    if (const char *old = std::getenv(name))
      saved = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (saved)
      ::setenv(name, saved->c_str(), 1);
    else
      ::unsetenv(name);
  }

private:
  const char *name;
  std::optional<std::string> saved;
};

/// A fresh directory for one test, removed afterwards.
class DataDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) /
          ("rnnc-data-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
           std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  fs::path dir;
};

TEST(DataSearchPath, FlagThenDefaults) {
  ScopedEnv env("RNN_DATA_DIR", "/from/env");
  EXPECT_EQ(dataSearchPath("/from/flag"), Words({"/from/flag", "./data", "../shared/data"}));
}

TEST(DataSearchPath, EnvironmentWhenNoFlag) {
  ScopedEnv env("RNN_DATA_DIR", "/from/env");
  EXPECT_EQ(dataSearchPath(""), Words({"/from/env", "./data", "../shared/data"}));
}

TEST(DataSearchPath, DefaultsAlone) {
  ScopedEnv env("RNN_DATA_DIR", std::nullopt);
  EXPECT_EQ(dataSearchPath(""), Words({"./data", "../shared/data"}));
}

TEST_F(DataDirTest, FindDataIsDirMajorAndListsWhatItTried) {
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  std::ofstream(dir / "a" / "second.csv") << "x";
  std::ofstream(dir / "b" / "first.csv") << "x";
  std::string a = (dir / "a").string(), b = (dir / "b").string();
  Words searched;
  EXPECT_EQ(findData({a, b}, {"first.csv", "second.csv"}, searched), a + "/second.csv");
  EXPECT_EQ(searched, Words({a + "/first.csv", a + "/second.csv"}));
  EXPECT_EQ(findData({a, b}, {"first.csv"}, searched), b + "/first.csv");
  EXPECT_EQ(searched, Words({a + "/first.csv", b + "/first.csv"}));
}

TEST_F(DataDirTest, FindDataReturnsEmptyWhenNothingExists) {
  Words searched = {"left over"};
  std::string a = (dir / "a").string();
  EXPECT_EQ(findData({a, dir.string()}, {"x.tar.gz", "x"}, searched), "");
  EXPECT_EQ(searched, Words({a + "/x.tar.gz", a + "/x", (dir / "x.tar.gz").string(), (dir / "x").string()}));
}

TEST_F(DataDirTest, CacheDirectoryPrefersXdg) {
  ScopedEnv xdg("XDG_CACHE_HOME", (dir / "xdg").string());
  ScopedEnv home("HOME", (dir / "home").string());
  EXPECT_EQ(cacheDirectory(), (dir / "xdg" / "rnnc").string());
  EXPECT_TRUE(fs::is_directory(dir / "xdg" / "rnnc"));
}

TEST_F(DataDirTest, CacheDirectoryFallsBackToHomeThenTmp) {
  ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
  {
    ScopedEnv home("HOME", (dir / "home").string());
    EXPECT_EQ(cacheDirectory(), (dir / "home" / ".cache" / "rnnc").string());
    EXPECT_TRUE(fs::is_directory(dir / "home" / ".cache" / "rnnc"));
  }
  ScopedEnv home("HOME", std::nullopt);
  std::string tmp = "/tmp/rnnc-cache-" + std::to_string(::getuid());
  EXPECT_EQ(cacheDirectory(), tmp);
  EXPECT_TRUE(fs::is_directory(tmp));
}

TEST(Tokenize, LineBreaksPunctuationAndCase) {
  EXPECT_EQ(tokenize("I LOVED it.<br /><br />Really!"), Words({"i", "loved", "it", "really"}));
  EXPECT_EQ(tokenize("one<BR>two<br/>three<Br />four"), Words({"one", "two", "three", "four"}));
  EXPECT_EQ(tokenize("hello,world...again (10/10) x-ray a_b \"q\""),
            Words({"hello", "world", "again", "10", "10", "x", "ray", "a", "b", "q"}));
  EXPECT_EQ(tokenize("  tabs\tand\nnewlines\r\n"), Words({"tabs", "and", "newlines"}));
}

TEST(Tokenize, ApostrophesInsideWordsOnly) {
  EXPECT_EQ(tokenize("Don't stop, rock'n'roll!"), Words({"don't", "stop", "rock'n'roll"}));
  EXPECT_EQ(tokenize("'quoted' the actors' ''"), Words({"quoted", "the", "actors"}));
}

TEST(Tokenize, KeepsUtf8AndDropsEmptyTokens) {
  EXPECT_EQ(tokenize("Caf\xc3\xa9 na\xc3\xafve \xe2\x80\x9cok\xe2\x80\x9d"),
            Words({"caf\xc3\xa9", "na\xc3\xafve", "\xe2\x80\x9cok\xe2\x80\x9d"}));
  EXPECT_TRUE(tokenize("").empty());
  EXPECT_TRUE(tokenize(" ,,, '' <br /> ...").empty());
}

TEST(Encode, PadsAtTheFrontAndKeepsTheLastTokens) {
  std::unordered_map<std::string, int32_t> ids = {{"a", 2}, {"b", 3}};
  using Ids = std::vector<int32_t>;
  EXPECT_EQ(encode({"a", "b", "zzz"}, ids, 5), Ids({0, 0, 2, 3, 1}));
  EXPECT_EQ(encode({"a", "b", "zzz"}, ids, 3), Ids({2, 3, 1}));
  EXPECT_EQ(encode({"a", "b", "zzz"}, ids, 2), Ids({3, 1}));
  EXPECT_EQ(encode({}, ids, 3), Ids({0, 0, 0}));
}

TEST(ImdbHowToObtain, NamesTheDownloadWithoutAnAddress) {
  std::string text = imdbHowToObtain();
  EXPECT_NE(text.find("aclImdb_v1.tar.gz"), std::string::npos);
  EXPECT_NE(text.find("Large Movie Review Dataset"), std::string::npos);
  EXPECT_NE(text.find("aclImdb/"), std::string::npos);
  EXPECT_EQ(text.find("http"), std::string::npos);
  EXPECT_EQ(text.find("www"), std::string::npos);
  EXPECT_EQ(text.find(".edu"), std::string::npos);
}

} // namespace
} // namespace rnnc::data
