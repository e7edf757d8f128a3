//===- Checkpoint.cpp - Save and load tensors as safetensors files --------===//
#include "runtime/checkpoint/Checkpoint.h"

#include "runtime/support/OutputFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "checkpoints hold little-endian bytes copied straight from memory");

namespace rnnc::checkpoint {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr const char *kMetadataKey = "__metadata__";

struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};
/// Every DType, in the enum's order.
constexpr DTypeInfo kDTypes[] = {{DType::F32, "F32", 4},
                                 {DType::I32, "I32", 4},
                                 {DType::I64, "I64", 8},
                                 {DType::U8, "U8", 1},
                                 {DType::F64, "F64", 8}};

bool parseDType(const Json &value, DType &dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (value.is_string() && value.get_ref<const std::string &>() == info.name) {
      dtype = info.dtype;
      return true;
    }
  return false;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// `json` as text, cut short so that a hostile header cannot flood a message.
std::string brief(const Json &json) {
  std::string text = json.dump();
  return text.size() <= 64 ? text : text.substr(0, 60) + "...";
}

std::string formatOffsets(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// The byte size of a tensor of `shape` and `dtype`; false if a dimension is
/// negative or the size does not fit in 64 bits.
bool byteSize(const std::vector<int64_t> &shape, DType dtype, uint64_t &bytes) {
  bytes = 0;
  for (int64_t dim : shape)
    if (dim <= 0)
      return dim == 0;
  uint64_t total = dtypeSize(dtype);
  for (int64_t dim : shape) {
    if (total > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim))
      return false;
    total *= static_cast<uint64_t>(dim);
  }
  bytes = total;
  return true;
}

//===--- Reading the header ------------------------------------------------===//

/// A tensor as the header describes it, before its bytes are read.
struct Entry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

/// Thrown by the parser callback to stop at the first key or nesting that a
/// safetensors header cannot hold.
struct HeaderRejected {
  std::string reason;
};

/// Parses the header text into `header`. Rejects duplicate keys (which the
/// JSON parser would silently merge) and nesting deeper than a header needs
/// (root, tensor, shape), which also bounds the memory the tree takes.
bool parseJson(const std::string &text, Json &header, std::string &reason) {
  std::vector<std::set<std::string>> openObjects;
  std::string top; // the top-level key being read: a tensor or the metadata
  auto where = [&]() -> std::string {
    return top.empty() ? "" : top == kMetadataKey ? top + ": " : "tensor '" + top + "': ";
  };
  auto guard = [&](int depth, Json::parse_event_t event, Json &parsed) {
    using Event = Json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth > 2)
      throw HeaderRejected{where() + "nested deeper than a header allows"};
    if (event == Event::object_start)
      openObjects.emplace_back();
    else if (event == Event::object_end)
      openObjects.pop_back();
    else if (event == Event::key) {
      const std::string &key = parsed.get_ref<const std::string &>();
      if (depth == 1)
        top = key;
      if (!openObjects.back().insert(key).second)
        throw HeaderRejected{(depth == 1 ? "" : where()) + "duplicate key '" + key + "'"};
    }
    return true;
  };
  if (text.find('\0') != std::string::npos) { // the parser would stop there
    reason = "the header is not valid JSON: it holds a NUL byte";
    return false;
  }
  try {
    header = Json::parse(text, guard);
  } catch (const HeaderRejected &rejected) {
    reason = rejected.reason;
  } catch (const Json::exception &e) {
    std::string message = e.what(); // "[json.exception.parse_error.101] parse error at ..."
    size_t start = message.find("] ");
    reason = "the header is not valid JSON: " +
             (start == std::string::npos ? message : message.substr(start + 2));
  }
  if (reason.empty() && !header.is_object())
    reason = std::string("the header must be a JSON object, not ") + header.type_name();
  return reason.empty();
}

/// Reads field `key` of `object` as an array of integers in [0, max].
bool readIntegers(const Json &object, const char *key, uint64_t max, std::vector<uint64_t> &values,
                  std::string &reason) {
  auto field = object.find(key);
  if (field == object.end()) {
    reason = std::string("missing field '") + key + "'";
    return false;
  }
  bool ok = field->is_array();
  for (size_t i = 0; ok && i < field->size(); ++i) {
    const Json &value = (*field)[i];
    ok = value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
    if (ok && value.get<uint64_t>() > max) {
      reason = std::string(key) + " value " + brief(value) + " is too large";
      return false;
    }
    if (ok)
      values.push_back(value.get<uint64_t>());
  }
  if (!ok)
    reason = std::string(key) + " must be an array of non-negative integers, not " + brief(*field);
  return ok;
}

/// Reads one tensor's dtype, shape and data_offsets; unknown fields are
/// ignored, as Python's safetensors does.
bool parseEntry(const std::string &name, const Json &value, Entry &entry, std::string &reason) {
  std::vector<uint64_t> dims, offsets;
  entry.name = name;
  auto dtype = value.is_object() ? value.find("dtype") : value.end();
  if (!value.is_object())
    reason = std::string("must be an object, not ") + value.type_name();
  else if (dtype == value.end())
    reason = "missing field 'dtype'";
  else if (!parseDType(*dtype, entry.dtype))
    reason = "unknown dtype " + brief(*dtype);
  else if (readIntegers(value, "shape", std::numeric_limits<int64_t>::max(), dims, reason) &&
           readIntegers(value, "data_offsets", ~uint64_t(0), offsets, reason) &&
           offsets.size() != 2)
    reason = "data_offsets must hold two integers, not " + std::to_string(offsets.size());
  if (!reason.empty()) {
    reason = "tensor '" + name + "': " + reason;
    return false;
  }
  entry.shape.assign(dims.begin(), dims.end());
  entry.begin = offsets[0];
  entry.end = offsets[1];
  return true;
}

/// Reads "__metadata__": an object of strings (or null, meaning none).
bool parseMetadata(const Json &value, std::map<std::string, std::string> &metadata,
                   std::string &reason) {
  if (!value.is_object() && !value.is_null()) {
    reason = std::string("__metadata__ must be an object, not ") + value.type_name();
    return false;
  }
  for (const auto &[key, text] : value.items()) {
    if (!text.is_string()) {
      reason = "__metadata__ value of '" + key + "' must be a string, not " + brief(text);
      return false;
    }
    metadata[key] = text.get<std::string>();
  }
  return true;
}

/// Checks an entry against the data section's size: offsets in order and in
/// bounds, and matching the shape and dtype.
bool checkEntry(const Entry &entry, uint64_t dataSize, std::string &reason) {
  uint64_t begin = entry.begin, end = entry.end, bytes = 0;
  std::string where = "tensor '" + entry.name + "': data_offsets " + formatOffsets(begin, end);
  if (begin > end)
    reason = where + " are reversed";
  else if (end > dataSize)
    reason =
        where + " run past the end of the data section (" + std::to_string(dataSize) + " bytes)";
  else if (!byteSize(entry.shape, entry.dtype, bytes))
    reason = "tensor '" + entry.name + "': shape " + formatShape(entry.shape) + " of " +
             dtypeName(entry.dtype) + " is too large (2^64 bytes or more)";
  else if (end - begin != bytes)
    reason = where + " do not match shape " + formatShape(entry.shape) + " of " +
             dtypeName(entry.dtype) + " (" + std::to_string(bytes) + " bytes)";
  return reason.empty();
}

/// Checks that no two tensors share a byte (empty tensors share none).
bool checkNoOverlap(const std::vector<Entry> &entries, std::string &reason) {
  std::vector<const Entry *> byOffset;
  for (const Entry &entry : entries)
    byOffset.push_back(&entry);
  std::sort(byOffset.begin(), byOffset.end(), [](const Entry *a, const Entry *b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  const Entry *previous = nullptr;
  for (const Entry *entry : byOffset) {
    if (entry->begin == entry->end)
      continue;
    if (previous && entry->begin < previous->end) {
      reason = "tensor '" + entry->name + "': data_offsets " +
               formatOffsets(entry->begin, entry->end) + " overlap tensor '" + previous->name +
               "' at " + formatOffsets(previous->begin, previous->end);
      return false;
    }
    previous = entry;
  }
  return true;
}

//===--- Files -------------------------------------------------------------===//

/// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// Reads exactly `size` bytes at `offset`; on failure sets `reason`.
bool readExact(int fd, uint64_t offset, void *dst, size_t size, std::string &reason) {
  auto *out = static_cast<char *>(dst);
  while (size > 0) {
    ssize_t got = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      reason =
          got < 0 ? std::string("read failed: ") + std::strerror(errno) : "truncated while reading";
      return false;
    }
    out += got, offset += got, size -= got;
  }
  return true;
}

/// Reads the header's text after checking its length against the file's.
bool readHeaderText(int fd, uint64_t fileSize, const LoadLimits &limits, std::string &text, std::string &reason) {
  if (fileSize < 8) {
    reason = "truncated: the file has " + std::to_string(fileSize) +
             " bytes, fewer than the 8-byte header length";
    return false;
  }
  uint64_t length = 0;
  if (!readExact(fd, 0, &length, 8, reason))
    return false;
  if (length > fileSize - 8) {
    reason = "truncated: header says " + std::to_string(length) + " bytes but the file has " +
             std::to_string(fileSize);
    return false;
  }
  const uint64_t maxHeader = std::min<uint64_t>(kMaxHeaderBytes, limits.maxHeaderBytes);
  if (length > maxHeader) {
    reason = "the header's " + std::to_string(length) + " bytes are over the " +
             (maxHeader < kMaxHeaderBytes ? "limit of " + std::to_string(maxHeader) +
                                                " bytes (what this model's checkpoint can need)"
                                          : std::string("100 MiB limit"));
    return false;
  }
  text.resize(length);
  return readExact(fd, 8, text.data(), length, reason);
}

/// Reads the tensors' entries (in name order) and the metadata from the
/// parsed header, and checks the entries against the data section.
bool readEntries(const Json &header, uint64_t dataSize, std::vector<Entry> &entries,
                 std::map<std::string, std::string> &metadata, std::string &reason) {
  for (const auto &[name, value] : header.items()) {
    if (name == kMetadataKey) {
      if (!parseMetadata(value, metadata, reason))
        return false;
      continue;
    }
    Entry entry;
    if (!parseEntry(name, value, entry, reason) || !checkEntry(entry, dataSize, reason))
      return false;
    entries.push_back(std::move(entry));
  }
  if (!checkNoOverlap(entries, reason))
    return false;
  uint64_t covered = 0; // no overlap and every entry in bounds: equal sums mean no hole
  for (const Entry &entry : entries)
    covered += entry.end - entry.begin;
  if (covered != dataSize) {
    reason = "the tensors cover " + std::to_string(covered) + " of the data section's " + std::to_string(dataSize) +
             " bytes (a wrong header length, or bytes no tensor owns)";
    return false;
  }
  return true;
}

/// Reads each tensor's bytes; the entries were checked to lie in the file.
bool readTensors(int fd, uint64_t dataStart, const std::vector<Entry> &entries, Checkpoint &ckpt,
                 std::string &reason) {
  for (const Entry &entry : entries) {
    Tensor tensor{entry.name, entry.dtype, entry.shape, {}};
    tensor.bytes.resize(entry.end - entry.begin);
    if (!readExact(fd, dataStart + entry.begin, tensor.bytes.data(), tensor.bytes.size(), reason))
      return false;
    ckpt.tensors.push_back(std::move(tensor));
  }
  return true;
}

bool loadFrom(const std::string &path, const LoadLimits &limits, Checkpoint &ckpt, std::string &reason) {
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat info;
  if (file.fd < 0 || ::fstat(file.fd, &info) != 0) {
    reason = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    reason = "not a regular file";
    return false;
  }
  uint64_t fileSize = static_cast<uint64_t>(info.st_size);
  std::string text;
  Json header;
  std::vector<Entry> entries;
  if (!readHeaderText(file.fd, fileSize, limits, text, reason) || !parseJson(text, header, reason))
    return false;
  uint64_t dataStart = 8 + text.size();
  if (fileSize - dataStart > limits.maxDataBytes) {
    reason = "the data section's " + std::to_string(fileSize - dataStart) + " bytes are over the limit of " +
             std::to_string(limits.maxDataBytes) + " bytes (what this model's checkpoint can need)";
    return false;
  }
  return readEntries(header, fileSize - dataStart, entries, ckpt.metadata, reason) &&
         readTensors(file.fd, dataStart, entries, ckpt, reason);
}

//===--- Writing -----------------------------------------------------------===//

/// Checks what save is asked to write; returns the tensors in name order.
bool checkTensorsToSave(const Checkpoint &ckpt, std::vector<const Tensor *> &sorted,
                        std::string &reason) {
  for (const Tensor &tensor : ckpt.tensors)
    sorted.push_back(&tensor);
  std::sort(sorted.begin(), sorted.end(),
            [](const Tensor *a, const Tensor *b) { return a->name < b->name; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    const Tensor &tensor = *sorted[i];
    std::string where = "tensor '" + tensor.name + "': ";
    uint64_t bytes = 0;
    if (tensor.name == kMetadataKey)
      reason = where + "the name is reserved for metadata";
    else if (i > 0 && sorted[i - 1]->name == tensor.name)
      reason = where + "the name is used twice";
    else if (!byteSize(tensor.shape, tensor.dtype, bytes))
      reason = where + "invalid shape " + formatShape(tensor.shape);
    else if (bytes != tensor.bytes.size())
      reason = where + "holds " + std::to_string(tensor.bytes.size()) + " bytes but shape " +
               formatShape(tensor.shape) + " of " + dtypeName(tensor.dtype) + " needs " +
               std::to_string(bytes);
    if (!reason.empty())
      return false;
  }
  return true;
}

/// The JSON header, padded with spaces to a multiple of 8 bytes.
bool buildHeader(const Checkpoint &ckpt, const std::vector<const Tensor *> &sorted,
                 std::string &header, std::string &reason) {
  Json json = Json::object();
  uint64_t offset = 0;
  for (const Tensor *tensor : sorted) {
    uint64_t end = offset + tensor->bytes.size();
    json[tensor->name] = {{"dtype", dtypeName(tensor->dtype)},
                          {"shape", tensor->shape},
                          {"data_offsets", {offset, end}}};
    offset = end;
  }
  if (!ckpt.metadata.empty())
    json[kMetadataKey] = ckpt.metadata;
  try {
    header = json.dump();
  } catch (const Json::type_error &) {
    reason = "a tensor name or metadata string is not valid UTF-8";
    return false;
  }
  header.append((8 - header.size() % 8) % 8, ' ');
  return true;
}

Tensor makeTensor(const std::string &name, DType dtype, std::vector<int64_t> shape,
                  const void *data) {
  uint64_t bytes = 0;
  [[maybe_unused]] bool valid = byteSize(shape, dtype, bytes);
  assert(valid && "makeF32/makeI64 need a shape of non-negative dimensions");
  assert((data || bytes == 0) && "makeF32/makeI64 need data for a non-empty shape");
  Tensor tensor{name, dtype, std::move(shape), std::vector<uint8_t>(bytes)};
  if (bytes)
    std::memcpy(tensor.bytes.data(), data, bytes);
  return tensor;
}

} // namespace

const char *dtypeName(DType dtype) { return kDTypes[static_cast<int>(dtype)].name; }

size_t dtypeSize(DType dtype) { return kDTypes[static_cast<int>(dtype)].size; }

const Tensor *Checkpoint::find(const std::string &name) const {
  for (const Tensor &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

Tensor makeF32(const std::string &name, std::vector<int64_t> shape, const float *data) {
  return makeTensor(name, DType::F32, std::move(shape), data);
}

Tensor makeI64(const std::string &name, std::vector<int64_t> shape, const int64_t *data) {
  return makeTensor(name, DType::I64, std::move(shape), data);
}

bool save(const std::string &path, const Checkpoint &ckpt, std::string &error) {
  std::vector<const Tensor *> sorted;
  std::string header, reason;
  io::AtomicFile file;
  bool ok = checkTensorsToSave(ckpt, sorted, reason) && buildHeader(ckpt, sorted, header, reason) &&
            file.open(path, io::OutputKind::Checkpoint, reason);
  if (ok) {
    const uint64_t size = header.size();
    ok = file.write(&size, 8, reason) && file.write(header.data(), header.size(), reason);
    for (size_t i = 0; ok && i < sorted.size(); ++i)
      ok = file.write(sorted[i]->bytes.data(), sorted[i]->bytes.size(), reason);
    ok = ok && file.commit(reason);
  }
  if (!ok)
    error = path + ": " + reason;
  return ok;
}

bool load(const std::string &path, Checkpoint &out, std::string &error) { return load(path, LoadLimits{}, out, error); }

bool load(const std::string &path, const LoadLimits &limits, Checkpoint &out, std::string &error) {
  Checkpoint ckpt;
  std::string reason;
  if (!loadFrom(path, limits, ckpt, reason)) {
    error = path + ": " + reason;
    return false;
  }
  out = std::move(ckpt);
  return true;
}

bool readF32(const Checkpoint &ckpt, const std::string &name, const std::vector<int64_t> &shape,
             float *dst, std::string &error) {
  const Tensor *tensor = ckpt.find(name);
  uint64_t bytes = 0;
  if (!tensor)
    error = "the checkpoint has no tensor '" + name + "'";
  else if (tensor->dtype != DType::F32)
    error = "tensor '" + name + "' is " + dtypeName(tensor->dtype) + ", expected F32";
  else if (tensor->shape != shape)
    error = "tensor '" + name + "' has shape " + formatShape(tensor->shape) + ", expected " +
            formatShape(shape);
  else if (!byteSize(shape, DType::F32, bytes) || bytes != tensor->bytes.size())
    error = "tensor '" + name + "' holds " + std::to_string(tensor->bytes.size()) +
            " bytes, which does not match its shape " + formatShape(shape);
  else {
    if (bytes)
      std::memcpy(dst, tensor->bytes.data(), bytes);
    return true;
  }
  return false;
}

} // namespace rnnc::checkpoint
