//===- Types.cpp - Tensor types: printing, element counts -----------------===//
#include "compiler/ir/Types.h"

namespace rnnc::ir {

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32: return "f32";
  case DType::I32: return "i32";
  }
  return "?";
}

std::optional<DType> parseDType(const std::string &name) {
  if (name == "f32")
    return DType::F32;
  if (name == "i32")
    return DType::I32;
  return std::nullopt;
}

bool TensorType::isStatic() const {
  for (const Dim &d : dims)
    if (d.isSymbolic())
      return false;
  return true;
}

std::optional<int64_t> TensorType::elementCount() const {
  int64_t count = 1;
  for (const Dim &d : dims) {
    if (d.isSymbolic() || d.size < 0)
      return std::nullopt;
    if (d.size != 0 && count > kMaxElements / d.size)
      return std::nullopt;
    count *= d.size;
  }
  return count;
}

std::string TensorType::str() const {
  std::string s = dtypeName(dtype);
  s += "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      s += ",";
    s += dims[i].str();
  }
  return s + "]";
}

} // namespace rnnc::ir
