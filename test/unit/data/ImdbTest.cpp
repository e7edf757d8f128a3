//===- ImdbTest.cpp - Loading IMDB reviews from tarballs and folders ------===//
#include "runtime/data/Imdb.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#ifndef RNNC_SHARED_DATA_DIR
#define RNNC_SHARED_DATA_DIR "/work/shared/data"
#endif

namespace rnnc::data {
namespace {

namespace fs = std::filesystem;

/// One file of a test data set: its path in the tree and its text.
struct File {
  std::string path, text;
};
using Tree = std::vector<File>;

/// A small labeled set in the official layout, with the extra files that a
/// loader must ignore (unsup reviews, *.feat, README, imdb.vocab, URLs).
Tree smallTree() {
  return {
      {"aclImdb/README", "Large Movie Review Dataset v1.0 readme words"},
      {"aclImdb/imdb.vocab", "the\nand\nvocabword\n"},
      {"aclImdb/train/labeledBow.feat", "9 0:9 1:1\n"},
      {"aclImdb/train/urls_pos.txt", "somewhere\n"},
      {"aclImdb/train/pos/0_9.txt", "Great movie. Great acting!<br /><br />Loved it."},
      {"aclImdb/train/pos/1_8.txt", "A great film, don't miss it."},
      {"aclImdb/train/neg/1_1.txt", "Boring and bad; I didn't like it."},
      {"aclImdb/train/neg/0_2.txt", "Bad movie. Bad plot."},
      {"aclImdb/train/unsup/0_0.txt", "unsupword unsupword unsupword unsupword"},
      {"aclImdb/test/labeledBow.feat", "3 0:1\n"},
      {"aclImdb/test/pos/0_10.txt", "Great! A masterpiece."},
      {"aclImdb/test/neg/0_3.txt", "Awful movie."},
  };
}

/// `perLabel` generated reviews per label and split (plus `extraNeg` more
/// train negatives). Each holds a word unique to it ("u<split><label><i>").
Tree generatedTree(int perLabel, int extraNeg = 0) {
  Tree tree;
  for (const char *split : {"train", "test"})
    for (const char *label : {"neg", "pos"}) {
      int count = perLabel + (std::string(split) == "train" && std::string(label) == "neg" ? extraNeg : 0);
      for (int i = 0; i < count; ++i)
        tree.push_back({std::string("aclImdb/") + split + "/" + label + "/" + std::to_string(i) + "_5.txt",
                        std::string("common ") + label + " u" + split + label + std::to_string(i)});
    }
  return tree;
}

void writeTarball(const fs::path &path, const Tree &tree) {
  archive *writer = archive_write_new();
  archive_write_add_filter_gzip(writer);
  archive_write_set_format_ustar(writer);
  ASSERT_EQ(archive_write_open_filename(writer, path.c_str()), ARCHIVE_OK);
  std::set<std::string> folders;
  for (const File &file : tree) {
    archive_entry *entry = archive_entry_new();
    for (fs::path folder = fs::path(file.path).parent_path(); !folder.empty(); folder = folder.parent_path())
      if (folders.insert(folder.string() + "/").second) {
        archive_entry_clear(entry);
        archive_entry_set_pathname(entry, (folder.string() + "/").c_str());
        archive_entry_set_filetype(entry, AE_IFDIR);
        archive_entry_set_perm(entry, 0755);
        archive_write_header(writer, entry);
      }
    archive_entry_clear(entry);
    archive_entry_set_pathname(entry, file.path.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(file.text.size()));
    ASSERT_EQ(archive_write_header(writer, entry), ARCHIVE_OK);
    archive_write_data(writer, file.text.data(), file.text.size());
    archive_entry_free(entry);
  }
  ASSERT_EQ(archive_write_close(writer), ARCHIVE_OK);
  archive_write_free(writer);
}

/// Writes `tree` under `root`; with `stripTop`, without the leading aclImdb/.
void writeTree(const fs::path &root, const Tree &tree, bool stripTop = false) {
  for (const File &file : tree) {
    fs::path path = stripTop ? fs::path(file.path).lexically_relative("aclImdb") : fs::path(file.path);
    fs::create_directories((root / path).parent_path());
    std::ofstream(root / path, std::ios::binary) << file.text;
  }
}

std::string readBytes(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void expectSameData(const ImdbDataset &a, const ImdbDataset &b) {
  EXPECT_EQ(a.maxlen, b.maxlen);
  EXPECT_EQ(a.vocab, b.vocab);
  for (auto split : {&ImdbDataset::train, &ImdbDataset::test}) {
    EXPECT_EQ((a.*split).count, (b.*split).count);
    EXPECT_EQ((a.*split).tokens, (b.*split).tokens);
    EXPECT_EQ((a.*split).labels, (b.*split).labels);
  }
}

/// The words of review `row` of `split`, padding left out.
std::vector<std::string> decode(const ImdbDataset &data, const TokenSplit &split, int64_t row) {
  std::vector<std::string> words;
  for (int64_t i = 0; i < data.maxlen; ++i)
    if (int32_t id = split.tokens[static_cast<size_t>(row * data.maxlen + i)])
      words.push_back(data.vocab[static_cast<size_t>(id)]);
  return words;
}

class ImdbTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) /
          ("rnnc-imdb-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
           std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  /// Loads `location`, expecting success.
  ImdbDataset load(const fs::path &location, const ImdbOptions &options) {
    ImdbDataset data;
    std::string error;
    EXPECT_TRUE(loadImdb(location.string(), options, data, error)) << error;
    return data;
  }

  /// Loads `location`, expecting failure; returns the message.
  std::string loadError(const fs::path &location, const ImdbOptions &options = {}) {
    ImdbDataset data;
    std::string error;
    EXPECT_FALSE(loadImdb(location.string(), options, data, error));
    return error;
  }

  fs::path dir;
};

TEST_F(ImdbTest, VocabularyFromTrainByFrequencyThenAlphabet) {
  writeTarball(dir / "small.tar.gz", smallTree());
  ImdbOptions options;
  options.maxlen = 4;
  ImdbDataset data = load(dir / "small.tar.gz", options);
  EXPECT_EQ(data.vocab, std::vector<std::string>({"<pad>", "<unk>", "bad", "great", "it", "movie", "a", "acting",
                                                  "and", "boring", "didn't", "don't", "film", "i", "like", "loved",
                                                  "miss", "plot"}));
  EXPECT_EQ(data.source, fs::absolute(dir / "small.tar.gz").lexically_normal().string());
  EXPECT_FALSE(data.fromCache);
  // Sorted by (label, file name): neg 0_2, neg 1_1, pos 0_9, pos 1_8.
  EXPECT_EQ(data.train.count, 4);
  EXPECT_EQ(data.train.labels, std::vector<int32_t>({0, 0, 1, 1}));
  EXPECT_EQ(std::vector<int32_t>(data.train.tokens.begin(), data.train.tokens.begin() + 4),
            std::vector<int32_t>({2, 5, 2, 17})); // bad movie bad plot
  // test/pos/0_10: "great a masterpiece", masterpiece only in test -> <unk>.
  EXPECT_EQ(data.test.count, 2);
  EXPECT_EQ(data.test.labels, std::vector<int32_t>({0, 1}));
  EXPECT_EQ(std::vector<int32_t>(data.test.tokens.begin() + 4, data.test.tokens.end()),
            std::vector<int32_t>({0, 3, 6, 1}));
}

TEST(ImdbEncodeTest, LeftAlignedKeepsThePaddedLayoutsWordsAndCountsThem) {
  const std::unordered_map<std::string, int32_t> ids = {{"a", 2}, {"b", 3}, {"c", 4}};
  std::vector<int32_t> row;
  EXPECT_EQ(encodeLeftAligned({"a", "x", "b"}, ids, 5, row), 3);
  EXPECT_EQ(row, std::vector<int32_t>({2, 1, 3, 0, 0}));
  EXPECT_EQ(encodeLeftAligned({"a", "b", "c", "a", "b"}, ids, 3, row), 3); // the last 3, as encode
  EXPECT_EQ(row, std::vector<int32_t>({4, 2, 3}));
  EXPECT_EQ(encodeLeftAligned({"c", "x", "a", "b"}, ids, 6, row), 4);
  EXPECT_EQ(row, std::vector<int32_t>({4, 1, 2, 3, 0, 0}));
  EXPECT_EQ(encode({"a", "b", "c", "a", "b"}, ids, 3), std::vector<int32_t>({4, 2, 3})); // Keras: the last 3
  EXPECT_EQ(encodeLeftAligned({}, ids, 4, row), 1) << "an empty review runs one <pad> step";
  EXPECT_EQ(row, std::vector<int32_t>({0, 0, 0, 0}));
  EXPECT_EQ(leftAlignedLengths({2, 1, 3, 0, 0, /**/ 2, 3, 4, 4, 4, /**/ 0, 0, 0, 0, 0, /**/ 5, 0, 0, 0, 0}, 5),
            std::vector<int32_t>({3, 5, 1, 1}));
}

TEST_F(ImdbTest, LeftAlignedLoadHasLengthsAndACacheOfItsOwn) {
  writeTarball(dir / "small.tar.gz", smallTree());
  ImdbOptions options;
  options.maxlen = 5;
  options.cacheDir = (dir / "cache").string();
  const ImdbDataset padded = load(dir / "small.tar.gz", options);
  options.leftAligned = true;
  const ImdbDataset left = load(dir / "small.tar.gz", options);
  EXPECT_FALSE(left.fromCache) << "a left-aligned load is not the padded one's cache";
  EXPECT_EQ(left.vocab, padded.vocab);
  EXPECT_TRUE(padded.train.lengths.empty());
  for (auto split : {&ImdbDataset::train, &ImdbDataset::test}) {
    const TokenSplit &p = padded.*split, &l = left.*split;
    ASSERT_EQ(l.lengths.size(), static_cast<size_t>(l.count));
    EXPECT_EQ(l.labels, p.labels);
    for (int64_t r = 0; r < l.count; ++r) {
      const int32_t n = l.lengths[static_cast<size_t>(r)];
      const auto row = l.tokens.begin() + r * 5;
      // Step 0 is the first word; nothing but padding after the length.
      EXPECT_TRUE(n >= 1 && n <= 5);
      EXPECT_TRUE(std::all_of(row, row + n, [](int32_t id) { return id != 0; }));
      EXPECT_TRUE(std::all_of(row + n, row + 5, [](int32_t id) { return id == 0; }));
      // Every review is the padded row's words moved to the front: one
      // that is cut keeps its last 5 words, as the padded layout does.
      const auto padRow = p.tokens.begin() + r * 5;
      EXPECT_TRUE(std::equal(row, row + n, padRow + (5 - n)));
    }
  }
  // train/neg/0_2 "Bad movie. Bad plot." (4 words); train/pos/0_9 is cut to its last 5.
  EXPECT_EQ(left.train.lengths, std::vector<int32_t>({4, 5, 5, 5}));
  EXPECT_EQ(std::vector<int32_t>(left.train.tokens.begin() + 10, left.train.tokens.begin() + 15),
            std::vector<int32_t>({5, 3, 7, 15, 4})); // movie great acting loved it
  // Both layouts are cached side by side, and each is served from its cache.
  const ImdbDataset cached = load(dir / "small.tar.gz", options);
  EXPECT_TRUE(cached.fromCache);
  expectSameData(cached, left);
  EXPECT_EQ(cached.train.lengths, left.train.lengths);
  EXPECT_EQ(cached.test.lengths, left.test.lengths);
  options.leftAligned = false;
  const ImdbDataset paddedAgain = load(dir / "small.tar.gz", options);
  EXPECT_TRUE(paddedAgain.fromCache);
  expectSameData(paddedAgain, padded);
  EXPECT_TRUE(paddedAgain.train.lengths.empty());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "cache"), fs::directory_iterator{}), 2);
}

TEST_F(ImdbTest, VocabularyIsCutToTheRequestedSize) {
  writeTarball(dir / "small.tar.gz", smallTree());
  ImdbOptions options;
  options.vocab = 6;
  options.maxlen = 8;
  ImdbDataset data = load(dir / "small.tar.gz", options);
  EXPECT_EQ(data.vocab, std::vector<std::string>({"<pad>", "<unk>", "bad", "great", "it", "movie"}));
  EXPECT_TRUE(std::all_of(data.train.tokens.begin(), data.train.tokens.end(), [](int32_t id) { return id < 6; }));
}

TEST_F(ImdbTest, DirectoryAndTarballGiveTheSameData) {
  writeTarball(dir / "small.tar.gz", smallTree());
  writeTree(dir / "extracted", smallTree());
  writeTree(dir / "bare", smallTree(), /*stripTop=*/true);
  ImdbOptions options;
  options.maxlen = 6;
  ImdbDataset fromTarball = load(dir / "small.tar.gz", options);
  expectSameData(load(dir / "extracted", options), fromTarball);
  expectSameData(load(dir / "extracted" / "aclImdb", options), fromTarball);
  expectSameData(load(dir / "bare", options), fromTarball);
}

TEST_F(ImdbTest, LimitKeepsBothLabelsAndIsDeterministic) {
  writeTarball(dir / "gen.tar.gz", generatedTree(20));
  ImdbOptions options;
  options.limit = 5;
  options.maxlen = 3;
  options.seed = 7;
  ImdbDataset data = load(dir / "gen.tar.gz", options);
  for (const TokenSplit *split : {&data.train, &data.test}) {
    EXPECT_EQ(split->count, 5);
    EXPECT_EQ(std::set<int32_t>(split->labels.begin(), split->labels.end()), std::set<int32_t>({0, 1}));
  }
  expectSameData(load(dir / "gen.tar.gz", options), data);
  options.seed = 8;
  EXPECT_NE(load(dir / "gen.tar.gz", options).train.tokens, data.train.tokens);
}

TEST_F(ImdbTest, LimitBuildsTheVocabularyFromTheChosenTrainReviews) {
  writeTarball(dir / "gen.tar.gz", generatedTree(20));
  ImdbOptions options;
  options.limit = 6;
  options.maxlen = 3;
  ImdbDataset data = load(dir / "gen.tar.gz", options);
  EXPECT_EQ(data.vocab.size(), 2u + 3u + 6u); // common, neg, pos and one unique word per review
  for (int64_t row = 0; row < data.train.count; ++row) {
    std::vector<std::string> words = decode(data, data.train, row);
    ASSERT_EQ(words.size(), 3u);
    EXPECT_EQ(words[2].substr(0, 6), "utrain");
  }
  for (int64_t row = 0; row < data.test.count; ++row)
    EXPECT_EQ(decode(data, data.test, row).back(), "<unk>"); // the test-only word
}

TEST_F(ImdbTest, TinyLimitStillHasBothLabels) {
  writeTarball(dir / "skewed.tar.gz", generatedTree(1, 30));
  ImdbOptions options;
  options.limit = 2;
  options.maxlen = 2;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    options.seed = seed;
    ImdbDataset data = load(dir / "skewed.tar.gz", options);
    EXPECT_EQ(std::set<int32_t>(data.train.labels.begin(), data.train.labels.end()), std::set<int32_t>({0, 1}));
  }
}

TEST_F(ImdbTest, CacheIsReusedAndRebuiltWhenDamaged) {
  writeTarball(dir / "small.tar.gz", smallTree());
  ImdbOptions options;
  options.maxlen = 5;
  options.cacheDir = (dir / "cache").string();
  ImdbDataset first = load(dir / "small.tar.gz", options);
  EXPECT_FALSE(first.fromCache);
  ImdbDataset second = load(dir / "small.tar.gz", options);
  EXPECT_TRUE(second.fromCache);
  expectSameData(second, first);
  EXPECT_EQ(second.source, first.source);

  std::vector<fs::path> files(fs::directory_iterator(dir / "cache"), fs::directory_iterator{});
  ASSERT_EQ(files.size(), 1u);
  uintmax_t size = fs::file_size(files[0]);
  fs::resize_file(files[0], size / 2);
  ImdbDataset rebuilt = load(dir / "small.tar.gz", options);
  EXPECT_FALSE(rebuilt.fromCache);
  expectSameData(rebuilt, first);
  EXPECT_EQ(fs::file_size(files[0]), size);

  std::string bytes = readBytes(files[0]);
  bytes[bytes.size() / 2] ^= 0x40;
  std::ofstream(files[0], std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_FALSE(load(dir / "small.tar.gz", options).fromCache);
  EXPECT_TRUE(load(dir / "small.tar.gz", options).fromCache);
}

TEST_F(ImdbTest, CacheCutAnywhereIsNeverTrusted) {
  writeTarball(dir / "small.tar.gz", smallTree());
  ImdbOptions options;
  options.maxlen = 3;
  options.cacheDir = (dir / "cache").string();
  ImdbDataset first = load(dir / "small.tar.gz", options);
  std::vector<fs::path> files(fs::directory_iterator(dir / "cache"), fs::directory_iterator{});
  ASSERT_EQ(files.size(), 1u);
  std::string whole = readBytes(files[0]);
  for (size_t cut = 0; cut < whole.size(); cut += 7) {
    std::ofstream(files[0], std::ios::binary | std::ios::trunc) << whole.substr(0, cut);
    ImdbDataset data = load(dir / "small.tar.gz", options);
    ASSERT_FALSE(data.fromCache) << "cut at " << cut;
    expectSameData(data, first);
  }
}

TEST_F(ImdbTest, UnwritableCacheDoesNotFailTheLoad) {
  writeTarball(dir / "small.tar.gz", smallTree());
  std::ofstream(dir / "not-a-folder") << "x";
  ImdbOptions options;
  options.cacheDir = (dir / "not-a-folder").string();
  std::vector<std::string> messages;
  ImdbDataset data;
  std::string error;
  ASSERT_TRUE(loadImdb((dir / "small.tar.gz").string(), options, data, error,
                       [&](const std::string &message) { messages.push_back(message); }))
      << error;
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.back().find("cache not written"), std::string::npos) << messages.back();
}

TEST_F(ImdbTest, CacheKeyCoversTheOptions) {
  writeTarball(dir / "small.tar.gz", smallTree());
  ImdbOptions options;
  options.cacheDir = (dir / "cache").string();
  load(dir / "small.tar.gz", options);
  options.maxlen = 7;
  ImdbDataset other = load(dir / "small.tar.gz", options);
  EXPECT_FALSE(other.fromCache);
  EXPECT_EQ(other.maxlen, 7);
  EXPECT_TRUE(load(dir / "small.tar.gz", options).fromCache);
}

TEST_F(ImdbTest, ProgressIsShortAndInfrequent) {
  writeTarball(dir / "gen.tar.gz", generatedTree(50));
  ImdbOptions options;
  options.cacheDir = (dir / "cache").string();
  std::vector<std::string> messages;
  ImdbDataset data;
  std::string error;
  ASSERT_TRUE(loadImdb((dir / "gen.tar.gz").string(), options, data, error,
                       [&](const std::string &message) { messages.push_back(message); }))
      << error;
  EXPECT_GE(messages.size(), 3u);
  EXPECT_LE(messages.size(), 10u);
  EXPECT_NE(messages.front().find("reading gen.tar.gz"), std::string::npos) << messages.front();
}

TEST_F(ImdbTest, MissingPathIsAnError) {
  std::string error = loadError(dir / "nowhere.tar.gz");
  EXPECT_NE(error.find("nowhere.tar.gz"), std::string::npos) << error;
  EXPECT_NE(error.find("no such file"), std::string::npos) << error;
}

TEST_F(ImdbTest, TextFileIsNotATarball) {
  std::ofstream(dir / "fake.tar.gz") << "this is plain text, not an archive\n";
  std::string error = loadError(dir / "fake.tar.gz");
  EXPECT_NE(error.find((dir / "fake.tar.gz").string() + ": not a .tar.gz archive (libarchive: "), std::string::npos)
      << error;
}

TEST_F(ImdbTest, TruncatedTarballNamesTheEntry) {
  Tree tree = generatedTree(30);
  for (size_t i = 0; i < tree.size(); ++i) // incompressible text, so the cut lands inside the reviews
    for (uint32_t x = static_cast<uint32_t>(i) * 2654435761u + 1, k = 0; k < 400; ++k, x = x * 1103515245u + 12345u)
      tree[i].text += " w" + std::to_string(x >> 8);
  writeTarball(dir / "whole.tar.gz", tree);
  std::string bytes = readBytes(dir / "whole.tar.gz");
  std::ofstream(dir / "cut.tar.gz", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string error = loadError(dir / "cut.tar.gz");
  EXPECT_NE(error.find((dir / "cut.tar.gz").string() + ": corrupt or truncated archive "), std::string::npos)
      << error;
  EXPECT_NE(error.find("'aclImdb/"), std::string::npos) << error;
  EXPECT_NE(error.find("libarchive: "), std::string::npos) << error;
}

TEST_F(ImdbTest, EmptyOrReviewlessInputsAreErrors) {
  std::ofstream(dir / "empty.tar.gz") << "";
  EXPECT_NE(loadError(dir / "empty.tar.gz").find("empty.tar.gz"), std::string::npos);
  writeTarball(dir / "noreviews.tar.gz", {{"aclImdb/README", "nothing here"}});
  EXPECT_NE(loadError(dir / "noreviews.tar.gz").find("noreviews.tar.gz: no reviews found"), std::string::npos);
  fs::create_directories(dir / "emptydir");
  EXPECT_NE(loadError(dir / "emptydir").find("emptydir: missing folder train/neg"), std::string::npos);
}

TEST_F(ImdbTest, MissingSplitOrLabelIsAnError) {
  Tree trainOnly;
  for (const File &file : smallTree())
    if (file.path.find("/test/") == std::string::npos)
      trainOnly.push_back(file);
  writeTarball(dir / "trainonly.tar.gz", trainOnly);
  EXPECT_NE(loadError(dir / "trainonly.tar.gz").find("the test split is missing or empty"), std::string::npos);
  Tree noNegative;
  for (const File &file : smallTree())
    if (file.path.find("train/neg") == std::string::npos)
      noNegative.push_back(file);
  writeTarball(dir / "noneg.tar.gz", noNegative);
  EXPECT_NE(loadError(dir / "noneg.tar.gz").find("no train/neg reviews"), std::string::npos);
}

TEST_F(ImdbTest, BadOptionsAreErrors) {
  writeTarball(dir / "small.tar.gz", smallTree());
  ImdbOptions options;
  options.vocab = 1;
  EXPECT_NE(loadError(dir / "small.tar.gz", options).find("vocab"), std::string::npos);
  options = {};
  options.maxlen = 0;
  EXPECT_NE(loadError(dir / "small.tar.gz", options).find("maxlen"), std::string::npos);
  options = {};
  options.limit = -1;
  EXPECT_NE(loadError(dir / "small.tar.gz", options).find("limit"), std::string::npos);
}

TEST_F(ImdbTest, SharedLabeledTarballWithLimit) {
  fs::path tarball = fs::path(RNNC_SHARED_DATA_DIR) / "aclImdb_v1_labeled.tar.gz";
  if (!fs::exists(tarball))
    GTEST_SKIP() << tarball << " is not there";
  ImdbOptions options;
  options.limit = 200;
  options.maxlen = 64;
  auto start = std::chrono::steady_clock::now();
  ImdbDataset data = load(tarball, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const TokenSplit *split : {&data.train, &data.test}) {
    EXPECT_EQ(split->count, 200);
    EXPECT_EQ(split->tokens.size(), 200u * 64u);
    EXPECT_EQ(std::set<int32_t>(split->labels.begin(), split->labels.end()), std::set<int32_t>({0, 1}));
  }
  EXPECT_GT(data.vocab.size(), 1000u);
  EXPECT_LE(data.vocab.size(), 20000u);
  EXPECT_LT(seconds, 20.0);
}

} // namespace
} // namespace rnnc::data
