//===- Arrays.h - NumPy arrays to runtime splits, errors to exceptions -*- C++ -*-===//
//
// The extension's shared helpers. The Python layer (rnnc/_arrays.py) checks
// and converts what users pass, with messages that name the input; here the
// arrays arrive as exactly the dtype and layout the runtime reads, and a
// mismatch is a bug of that layer (ValueError "internal: ...").
#pragma once

#include "runtime/train/Trainer.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace rnnc::python {

namespace py = pybind11;

/// The package's exceptions (rnnc.Error and its kinds, created in the module).
enum class ErrorKind { Compile, Load, Data, Checkpoint, Training };
void registerErrors(py::module_ &module);
[[noreturn]] void raise(ErrorKind kind, const std::string &message);

/// Elements per sample of a tensor (the product of its dims after the batch).
int64_t perSample(const rnnc_tensor_desc &desc);
/// The shape of `count` samples of a tensor: (count, dims[1], ...).
std::vector<py::ssize_t> shapeOf(const rnnc_tensor_desc &desc, int64_t count);

/// A view of `x` (the model's input) and `y` (its target, or None) without
/// copying: both must be C-contiguous, of the tensors' dtypes, with the same
/// number of samples.
train::SplitView viewOf(const rnnc_model_info &info, const py::object &x, const py::object &y);

/// A NumPy array that owns `values` (moved, not copied).
template <class T> py::array arrayOf(std::vector<T> &&values, std::vector<py::ssize_t> shape) {
  auto *owned = new std::vector<T>(std::move(values));
  py::capsule release(owned, [](void *p) { delete static_cast<std::vector<T> *>(p); });
  return py::array_t<T>(shape, owned->data(), release);
}

} // namespace rnnc::python
