//===- Imdb.h - The IMDB movie review data set, tokenized -----*- C++ -*-===//
//
// Loads the labeled part of the Large Movie Review Dataset (Maas et al., 2011)
// as padded token ids for a sentiment classifier:
//
//   aclImdb/train/pos/ID_RATING.txt    label 1      (also train/neg: label 0)
//   aclImdb/test/pos/ID_RATING.txt     label 1      (also test/neg:  label 0)
//
// from the tarball (read in place with libarchive) or from the extracted
// folder. Anything else in the tree (README, imdb.vocab, train/unsup/, the
// *.feat bag-of-words files) is ignored. The tokenized result is cached on
// disk, so only the first load of a configuration pays for tokenizing.
//
// Errors in the input or in the options are user errors: loadImdb returns
// false and sets `error` to a message that names the file.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rnnc::data {

/// One split: `count` reviews, each `maxlen` token ids (row-major), and one
/// label per review.
struct TokenSplit {
  int64_t count = 0;
  std::vector<int32_t> tokens; // count * maxlen ids
  std::vector<int32_t> labels; // 0 negative, 1 positive
  /// Left-aligned loads only: each review's length in [1, maxlen] (the
  /// tokens kept; an empty review is one <pad>).
  std::vector<int32_t> lengths;
};

struct ImdbDataset {
  int64_t maxlen = 0;
  /// id -> word; 0 is "<pad>", 1 is "<unk>"; size <= the requested vocab.
  std::vector<std::string> vocab;
  TokenSplit train, test;
  /// The absolute path the data set was read from.
  std::string source;
  /// Whether this load was served from the cache.
  bool fromCache = false;
};

struct ImdbOptions {
  /// Vocabulary size, <pad> and <unk> included (at least 2).
  int64_t vocab = 20000;
  /// Tokens per review after padding or truncation (at least 1).
  int64_t maxlen = 256;
  /// 0: every review; else at most `limit` reviews per split, chosen by a
  /// shuffle seeded with `seed`, with both labels kept when limit >= 2.
  int64_t limit = 0;
  uint64_t seed = 0;
  /// Directory of the cache files; "" disables the cache.
  std::string cacheDir;
  /// For a model that takes the lengths: step 0 is the first word, a long
  /// review keeps its FIRST maxlen words (as PyTorch's packed sequences),
  /// padding follows, and each split has its lengths. Otherwise Keras'
  /// layout (encode()).
  bool leftAligned = false;
};

/// Splits a review into words: 1) lowercase (ASCII), 2) "<br />", "<br/>"
/// and "<br>" become spaces, 3) split on whitespace and ASCII punctuation,
/// keeping apostrophes inside words ("don't") but not around them, 4) drop
/// empty tokens. Bytes >= 0x80 (UTF-8) are word characters. Text that is
/// not valid UTF-8 is first repaired: each invalid byte is read as Latin-1
/// ("caf\xE9" is "café"), so every word is valid UTF-8 (io::repairUtf8).
/// A review over 1 MiB is refused with a message naming it and the limit.
std::vector<std::string> tokenize(const std::string &text);

/// The ids of `words` (unknown words -> 1), padded or truncated to `maxlen`
/// the way Keras' pad_sequences does by default: keep the LAST maxlen
/// tokens, pad with 0 at the FRONT.
std::vector<int32_t> encode(const std::vector<std::string> &words,
                            const std::unordered_map<std::string, int32_t> &ids,
                            int64_t maxlen);

/// The left-aligned layout: the ids of the same words as encode() keeps (the
/// LAST maxlen: a review's verdict is mostly at its end, and a model with
/// lengths then sees exactly the text of the padded one), from step 0, then 0s.
/// Returns the length (the ids kept, at least 1: an empty review is one
/// <pad>, since a sequence runs for at least one step).
int32_t encodeLeftAligned(const std::vector<std::string> &words,
                          const std::unordered_map<std::string, int32_t> &ids, int64_t maxlen,
                          std::vector<int32_t> &row);

/// The lengths of left-aligned rows: each row's ids before its first 0
/// (<pad>, which no word has), at least 1.
std::vector<int32_t> leftAlignedLengths(const std::vector<int32_t> &tokens, int64_t maxlen);

/// Loads the labeled IMDB set from `location`: a .tar.gz (the official
/// aclImdb_v1.tar.gz or aclImdb_v1_labeled.tar.gz), or an extracted directory
/// holding aclImdb/ or the train/ and test/ folders themselves. Steps:
///   1) check the options and that `location` exists;
///   2) with a cacheDir, return the cached result if its key matches: FNV-1a
///      64 of the format version, the absolute source path, its size and
///      mtime, vocab, maxlen, limit, seed and (only when set) leftAligned (a
///      damaged cache file is ignored; a left-aligned one has the same layout,
///      its lengths are recomputed from the tokens);
///   3) read every review of train|test/pos|neg/ID_RATING.txt;
///   4) per split, sort by (label, file name); with limit > 0, shuffle with
///      `seed` and keep the first `limit`;
///   5) build the vocabulary from the train split only: the (vocab - 2) most
///      frequent words, ties broken alphabetically, after <pad> and <unk>;
///   6) tokenize and encode both splits (labels: pos 1, neg 0; lengths when
///      left-aligned);
///   7) write the cache atomically (temporary file, then rename).
/// `progress` (may be empty) receives a few short messages (at most ~10).
bool loadImdb(const std::string &location, const ImdbOptions &options,
              ImdbDataset &out, std::string &error,
              const std::function<void(const std::string &)> &progress = {});

/// How to obtain the data set, for error messages: the official download and
/// where to put it.
std::string imdbHowToObtain();

} // namespace rnnc::data
