//===- Imdb.cpp - The IMDB movie review data set, tokenized ---------------===//
#include "runtime/data/Imdb.h"

#include "runtime/support/Cancel.h"
#include "runtime/support/Checksum.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/Text.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <tuple>
#include <unistd.h>

namespace rnnc::data {
namespace {

namespace fs = std::filesystem;
using Progress = std::function<void(const std::string &)>;
using WordIds = std::unordered_map<std::string, int32_t>;

/// Bump when the cache layout or the tokenizer changes.
constexpr int kCacheVersion = 2; // 2: invalid UTF-8 bytes read as Latin-1
/// The largest review read (the longest real one is about 14 KB): a bigger
/// entry is refused, never allocated.
constexpr uint64_t kMaxReviewBytes = 1u << 20;
constexpr char kCacheMagic[8] = {'R', 'N', 'N', 'C', 'I', 'M', 'D', 'B'};
/// Progress messages while reading: one per fifth of the input.
constexpr int64_t kReadingSteps = 5;
constexpr const char *kSplitNames[] = {"train", "test"};
constexpr const char *kLabelNames[] = {"neg", "pos"};

/// One review as read from the data set, before tokenizing.
struct RawReview {
  int32_t label = 0;
  std::string name; // file name, e.g. "123_8.txt"
  std::string text;
};
/// The reviews of the train split (0) and of the test split (1).
using Reviews = std::array<std::vector<RawReview>, 2>;

bool fail(std::string &error, const std::string &message) {
  error = message;
  return false;
}

void say(const Progress &progress, const std::string &message) {
  if (progress)
    progress(message);
}

//===--- Tokenizing -------------------------------------------------------===//

char toLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool isWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/// The length of the HTML line break at text[pos] ("<br />", "<br/>" or
/// "<br>", in any case), or 0.
size_t lineBreakLength(const std::string &text, size_t pos) {
  if (text[pos] != '<')
    return 0;
  for (const char *form : {"<br />", "<br/>", "<br>"}) {
    size_t length = std::strlen(form);
    if (text.size() - pos >= length &&
        std::equal(form, form + length, text.begin() + pos, [](char a, char b) { return a == toLower(b); }))
      return length;
  }
  return 0;
}

/// Appends `word` less its leading and trailing apostrophes, unless nothing
/// is left, and clears it.
void flushWord(std::string &word, std::vector<std::string> &words) {
  size_t begin = word.find_first_not_of('\'');
  if (begin != std::string::npos)
    words.push_back(word.substr(begin, word.find_last_not_of('\'') - begin + 1));
  word.clear();
}

//===--- Reading the reviews ----------------------------------------------===//

/// Whether `name` has the form ID_RATING.txt (digits, '_', digits, ".txt").
bool isReviewFileName(const std::string &name) {
  auto digits = [&](size_t begin, size_t end) {
    auto isDigit = [](char c) { return c >= '0' && c <= '9'; };
    return begin < end && std::all_of(name.begin() + begin, name.begin() + end, isDigit);
  };
  size_t underscore = name.find('_');
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".txt") == 0 && underscore != std::string::npos &&
         digits(0, underscore) && digits(underscore + 1, name.size() - 4);
}

/// Parses ".../SPLIT/LABEL/ID_RATING.txt" (SPLIT train or test, LABEL pos or
/// neg) into the split's index and the review's label and name; false for
/// any other path (README, imdb.vocab, train/unsup/, *.feat, ...).
bool parseReviewPath(const std::string &path, int &split, RawReview &review) {
  fs::path file(path);
  std::string name = file.filename().string();
  std::string label = file.parent_path().filename().string();
  std::string splitName = file.parent_path().parent_path().filename().string();
  if (!isReviewFileName(name) || (label != "pos" && label != "neg") || (splitName != "train" && splitName != "test"))
    return false;
  split = splitName == "train" ? 0 : 1;
  review.label = label == "pos" ? 1 : 0;
  review.name = name;
  return true;
}

/// Sends a reading message each time `done` passes another of
/// kReadingSteps equal parts of `total`.
struct ReadingReporter {
  const Progress &progress;
  int64_t total;
  int64_t lastStep = 0;

  void update(int64_t done, const std::function<std::string()> &message) {
    if (!progress || total <= 0)
      return;
    int64_t step = std::min(done, total) * kReadingSteps / total;
    if (step > lastStep) {
      lastStep = step;
      progress(message());
    }
  }
};

bool readFile(const fs::path &path, std::string &bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::streamoff size = in.tellg();
  if (!in || size < 0)
    return false;
  bytes.resize(static_cast<size_t>(size));
  in.seekg(0);
  in.read(bytes.data(), size);
  return static_cast<std::streamoff>(in.gcount()) == size;
}

struct ArchiveDeleter {
  void operator()(archive *reader) const { archive_read_free(reader); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveDeleter>;

std::string libarchiveMessage(archive *reader) {
  const char *message = archive_error_string(reader);
  return std::string("(libarchive: ") + (message ? message : "unknown error") + ")";
}

/// Reads the data of the current entry into `text`; false on an error.
bool readEntryData(archive *reader, std::string &text, bool &tooLarge) {
  char buffer[1 << 16];
  tooLarge = false;
  while (true) {
    la_ssize_t length = archive_read_data(reader, buffer, sizeof buffer);
    if (length < 0)
      return false;
    if (length == 0)
      return true;
    if (text.size() + static_cast<size_t>(length) > kMaxReviewBytes) {
      tooLarge = true;
      return false;
    }
    text.append(buffer, static_cast<size_t>(length));
  }
}

/// Reads the reviews in the tarball at `path`: 1) open it with every
/// compression filter and the tar format, 2) stream the entries, keeping the
/// regular files whose path is a review's, 3) stop at the end of the archive
/// or at the first error (the first header failing means: no tarball).
bool readArchive(const std::string &path, Reviews &reviews, std::string &error, const Progress &progress) {
  ArchiveReader reader(archive_read_new());
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_tar(reader.get());
  auto notArchive = [&] { return fail(error, path + ": not a .tar.gz archive " + libarchiveMessage(reader.get())); };
  if (archive_read_open_filename(reader.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    return notArchive();
  std::error_code ec;
  ReadingReporter reporter{progress, static_cast<int64_t>(fs::file_size(path, ec))};
  std::string entryPath, fileName = fs::path(path).filename().string();
  int64_t count = 0;
  for (bool first = true;; first = false) {
    archive_entry *entry = nullptr;
    int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF)
      return true;
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN)
      return first ? notArchive()
                   : fail(error, path + ": corrupt or truncated archive after entry '" + entryPath + "' " +
                                     libarchiveMessage(reader.get()));
    const char *name = archive_entry_pathname(entry);
    entryPath = name ? name : "";
    RawReview review;
    int split = 0;
    if (io::cancelRequested())
      return fail(error, path + ": interrupted while reading the reviews");
    if (archive_entry_filetype(entry) != AE_IFREG || !parseReviewPath(entryPath, split, review))
      continue;
    bool tooLarge = false;
    if (archive_entry_size_is_set(entry) && static_cast<uint64_t>(archive_entry_size(entry)) > kMaxReviewBytes)
      tooLarge = true;
    else if (!readEntryData(reader.get(), review.text, tooLarge) && !tooLarge)
      return fail(error, path + ": corrupt or truncated archive while reading '" + io::escapeForMessage(entryPath) +
                             "' " + libarchiveMessage(reader.get()));
    if (tooLarge)
      return fail(error, path + ": the review '" + io::escapeForMessage(entryPath) + "' is larger than the limit of " +
                             io::formatBytes(kMaxReviewBytes) + " for one review");
    reviews[split].push_back(std::move(review));
    ++count;
    reporter.update(archive_filter_bytes(reader.get(), -1), [&] {
      return "reading " + fileName + ": " + std::to_string(count) + " reviews (" +
             std::to_string(reporter.lastStep * 100 / kReadingSteps) + "% of the file)";
    });
  }
}

/// The folder holding train/ and test/ in the extracted directory `dir`:
/// dir/aclImdb if there is one, else dir itself.
fs::path reviewRoot(const std::string &dir) {
  std::error_code ec;
  return fs::is_directory(fs::path(dir) / "aclImdb", ec) ? fs::path(dir) / "aclImdb" : fs::path(dir);
}

/// Reads the reviews of the extracted directory `dir`: 1) list the four
/// folders train|test/pos|neg (each must exist), keeping the review files,
/// 2) read every file.
bool readDirectory(const std::string &dir, Reviews &reviews, std::string &error, const Progress &progress) {
  fs::path root = reviewRoot(dir);
  std::vector<std::tuple<int, RawReview, fs::path>> files;
  for (int split = 0; split < 2; ++split)
    for (int32_t label = 0; label < 2; ++label) {
      fs::path folder = root / kSplitNames[split] / kLabelNames[label];
      std::error_code ec;
      if (!fs::is_directory(folder, ec))
        return fail(error, dir + ": missing folder " + kSplitNames[split] + "/" + kLabelNames[label] +
                               " (expected aclImdb/, or train/ and test/, with pos/ and neg/ inside)");
      for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && isReviewFileName(it->path().filename().string()))
          files.emplace_back(split, RawReview{label, it->path().filename().string(), ""}, it->path());
      if (ec)
        return fail(error, folder.string() + ": cannot list the folder (" + ec.message() + ")");
    }
  ReadingReporter reporter{progress, static_cast<int64_t>(files.size())};
  for (size_t i = 0; i < files.size(); ++i) {
    auto &[split, review, file] = files[i];
    if (io::cancelRequested())
      return fail(error, dir + ": interrupted while reading the reviews");
    std::error_code sizeError;
    if (fs::file_size(file, sizeError) > kMaxReviewBytes && !sizeError)
      return fail(error, file.string() + ": the review is larger than the limit of " +
                             io::formatBytes(kMaxReviewBytes) + " for one review");
    if (!readFile(file, review.text))
      return fail(error, file.string() + ": cannot read the review (" + std::strerror(errno) + ")");
    reviews[split].push_back(std::move(review));
    reporter.update(static_cast<int64_t>(i + 1), [&] {
      return "reading " + root.filename().string() + ": " + std::to_string(i + 1) + "/" +
             std::to_string(files.size()) + " reviews";
    });
  }
  return true;
}

/// Checks that the data set has reviews, and both labels in both splits.
bool checkSplits(const std::string &location, const Reviews &reviews, std::string &error) {
  if (reviews[0].empty() && reviews[1].empty())
    return fail(error, location + ": no reviews found (expected train/ and test/ folders, optionally under "
                                  "aclImdb/, with pos/ and neg/ folders of ID_RATING.txt files)");
  for (int split = 0; split < 2; ++split) {
    if (reviews[split].empty())
      return fail(error, location + ": the " + kSplitNames[split] + " split is missing or empty");
    for (int32_t label = 0; label < 2; ++label)
      if (std::none_of(reviews[split].begin(), reviews[split].end(),
                       [&](const RawReview &review) { return review.label == label; }))
        return fail(error, location + ": no " + kSplitNames[split] + "/" + kLabelNames[label] + " reviews found");
  }
  return true;
}

//===--- From reviews to token ids ----------------------------------------===//

/// Puts one split in its final order: 1) sort by (label, file name), 2) with
/// limit > 0, shuffle (Fisher-Yates over std::mt19937_64, the same with every
/// standard library) and keep the first `limit`, 3) if what is kept lacks a
/// label, swap its last review for the first left out with that label.
void orderSplit(std::vector<RawReview> &reviews, int64_t limit, uint64_t seed) {
  std::sort(reviews.begin(), reviews.end(), [](const RawReview &a, const RawReview &b) {
    return std::tie(a.label, a.name) < std::tie(b.label, b.name);
  });
  if (limit <= 0)
    return;
  std::mt19937_64 random(seed);
  for (size_t i = reviews.size(); i > 1; --i)
    std::swap(reviews[i - 1], reviews[random() % i]);
  size_t keep = std::min(static_cast<size_t>(limit), reviews.size());
  auto otherLabel = [&](const RawReview &review) { return review.label != reviews[0].label; };
  if (keep >= 2 && std::none_of(reviews.begin(), reviews.begin() + keep, otherLabel)) {
    auto other = std::find_if(reviews.begin() + keep, reviews.end(), otherLabel);
    if (other != reviews.end())
      std::swap(reviews[keep - 1], *other);
  }
  reviews.resize(keep);
}

/// <pad>, <unk>, then the (size - 2) most frequent words of `train`, ties
/// broken alphabetically.
std::vector<std::string> buildVocabulary(const std::vector<RawReview> &train, int64_t size) {
  std::unordered_map<std::string, int64_t> counts;
  for (const RawReview &review : train)
    for (std::string &word : tokenize(review.text))
      ++counts[std::move(word)];
  std::vector<std::pair<int64_t, std::string>> ranked; // (-count, word)
  ranked.reserve(counts.size());
  for (auto &[word, count] : counts)
    ranked.emplace_back(-count, word);
  size_t keep = std::min(ranked.size(), static_cast<size_t>(size - 2));
  std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end());
  std::vector<std::string> vocab = {"<pad>", "<unk>"};
  for (size_t i = 0; i < keep; ++i)
    vocab.push_back(std::move(ranked[i].second));
  return vocab;
}

TokenSplit encodeSplit(const std::vector<RawReview> &reviews, const WordIds &ids, int64_t maxlen, bool leftAligned) {
  TokenSplit split;
  split.count = static_cast<int64_t>(reviews.size());
  split.tokens.reserve(reviews.size() * static_cast<size_t>(maxlen));
  std::vector<int32_t> row;
  for (const RawReview &review : reviews) {
    if (leftAligned)
      split.lengths.push_back(encodeLeftAligned(tokenize(review.text), ids, maxlen, row));
    else
      row = encode(tokenize(review.text), ids, maxlen);
    split.tokens.insert(split.tokens.end(), row.begin(), row.end());
    split.labels.push_back(review.label);
  }
  return split;
}

/// Steps 4 to 6 of loadImdb: order and select the reviews, build the
/// vocabulary, encode both splits.
ImdbDataset buildDataset(Reviews &reviews, const ImdbOptions &options, const Progress &progress) {
  for (int split = 0; split < 2; ++split)
    orderSplit(reviews[split], options.limit, options.seed + static_cast<uint64_t>(split));
  say(progress, "building the vocabulary from " + std::to_string(reviews[0].size()) + " train reviews");
  ImdbDataset dataset;
  dataset.maxlen = options.maxlen;
  dataset.vocab = buildVocabulary(reviews[0], options.vocab);
  WordIds ids;
  for (size_t id = 0; id < dataset.vocab.size(); ++id)
    ids.emplace(dataset.vocab[id], static_cast<int32_t>(id));
  say(progress, "encoding " + std::to_string(reviews[0].size() + reviews[1].size()) + " reviews");
  dataset.train = encodeSplit(reviews[0], ids, options.maxlen, options.leftAligned);
  dataset.test = encodeSplit(reviews[1], ids, options.maxlen, options.leftAligned);
  return dataset;
}

//===--- The cache --------------------------------------------------------===//

/// The newest modification time of `source`; for a directory, also of the
/// four review folders, which change when reviews are added or removed.
int64_t sourceMtime(const std::string &source) {
  std::error_code ec;
  int64_t newest = fs::last_write_time(source, ec).time_since_epoch().count();
  if (fs::is_directory(source, ec))
    for (const char *split : kSplitNames)
      for (const char *label : kLabelNames)
        newest = std::max<int64_t>(
            newest, fs::last_write_time(reviewRoot(source) / split / label, ec).time_since_epoch().count());
  return newest;
}

/// Everything that changes the loaded data set, as text; its hash names the
/// cache file and the text itself is stored in it and compared on reading.
std::string cacheKeyText(const std::string &source, const ImdbOptions &options) {
  std::error_code ec;
  uintmax_t size = fs::is_regular_file(source, ec) ? fs::file_size(source, ec) : 0;
  return "rnnc imdb cache " + std::to_string(kCacheVersion) + "\nsource " + source + "\nsize " +
         std::to_string(size) + "\nmtime " + std::to_string(sourceMtime(source)) + "\nvocab " +
         std::to_string(options.vocab) + "\nmaxlen " + std::to_string(options.maxlen) + "\nlimit " +
         std::to_string(options.limit) + "\nseed " + std::to_string(options.seed) + "\n" +
         (options.leftAligned ? "align left, last words\n" : ""); // absent: the keys of earlier caches hold
}

std::string cachePath(const std::string &cacheDir, const std::string &keyText) {
  char hex[17];
  uint64_t key = io::fnv1a64(keyText.data(), keyText.size());
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key));
  return (fs::path(cacheDir) / ("imdb-" + std::string(hex) + ".bin")).string();
}

/// Appends the cache file's fields: integers in native byte order, strings
/// and arrays after their length.
struct CacheWriter {
  std::string bytes;

  void u64(uint64_t value) { bytes.append(reinterpret_cast<const char *>(&value), sizeof value); }
  void text(const std::string &value) {
    u64(value.size());
    bytes.append(value);
  }
  void ints(const std::vector<int32_t> &values) {
    u64(values.size());
    bytes.append(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(int32_t));
  }
};

/// Reads what CacheWriter wrote from bytes[pos, end); every read checks the
/// bounds, and `ok` turns false for good at the first one out of bounds.
struct CacheReader {
  const std::string &bytes;
  size_t pos, end;
  bool ok = true;

  bool take(void *to, size_t size) {
    ok = ok && size <= end - pos;
    if (ok) {
      std::memcpy(to, bytes.data() + pos, size);
      pos += size;
    }
    return ok;
  }
  uint64_t u64() {
    uint64_t value = 0;
    take(&value, sizeof value);
    return value;
  }
  std::string text() {
    uint64_t size = u64();
    std::string value(ok && size <= end - pos ? size : 0, '\0');
    take(value.data(), size);
    return value;
  }
  std::vector<int32_t> ints() {
    uint64_t count = u64();
    std::vector<int32_t> values(ok && count <= (end - pos) / sizeof(int32_t) ? count : 0);
    take(values.data(), count * sizeof(int32_t));
    return values;
  }
};

std::string encodeCache(const std::string &keyText, const ImdbDataset &dataset) {
  CacheWriter out;
  out.bytes.assign(kCacheMagic, sizeof kCacheMagic);
  out.text(keyText);
  out.u64(static_cast<uint64_t>(dataset.maxlen));
  out.u64(dataset.vocab.size());
  for (const std::string &word : dataset.vocab)
    out.text(word);
  for (const TokenSplit *split : {&dataset.train, &dataset.test}) {
    out.ints(split->tokens);
    out.ints(split->labels);
  }
  out.text(dataset.source);
  out.u64(io::fnv1a64(out.bytes.data(), out.bytes.size()));
  return out.bytes;
}

/// Whether the decoded splits are consistent: sizes, labels 0/1, ids in the vocabulary.
bool consistent(const ImdbDataset &dataset) {
  for (const TokenSplit *split : {&dataset.train, &dataset.test}) {
    if (split->tokens.size() != split->labels.size() * static_cast<size_t>(dataset.maxlen))
      return false;
    auto badLabel = [](int32_t label) { return label != 0 && label != 1; };
    auto badId = [&](int32_t id) { return id < 0 || static_cast<size_t>(id) >= dataset.vocab.size(); };
    if (std::any_of(split->labels.begin(), split->labels.end(), badLabel) ||
        std::any_of(split->tokens.begin(), split->tokens.end(), badId))
      return false;
  }
  return true;
}

/// Decodes a cache file: 1) magic and checksum, 2) the key text must equal
/// `keyText`, 3) the fields, within bounds, 4) consistency. False if any fails.
bool decodeCache(const std::string &bytes, const std::string &keyText, bool leftAligned, ImdbDataset &dataset) {
  uint64_t checksum = 0;
  if (bytes.size() < sizeof kCacheMagic + sizeof checksum ||
      bytes.compare(0, sizeof kCacheMagic, kCacheMagic, sizeof kCacheMagic) != 0)
    return false;
  size_t body = bytes.size() - sizeof checksum;
  std::memcpy(&checksum, bytes.data() + body, sizeof checksum);
  CacheReader in{bytes, sizeof kCacheMagic, body};
  if (checksum != io::fnv1a64(bytes.data(), body) || in.text() != keyText)
    return false;
  dataset.maxlen = static_cast<int64_t>(in.u64());
  uint64_t vocabSize = in.u64();
  for (uint64_t i = 0; in.ok && i < vocabSize; ++i)
    dataset.vocab.push_back(in.text());
  for (TokenSplit *split : {&dataset.train, &dataset.test}) {
    split->tokens = in.ints();
    split->labels = in.ints();
    split->count = static_cast<int64_t>(split->labels.size());
  }
  dataset.source = in.text();
  if (!(in.ok && in.pos == body && dataset.maxlen > 0 && consistent(dataset)))
    return false;
  if (leftAligned)
    for (TokenSplit *split : {&dataset.train, &dataset.test})
      split->lengths = leftAlignedLengths(split->tokens, dataset.maxlen);
  return true;
}

/// Writes `dataset` to `path` atomically: 1) encode it, 2) write
/// PATH.tmp-PID, 3) rename that over PATH. Returns "" or what failed.
std::string writeCache(const std::string &path, const std::string &keyText, const ImdbDataset &dataset) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  std::string bytes = encodeCache(keyText, dataset);
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    fs::remove(temporary, ec);
    return temporary + ": cannot write (" + std::strerror(errno) + ")";
  }
  fs::rename(temporary, path, ec);
  if (ec) {
    fs::remove(temporary, ec);
    return path + ": cannot rename the temporary file into place (" + ec.message() + ")";
  }
  return "";
}

bool checkOptions(const ImdbOptions &options, std::string &error) {
  if (options.vocab < 2)
    return fail(error, "imdb: vocab must be at least 2 (<pad> and <unk>), got " + std::to_string(options.vocab));
  if (options.maxlen < 1)
    return fail(error, "imdb: maxlen must be at least 1, got " + std::to_string(options.maxlen));
  if (options.limit < 0)
    return fail(error, "imdb: limit must be 0 (all) or positive, got " + std::to_string(options.limit));
  return true;
}

} // namespace

std::vector<std::string> tokenize(const std::string &raw) {
  const std::string text = io::repairUtf8(raw); // the policy: runtime/support/Text.h
  std::vector<std::string> words;
  std::string word;
  for (size_t pos = 0; pos < text.size();) {
    if (size_t length = lineBreakLength(text, pos)) {
      flushWord(word, words);
      pos += length;
      continue;
    }
    char c = text[pos++];
    if (isWordByte(static_cast<unsigned char>(c)) || c == '\'')
      word += toLower(c);
    else if (!word.empty())
      flushWord(word, words);
  }
  flushWord(word, words);
  return words;
}

std::vector<int32_t> encode(const std::vector<std::string> &words, const WordIds &ids, int64_t maxlen) {
  size_t length = static_cast<size_t>(std::max<int64_t>(maxlen, 0));
  std::vector<int32_t> row(length, 0);
  size_t kept = std::min(words.size(), length);
  for (size_t i = 0; i < kept; ++i) {
    auto found = ids.find(words[words.size() - kept + i]);
    row[length - kept + i] = found == ids.end() ? 1 : found->second;
  }
  return row;
}

int32_t encodeLeftAligned(const std::vector<std::string> &words, const WordIds &ids, int64_t maxlen,
                          std::vector<int32_t> &row) {
  const size_t length = static_cast<size_t>(std::max<int64_t>(maxlen, 0));
  row.assign(length, 0);
  const size_t kept = std::min(words.size(), length);
  for (size_t i = 0; i < kept; ++i) {
    auto found = ids.find(words[words.size() - kept + i]);
    row[i] = found == ids.end() ? 1 : found->second;
  }
  return static_cast<int32_t>(std::max<size_t>(kept, 1));
}

std::vector<int32_t> leftAlignedLengths(const std::vector<int32_t> &tokens, int64_t maxlen) {
  std::vector<int32_t> lengths;
  if (maxlen <= 0)
    return lengths;
  lengths.reserve(tokens.size() / static_cast<size_t>(maxlen));
  for (auto row = tokens.begin(); tokens.end() - row >= maxlen; row += maxlen) {
    const auto pad = std::find(row, row + maxlen, 0);
    lengths.push_back(static_cast<int32_t>(std::max<std::ptrdiff_t>(pad - row, 1)));
  }
  return lengths;
}

bool loadImdb(const std::string &location, const ImdbOptions &options, ImdbDataset &out, std::string &error,
              const Progress &progress) {
  if (!checkOptions(options, error))
    return false;
  std::error_code ec;
  fs::file_status status = fs::status(location, ec);
  if (!fs::exists(status))
    return fail(error, location + ": no such file or directory");
  if (!fs::is_directory(status) && !std::ifstream(location, std::ios::binary))
    return fail(error, location + ": cannot open (" + std::strerror(errno) + ")");
  std::string source = fs::absolute(location, ec).lexically_normal().string();
  std::string keyText = cacheKeyText(source, options);
  std::string cacheFile = options.cacheDir.empty() ? "" : cachePath(options.cacheDir, keyText);
  std::string cached;
  ImdbDataset dataset;
  if (!cacheFile.empty() && readFile(cacheFile, cached) && decodeCache(cached, keyText, options.leftAligned, dataset)) {
    dataset.fromCache = true;
    say(progress, "read the cached data set " + cacheFile);
    out = std::move(dataset);
    return true;
  }
  Reviews reviews;
  bool read = fs::is_directory(status) ? readDirectory(location, reviews, error, progress)
                                       : readArchive(location, reviews, error, progress);
  if (!read || !checkSplits(location, reviews, error))
    return false;
  dataset = buildDataset(reviews, options, progress);
  dataset.source = source;
  if (!cacheFile.empty()) {
    std::string problem = writeCache(cacheFile, keyText, dataset);
    say(progress, problem.empty() ? "cached the data set in " + cacheFile : "cache not written: " + problem);
  }
  out = std::move(dataset);
  return true;
}

std::string imdbHowToObtain() {
  return "The IMDB reviews are Stanford's \"Large Movie Review Dataset\" (Maas et al., ACL 2011). "
         "Download the official aclImdb_v1.tar.gz (about 80 MB) from the data set's home page, and put "
         "the tarball (or its labeled copy aclImdb_v1_labeled.tar.gz), or the aclImdb/ folder extracted "
         "from it, into one of the searched data directories (--data-dir, $RNN_DATA_DIR, ./data, "
         "../shared/data).";
}

} // namespace rnnc::data
