//===- CheckpointTest.cpp - safetensors save/load, atomicity, fuzzing -----===//
#include "runtime/checkpoint/Checkpoint.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace rnnc::checkpoint {
namespace {

namespace fs = std::filesystem;
using Bytes = std::string;

Bytes readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string &path, const Bytes &bytes) {
  ::unlink(path.c_str()); // rewriting in place would make ext4 flush each time
  std::ofstream(path, std::ios::binary) << bytes;
}

uint64_t lengthField(const Bytes &file) {
  uint64_t length = 0;
  std::memcpy(&length, file.data(), 8);
  return length;
}

Bytes withLengthField(Bytes file, uint64_t length) {
  std::memcpy(file.data(), &length, 8);
  return file;
}

/// A file whose header is `json` (unpadded) followed by `dataBytes` bytes.
Bytes fileWithHeader(const std::string &json, size_t dataBytes) {
  return withLengthField(Bytes(8, '\0') + json + Bytes(dataBytes, '\x5a'), json.size());
}

Tensor makeTensor(const std::string &name, DType dtype, std::vector<int64_t> shape,
                  const Bytes &bytes) {
  return Tensor{name, dtype, std::move(shape), std::vector<uint8_t>(bytes.begin(), bytes.end())};
}

/// Tensors of every dtype, a scalar and an empty tensor, plus metadata.
Checkpoint sampleCheckpoint() {
  Checkpoint ckpt;
  std::vector<float> weights(2 * 3);
  for (size_t i = 0; i < weights.size(); ++i)
    weights[i] = 0.25f * i - 1;
  int64_t steps[] = {-1, 0, int64_t(1) << 40, 7};
  double rate = 0.001;
  ckpt.tensors.push_back(makeF32("lstm.weight_ih_l0", {2, 3}, weights.data()));
  ckpt.tensors.push_back(makeI64("a.steps", {4}, steps));
  ckpt.tensors.push_back(makeF32("empty", {0}, nullptr));
  ckpt.tensors.push_back(makeTensor("rate", DType::F64, {}, Bytes((char *)&rate, 8)));
  ckpt.tensors.push_back(makeTensor("tokens", DType::I32, {2, 1}, Bytes("\1\0\0\0\2\0\0\0", 8)));
  ckpt.tensors.push_back(makeTensor("z.mask", DType::U8, {3}, Bytes("\1\0\1", 3)));
  ckpt.metadata = {{"format", "pt"}, {"model", "charlm"}, {"step", "1200"}};
  return ckpt;
}

void expectSameTensors(const Checkpoint &expected, const Checkpoint &actual) {
  ASSERT_EQ(expected.tensors.size(), actual.tensors.size());
  for (const Tensor &want : expected.tensors) {
    const Tensor *got = actual.find(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->dtype, want.dtype) << want.name;
    EXPECT_EQ(got->shape, want.shape) << want.name;
    EXPECT_EQ(got->bytes, want.bytes) << want.name;
  }
  EXPECT_EQ(expected.metadata, actual.metadata);
}

class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = fs::path(::testing::TempDir()) / "ckpt-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    ::chmod(dir.c_str(), 0755);
    fs::remove_all(dir);
  }
  std::string path(const std::string &name) const { return (fs::path(dir) / name).string(); }
  /// The names of the files in `folder`.
  static std::vector<std::string> listing(const std::string &folder) {
    std::vector<std::string> names;
    for (const auto &entry : fs::directory_iterator(folder))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir;
};

TEST_F(CheckpointTest, RoundTripsEveryDTypeAndWritesSortedPaddedHeader) {
  Checkpoint ckpt = sampleCheckpoint();
  std::string error;
  ASSERT_TRUE(save(path("model.ckpt"), ckpt, error)) << error;
  Checkpoint loaded;
  ASSERT_TRUE(load(path("model.ckpt"), loaded, error)) << error;
  expectSameTensors(ckpt, loaded);

  Bytes file = readBytes(path("model.ckpt"));
  uint64_t length = lengthField(file);
  ASSERT_LE(8 + length, file.size());
  EXPECT_EQ(length % 8, 0u);
  std::string header = file.substr(8, length);
  EXPECT_EQ(header.front(), '{');
  auto json = nlohmann::json::parse(header); // trailing padding spaces are fine
  EXPECT_EQ(json["__metadata__"]["model"], "charlm");
  EXPECT_EQ(json["rate"]["shape"], nlohmann::json::array());
  uint64_t offset = 0; // tensors lie in name order, contiguous, to the end
  for (const auto &[name, entry] : json.items()) {
    if (name == "__metadata__")
      continue;
    EXPECT_EQ(entry["data_offsets"][0].get<uint64_t>(), offset) << name;
    offset = entry["data_offsets"][1].get<uint64_t>();
  }
  EXPECT_EQ(8 + length + offset, file.size());
  EXPECT_EQ(listing(dir), std::vector<std::string>{"model.ckpt"});
}

// What Python's safetensors writes (field order dtype, shape, offsets) and
// what we write (keys sorted), byte for byte.
const char kOursJson[] =
    R"({"__metadata__":{"format":"pt"},"b":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},)"
    R"("c":{"data_offsets":[8,16],"dtype":"I64","shape":[]}})";
const char kPythonJson[] =
    R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
    R"("c":{"dtype":"I64","shape":[],"data_offsets":[8,16]}})";

Bytes handBuiltFile(const std::string &json) {
  Bytes header = json + Bytes((8 - json.size() % 8) % 8, ' ');
  float b[] = {1.5f, -2.0f};
  int64_t c = 42;
  return withLengthField(Bytes(8, '\0'), header.size()) + header + Bytes((char *)b, 8) +
         Bytes((char *)&c, 8);
}

TEST_F(CheckpointTest, ReadsAndWritesHandBuiltBytesExactly) {
  std::string error;
  for (const char *json : {kOursJson, kPythonJson}) {
    writeBytes(path("hand.ckpt"), handBuiltFile(json));
    Checkpoint ckpt;
    ASSERT_TRUE(load(path("hand.ckpt"), ckpt, error)) << error;
    float b[2];
    ASSERT_TRUE(readF32(ckpt, "b", {2}, b, error)) << error;
    EXPECT_EQ(b[0], 1.5f);
    EXPECT_EQ(b[1], -2.0f);
    ASSERT_NE(ckpt.find("c"), nullptr);
    int64_t c = 0;
    std::memcpy(&c, ckpt.find("c")->bytes.data(), 8);
    EXPECT_EQ(c, 42);
    EXPECT_EQ(ckpt.metadata.at("format"), "pt");
  }
  float b[] = {1.5f, -2.0f};
  int64_t c = 42;
  Checkpoint ckpt{{makeI64("c", {}, &c), makeF32("b", {2}, b)}, {{"format", "pt"}}};
  ASSERT_TRUE(save(path("ours.ckpt"), ckpt, error)) << error;
  EXPECT_EQ(readBytes(path("ours.ckpt")), handBuiltFile(kOursJson));
}

TEST_F(CheckpointTest, FailedSaveKeepsTheOldFileAndLeavesNoTemporary) {
  std::string error, target = path("model.ckpt");
  ASSERT_TRUE(save(target, sampleCheckpoint(), error)) << error;
  Bytes before = readBytes(target);
  Checkpoint other{{makeF32("only", {0}, nullptr)}, {}};

  // An invalid checkpoint is refused before anything is written.
  Checkpoint invalid{{makeTensor("bad", DType::F32, {2}, Bytes(4, '\0'))}, {}};
  EXPECT_FALSE(save(target, invalid, error));
  EXPECT_NE(error.find("tensor 'bad'"), std::string::npos) << error;

  // The rename fails when the target is a directory; the temporary goes.
  ASSERT_TRUE(fs::create_directory(path("taken")));
  writeBytes(path("taken/keep"), "x");
  EXPECT_FALSE(save(path("taken"), other, error));
  EXPECT_NE(error.find(path("taken")), std::string::npos) << error;
  EXPECT_EQ(listing(path("taken")), std::vector<std::string>{"keep"});

  // A directory that cannot be written (root ignores permissions, so it
  // gets a directory that does not exist instead).
  std::string unwritable = path("missing/model.ckpt");
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(dir.c_str(), 0555), 0);
    unwritable = target;
  }
  error.clear();
  EXPECT_FALSE(save(unwritable, other, error));
  EXPECT_NE(error.find(unwritable), std::string::npos) << error;
  EXPECT_NE(error.find(::geteuid() != 0 ? "Permission denied" : "No such file"), std::string::npos)
      << error;
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(readBytes(target), before);
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"model.ckpt", "taken"}));

  // A successful save replaces the old file.
  ASSERT_TRUE(save(target, other, error)) << error;
  Checkpoint loaded;
  ASSERT_TRUE(load(target, loaded, error)) << error;
  expectSameTensors(other, loaded);
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"model.ckpt", "taken"}));
}

TEST_F(CheckpointTest, SaveRejectsInvalidTensors) {
  std::string error;
  auto expectRefused = [&](Checkpoint ckpt, const std::string &message) {
    error.clear();
    EXPECT_FALSE(save(path("bad.ckpt"), ckpt, error));
    EXPECT_NE(error.find(message), std::string::npos) << error;
    EXPECT_FALSE(fs::exists(path("bad.ckpt")));
  };
  Tensor scalar = makeTensor("x", DType::U8, {}, "\1");
  expectRefused({{scalar, scalar}, {}}, "tensor 'x': the name is used twice");
  expectRefused({{makeTensor("__metadata__", DType::U8, {}, "\1")}, {}}, "reserved");
  expectRefused({{makeTensor("neg", DType::U8, {-1}, "")}, {}}, "invalid shape [-1]");
  expectRefused({{makeTensor("n", DType::I32, {3}, "abcd")}, {}}, "holds 4 bytes but shape [3]");
  expectRefused({{makeTensor("\xff", DType::U8, {}, "\1")}, {}}, "not valid UTF-8");
}

TEST_F(CheckpointTest, ReadF32ChecksNameDTypeAndShape) {
  Checkpoint ckpt = sampleCheckpoint();
  std::string error;
  float values[6];
  ASSERT_TRUE(readF32(ckpt, "lstm.weight_ih_l0", {2, 3}, values, error)) << error;
  EXPECT_EQ(values[5], 0.25f);
  EXPECT_FALSE(readF32(ckpt, "lstm.weight_ih_l0", {3, 2}, values, error));
  EXPECT_EQ(error, "tensor 'lstm.weight_ih_l0' has shape [2, 3], expected [3, 2]");
  EXPECT_FALSE(readF32(ckpt, "a.steps", {4}, values, error));
  EXPECT_EQ(error, "tensor 'a.steps' is I64, expected F32");
  EXPECT_FALSE(readF32(ckpt, "lstm.weight_hh_l0", {2, 3}, values, error));
  EXPECT_EQ(error, "the checkpoint has no tensor 'lstm.weight_hh_l0'");
  EXPECT_TRUE(readF32(ckpt, "empty", {0}, nullptr, error)) << error;
}

TEST_F(CheckpointTest, LoadNamesTheFileAndTheTensor) {
  std::string error;
  Checkpoint ckpt;
  EXPECT_FALSE(load(path("absent.ckpt"), ckpt, error));
  EXPECT_EQ(error, path("absent.ckpt") + ": cannot open: No such file or directory");
  EXPECT_FALSE(load(dir, ckpt, error));
  EXPECT_EQ(error, dir + ": not a regular file");
  writeBytes(path("m.ckpt"), withLengthField(Bytes(100, ' '), 1234));
  EXPECT_FALSE(load(path("m.ckpt"), ckpt, error));
  EXPECT_EQ(error, path("m.ckpt") + ": truncated: header says 1234 bytes but the file has 100");
  writeBytes(path("m.ckpt"), withLengthField(Bytes(8, '\0'), (100 << 20) + 1));
  fs::resize_file(path("m.ckpt"), 200 << 20); // sparse: no disk used
  EXPECT_FALSE(load(path("m.ckpt"), ckpt, error));
  EXPECT_EQ(error, path("m.ckpt") + ": the header's 104857601 bytes are over the 100 MiB limit");
  writeBytes(path("m.ckpt"), fileWithHeader(R"({"a":{"dtype":")" + Bytes(1000, 'x') + "\"}}", 0));
  EXPECT_FALSE(load(path("m.ckpt"), ckpt, error));
  EXPECT_LT(error.size(), path("m.ckpt").size() + 100) << error; // a long value is cut short
  const char *json =
      R"({"h.weight_ih_l0":{"dtype":"F32","shape":[512,64],"data_offsets":[0,400]}})";
  writeBytes(path("m.ckpt"), fileWithHeader(json, 400));
  EXPECT_FALSE(load(path("m.ckpt"), ckpt, error));
  EXPECT_EQ(error, path("m.ckpt") + ": tensor 'h.weight_ih_l0': data_offsets [0, 400] do not match "
                                    "shape [512, 64] of F32 (131072 bytes)");
}

/// Headers that are valid JSON (or nearly) but not valid checkpoints. The
/// data section that follows each has 64 bytes.
const std::string kBadHeaders[] = {
    "",
    " ",
    "[]",
    "\"x\"",
    "42",
    "null",
    "{",
    "{}}",
    "{} x",
    "{/*c*/}",
    "{\"a\":1}",
    R"({"a":{"dtype":"F32","shape":"[2]","data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","shape":[1e18],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","shape":[1000000000000000000],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
    R"({"a":{"dtype":"U8","shape":[2,[2]],"data_offsets":[0,4]}})",
    R"({"a":{"dtype":"U8","shape":[true],"data_offsets":[0,1]}})",
    R"({"a":{"dtype":"U8","shape":null,"data_offsets":[0,1]}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[60,68]}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551615,7]}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":{"0":8}}})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
    R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"U8","shape":[1],"data_offsets":[3,4]}})",
    R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})",
    R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})",
    R"({"a":{"shape":[2],"data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","data_offsets":[0,8]}})",
    R"({"a":{"dtype":"F32","shape":[2]}})",
    R"({"a":[0,8]})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
    R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
    R"({"__metadata__":{"k":"v","k":"w"}})",
    R"({"__metadata__":{"k":1}})",
    R"({"__metadata__":{"k":null}})",
    R"({"__metadata__":{"k":["v"]}})",
    R"({"__metadata__":["k","v"]})",
    R"({"__metadata__":"k=v"})",
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":[[[1]]]}})",
    "{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}",
    "{\"__metadata__\":{\"k\":\"v\xc3\"}}",
    std::string("{}\0", 3),
    std::string("{\"a\0\":{}}", 10),
};

/// Byte positions of the header that lie outside JSON strings and padding:
/// changing any one of them breaks the header.
std::vector<size_t> structuralPositions(const std::string &header) {
  std::vector<size_t> positions;
  size_t end = header.find_last_not_of(' ') + 1;
  bool inString = false;
  for (size_t i = 0; i < end; ++i) {
    bool quote = header[i] == '"';
    if (!inString || quote)
      positions.push_back(i);
    inString ^= quote;
  }
  return positions;
}

TEST_F(CheckpointTest, RejectsTwoThousandCorruptFilesWithoutCrashing) {
  std::string error, good = path("good.ckpt"), bad = path("corrupt.ckpt");
  Checkpoint base = sampleCheckpoint();
  std::vector<float> big(100, 0.5f); // "zz.big" sorts last: every cut loses its bytes
  base.tensors.push_back(makeF32("zz.big", {10, 10}, big.data()));
  ASSERT_TRUE(save(good, base, error)) << error;
  Bytes file = readBytes(good);
  uint64_t length = lengthField(file);
  ASSERT_GT(file.size(), 600u);

  std::vector<Bytes> variants;
  std::mt19937_64 rng(20240611);
  for (size_t size = 0; size <= 300; ++size)
    variants.push_back(file.substr(0, size));
  for (int i = 0; i < 200; ++i)
    variants.push_back(file.substr(0, rng() % file.size()));
  std::vector<size_t> positions = structuralPositions(file.substr(8, length));
  for (int i = 0; i < 1500; ++i) {
    Bytes flipped = file;
    char &byte = flipped[8 + positions[rng() % positions.size()]];
    byte = static_cast<char>(byte + 1 + rng() % 255);
    variants.push_back(flipped);
  }
  size_t padding = length - (file.substr(8, length).find_last_not_of(' ') + 1);
  for (uint64_t value : {uint64_t(0), uint64_t(7), length - padding - 1, file.size() - 7,
                         uint64_t(1) << 40, uint64_t(1) << 63, ~uint64_t(0), uint64_t(200) << 20})
    variants.push_back(withLengthField(file, value));
  for (const std::string &header : kBadHeaders)
    variants.push_back(fileWithHeader(header, 64));
  ASSERT_GE(variants.size(), 2000u);

  for (size_t i = 0; i < variants.size(); ++i) {
    writeBytes(bad, variants[i]);
    Checkpoint out;
    out.metadata["sentinel"] = "kept";
    error.clear();
    EXPECT_FALSE(load(bad, out, error)) << "variant " << i;
    EXPECT_EQ(error.rfind(bad + ": ", 0), 0u) << "variant " << i << ": " << error;
    EXPECT_GT(error.size(), bad.size() + 2) << "variant " << i;
    EXPECT_EQ(out.metadata.at("sentinel"), "kept");
    EXPECT_TRUE(out.tensors.empty());
  }
}

TEST_F(CheckpointTest, CorruptHeadersGetSpecificMessages) {
  std::string error, bad = path("bad.ckpt");
  auto loadError = [&](const std::string &json) {
    writeBytes(bad, fileWithHeader(json, 64));
    Checkpoint out;
    error.clear();
    EXPECT_FALSE(load(bad, out, error));
    return error.substr(bad.size() + 2);
  };
  EXPECT_EQ(loadError(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})"),
            "tensor 'a': shape must be an array of non-negative integers, not [-2]");
  EXPECT_EQ(loadError(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})"),
            "tensor 'a': unknown dtype \"F16\"");
  EXPECT_EQ(
      loadError(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})"),
      "tensor 'a': shape [4294967296, 4294967296] of U8 is too large (2^64 bytes or more)");
  EXPECT_EQ(loadError(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[60,68]}})"),
            "tensor 'a': data_offsets [60, 68] run past the end of the data section (64 bytes)");
  EXPECT_EQ(loadError(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})"),
            "tensor 'a': data_offsets [8, 0] are reversed");
  EXPECT_EQ(loadError(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})"),
            "tensor 'b': data_offsets [4, 12] overlap tensor 'a' at [0, 8]");
  EXPECT_EQ(loadError(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{}})"),
            "duplicate key 'a'");
  EXPECT_EQ(loadError(R"({"a":{"dtype":"F32","dtype":"F32"}})"),
            "tensor 'a': duplicate key 'dtype'");
  EXPECT_EQ(loadError(R"({"__metadata__":{"k":1}})"),
            "__metadata__ value of 'k' must be a string, not 1");
  EXPECT_EQ(loadError("[]"), "the header must be a JSON object, not array");
}

TEST_F(CheckpointTest, AcceptsWhatTheFormatAllows) {
  std::string error;
  Checkpoint ckpt;
  // No tensors; null metadata; unknown fields; two empty tensors at one offset;
  // no data section (every byte of one must belong to a tensor).
  for (const char *json : {"{}", R"({"__metadata__":null})",
                           R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":{"y":1}},)"
                           R"("b":{"dtype":"U8","shape":[0,5],"data_offsets":[0,0]}})"}) {
    writeBytes(path("ok.ckpt"), fileWithHeader(json, 0));
    EXPECT_TRUE(load(path("ok.ckpt"), ckpt, error)) << json << ": " << error;
    // Bytes no tensor owns (a header length one byte short reads as that).
    writeBytes(path("bad.ckpt"), fileWithHeader(json, 3));
    EXPECT_FALSE(load(path("bad.ckpt"), ckpt, error)) << json;
    EXPECT_NE(error.find("the tensors cover 0 of the data section's 3 bytes"), std::string::npos) << error;
  }
  EXPECT_EQ(ckpt.tensors.size(), 2u);
}

} // namespace
} // namespace rnnc::checkpoint
