//===- Checkpoint.h - Save and load tensors as safetensors files -*- C++ -*-===//
//
// A checkpoint is a set of named tensors plus string metadata, stored in the
// safetensors format so that Python's `safetensors` and PyTorch can read it:
//
//   8 bytes    N, the header length (little-endian u64)
//   N bytes    UTF-8 JSON: {"NAME": {"dtype": "F32", "shape": [2, 3],
//              "data_offsets": [BEGIN, END]}, ..., "__metadata__": {...}},
//              padded with spaces to a multiple of 8 bytes
//   the rest   the tensors' raw little-endian bytes; offsets count from here
//
// Errors in a file or in the caller's request are user errors: the functions
// return false and set `error` to a message naming the file and the tensor.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rnnc::checkpoint {

/// The element types a checkpoint can hold (a subset of safetensors').
enum class DType { F32, I32, I64, U8, F64 };

/// The safetensors spelling of `dtype`, e.g. "F32".
const char *dtypeName(DType dtype);
/// The size of one element of `dtype` in bytes.
size_t dtypeSize(DType dtype);

/// One tensor: row-major, little-endian bytes. `bytes.size()` must equal the
/// product of `shape` (1 for a scalar, shape []) times dtypeSize(dtype).
struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

struct Checkpoint {
  std::vector<Tensor> tensors;
  std::map<std::string, std::string> metadata;

  /// The tensor called `name`, or null.
  const Tensor *find(const std::string &name) const;
};

/// Makes a tensor from `data`, which holds the product of `shape` elements.
Tensor makeF32(const std::string &name, std::vector<int64_t> shape, const float *data);
Tensor makeI64(const std::string &name, std::vector<int64_t> shape, const int64_t *data);

/// Writes `ckpt` to `path` atomically: 1) check every tensor (unique names,
/// non-negative dims, byte count matching shape and dtype), 2) check the
/// target (io::checkOutput: a regular file holding a checkpoint, or nothing;
/// symlinks followed), 3) write TARGET.tmp-<pid> in the same directory,
/// tensors in name order, 4) fsync it, rename it over TARGET, fsync the
/// directory. On failure returns false
/// and sets `error` (naming the path and the OS reason); the temporary is
/// removed and an existing PATH is untouched, unless only step 5 failed.
bool save(const std::string &path, const Checkpoint &ckpt, std::string &error);

/// Reads `path` into `out`, validating everything before trusting it: the
/// header length, the JSON (an object; no duplicate keys), each tensor's
/// dtype, shape and offsets (in bounds, consistent, not overlapping) and the
/// metadata (strings only), and that the tensors cover the data section
/// exactly. Never allocates much more than the file's size.
/// On failure returns false, leaves `out` unchanged and sets `error`.
bool load(const std::string &path, Checkpoint &out, std::string &error);

/// Bounds on what load reads, from what the model can use (a hostile header
/// cannot make it allocate more); the error reports the limit.
struct LoadLimits {
  uint64_t maxHeaderBytes = ~uint64_t(0);
  uint64_t maxDataBytes = ~uint64_t(0);
};
bool load(const std::string &path, const LoadLimits &limits, Checkpoint &out, std::string &error);

/// Copies tensor `name` into `dst` (which holds the product of `shape`
/// floats) after checking that it exists, is F32 and has exactly `shape`.
bool readF32(const Checkpoint &ckpt, const std::string &name, const std::vector<int64_t> &shape,
             float *dst, std::string &error);

} // namespace rnnc::checkpoint
