//===- Types.h - Element types and tensor types of the graph IR -*- C++ -*-===//
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rnnc::ir {

enum class DType { F32, I32 };

const char *dtypeName(DType dtype);
std::optional<DType> parseDType(const std::string &name);

/// One dimension: a static size, or a symbol (the batch dimension) whose size
/// is fixed only when the model runs.
struct Dim {
  int64_t size = 0;   ///< meaningful when symbol is empty
  std::string symbol; ///< e.g. "batch"

  static Dim fixed(int64_t size) { return {size, {}}; }
  static Dim symbolic(std::string name) { return {0, std::move(name)}; }
  bool isSymbolic() const { return !symbol.empty(); }
  bool operator==(const Dim &o) const { return symbol == o.symbol && (isSymbolic() || size == o.size); }
  bool operator!=(const Dim &o) const { return !(*this == o); }
  std::string str() const { return isSymbolic() ? symbol : std::to_string(size); }
};

/// dtype + shape. Rank 0 is a scalar (`f32[]`).
struct TensorType {
  DType dtype = DType::F32;
  std::vector<Dim> dims;

  size_t rank() const { return dims.size(); }
  bool isStatic() const;
  /// Number of elements of a static type; nullopt if symbolic or on overflow.
  std::optional<int64_t> elementCount() const;
  bool operator==(const TensorType &o) const { return dtype == o.dtype && dims == o.dims; }
  bool operator!=(const TensorType &o) const { return !(*this == o); }
  std::string str() const; ///< f32[batch,256,64]
};

/// The largest tensor (in elements) the compiler accepts: 2^31 - 1, so that
/// every index fits a 32-bit integer and no allocation can overflow.
constexpr int64_t kMaxElements = (int64_t(1) << 31) - 1;

} // namespace rnnc::ir
