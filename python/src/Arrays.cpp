//===- Arrays.cpp - Views of NumPy arrays; the package's exceptions -------===//
#include "python/src/Arrays.h"

#include "runtime/checkpoint/Metadata.h"

namespace rnnc::python {
namespace {

PyObject *gErrors[5] = {};

template <class T> bool isExactly(const py::array &a) {
  return py::isinstance<py::array_t<T>>(a) && (a.flags() & py::array::c_style);
}

[[noreturn]] void internal(const std::string &message) {
  throw py::value_error("internal: " + message + " (rnnc/_arrays.py should have converted it)");
}

} // namespace

void registerErrors(py::module_ &module) {
  PyObject *base = PyErr_NewExceptionWithDoc("rnnc.Error", "Every error rnnc reports (a subclass also derives from "
                                             "the matching built-in: ValueError, OSError, RuntimeError).",
                                             PyExc_Exception, nullptr);
  struct Kind {
    const char *name, *doc;
    PyObject *builtin;
  } kinds[] = {
      {"CompileError", "The model file has errors (each as path:line:col: error: ... with the source line).",
       PyExc_ValueError},
      {"LoadError", "A model.so cannot be used here (missing, another ABI, CPU features this machine lacks).",
       PyExc_OSError},
      {"DataError", "A data set is missing, malformed, or does not fit the model.", PyExc_ValueError},
      {"CheckpointError", "A checkpoint or state dict cannot be read, written, or does not fit the model.",
       PyExc_ValueError},
      {"TrainingError", "Training failed (a non-finite loss, a failed step).", PyExc_RuntimeError},
  };
  module.add_object("Error", py::handle(base));
  for (int k = 0; k < 5; ++k) {
    py::tuple bases = py::make_tuple(py::handle(base), py::handle(kinds[k].builtin));
    gErrors[k] = PyErr_NewExceptionWithDoc((std::string("rnnc.") + kinds[k].name).c_str(), kinds[k].doc,
                                           bases.ptr(), nullptr);
    module.add_object(kinds[k].name, py::handle(gErrors[k]));
  }
}

void raise(ErrorKind kind, const std::string &message) {
  PyErr_SetString(gErrors[static_cast<int>(kind)], message.c_str());
  throw py::error_already_set();
}

int64_t perSample(const rnnc_tensor_desc &desc) {
  int64_t n = 1;
  for (int32_t k = 1; k < desc.rank; ++k)
    n *= desc.dims[k];
  return n;
}

std::vector<py::ssize_t> shapeOf(const rnnc_tensor_desc &desc, int64_t count) {
  std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(count)};
  for (int32_t k = 1; k < desc.rank; ++k)
    shape.push_back(static_cast<py::ssize_t>(desc.dims[k]));
  return shape;
}

train::SplitView viewOf(const rnnc_model_info &info, const py::object &inputs, const py::object &y) {
  const int32_t lengthsInput = checkpoint::lengthsInputOf(info);
  const rnnc_tensor_desc &input = info.inputs[std::max(checkpoint::dataInputOf(info), 0)];
  // A model with a lengths input takes (tokens, lengths), checked in Python.
  const bool pair = lengthsInput >= 0;
  if (pair && !(py::isinstance<py::tuple>(inputs) && py::len(inputs) == 2))
    internal("the inputs of a model with lengths are not a pair");
  const py::array x = pair ? inputs.cast<py::tuple>()[0].cast<py::array>() : inputs.cast<py::array>();
  train::SplitView view;
  view.count = x.ndim() > 0 ? static_cast<int64_t>(x.shape(0)) : 0;
  view.inputWidth = perSample(input);
  if (static_cast<int64_t>(x.size()) != view.count * view.inputWidth)
    internal("input '" + std::string(input.name) + "' has the wrong shape");
  if (input.dtype == RNNC_I32) {
    if (!isExactly<int32_t>(x))
      internal("input '" + std::string(input.name) + "' is not a C-contiguous int32 array");
    view.ids = static_cast<const int32_t *>(x.data());
  } else {
    if (!isExactly<float>(x))
      internal("input '" + std::string(input.name) + "' is not a C-contiguous float32 array");
    view.x = static_cast<const float *>(x.data());
  }
  if (pair) {
    const py::array lengths = inputs.cast<py::tuple>()[1].cast<py::array>();
    if (!isExactly<int32_t>(lengths) || static_cast<int64_t>(lengths.size()) != view.count)
      internal("input '" + std::string(info.inputs[lengthsInput].name) + "' is not one int32 per sample");
    view.lengths = static_cast<const int32_t *>(lengths.data());
  }
  if (y.is_none())
    return view;
  const rnnc_tensor_desc &target = info.train.targets[0];
  const py::array t = y.cast<py::array>();
  if (static_cast<int64_t>(t.size()) != view.count * perSample(target))
    internal("target '" + std::string(target.name) + "' has the wrong shape");
  if (target.dtype == RNNC_I32) {
    if (!isExactly<int32_t>(t))
      internal("target '" + std::string(target.name) + "' is not a C-contiguous int32 array");
    view.labels = static_cast<const int32_t *>(t.data());
  } else {
    if (!isExactly<float>(t))
      internal("target '" + std::string(target.name) + "' is not a C-contiguous float32 array");
    view.y = static_cast<const float *>(t.data());
  }
  return view;
}

} // namespace rnnc::python
