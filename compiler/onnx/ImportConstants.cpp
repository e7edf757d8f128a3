//===- ImportConstants.cpp - ONNX constants and shape arithmetic ------------===//
#include "compiler/onnx/Importer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace rnnc::onnx::detail {

Value Importer::constantOf(const ::onnx::TensorProto &t, const std::string &what) {
  Value v;
  v.kind = Value::Kind::Const;
  v.name = t.name();
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || d > ir::kMaxElements || count * std::max<int64_t>(d, 1) > (int64_t(1) << 31))
      fail(what + " has a bad or too large shape");
    v.dims.push_back(d);
    count *= d;
  }
  if (t.data_location() == ::onnx::TensorProto::EXTERNAL)
    fail(what + " keeps its data in an external file; save the model with its weights inside "
                "(onnx.save(model, path, save_as_external_data=False))");
  const std::string &raw = t.raw_data();
  auto fromRaw = [&](size_t size, auto read) {
    if (raw.size() != static_cast<size_t>(count) * size)
      fail(what + " has " + std::to_string(raw.size()) + " bytes of data for shape " + shapeStr(v.dims));
    for (int64_t k = 0; k < count; ++k)
      v.data.push_back(read(raw.data() + k * size));
  };
  switch (t.data_type()) {
  case ::onnx::TensorProto::FLOAT:
    if (t.has_raw_data())
      fromRaw(4, [](const char *p) { float f; std::memcpy(&f, p, 4); return double(f); });
    else
      v.data.assign(t.float_data().begin(), t.float_data().end());
    break;
  case ::onnx::TensorProto::DOUBLE:
    if (t.has_raw_data())
      fromRaw(8, [](const char *p) { double f; std::memcpy(&f, p, 8); return f; });
    else
      v.data.assign(t.double_data().begin(), t.double_data().end());
    break;
  case ::onnx::TensorProto::INT64:
    v.integer = true;
    if (t.has_raw_data())
      fromRaw(8, [](const char *p) { int64_t i; std::memcpy(&i, p, 8); return double(i); });
    else
      v.data.assign(t.int64_data().begin(), t.int64_data().end());
    break;
  case ::onnx::TensorProto::INT32:
  case ::onnx::TensorProto::BOOL:
    v.integer = true;
    if (t.has_raw_data())
      fromRaw(t.data_type() == ::onnx::TensorProto::BOOL ? 1 : 4, [&](const char *p) {
        if (t.data_type() == ::onnx::TensorProto::BOOL)
          return double(*p != 0);
        int32_t i; std::memcpy(&i, p, 4); return double(i);
      });
    else
      v.data.assign(t.int32_data().begin(), t.int32_data().end());
    break;
  default:
    fail(what + " has element type " + ::onnx::TensorProto::DataType_Name(t.data_type()) +
         "; rnnc reads float, double, int32 and int64 constants");
  }
  if (static_cast<int64_t>(v.data.size()) != count)
    fail(what + " has " + std::to_string(v.data.size()) + " values for shape " + shapeStr(v.dims));
  return v;
}

Value Importer::constant(std::vector<int64_t> dims, std::vector<double> data, bool integer) {
  Value v;
  v.kind = Value::Kind::Const;
  v.dims = std::move(dims);
  v.data = std::move(data);
  v.integer = integer;
  return v;
}

void Importer::lowerConstant() {
  const auto *value = attr("value");
  if (value && value->has_t())
    return setOutput(0, constantOf(value->t(), "the constant"));
  if (const auto *a = attr("value_float"))
    return setOutput(0, constant({}, {a->f()}, false));
  if (const auto *a = attr("value_int"))
    return setOutput(0, constant({}, {double(a->i())}, true));
  if (const auto *a = attr("value_ints"))
    return setOutput(0, constant({a->ints_size()}, {a->ints().begin(), a->ints().end()}, true));
  if (const auto *a = attr("value_floats"))
    return setOutput(0, constant({a->floats_size()}, {a->floats().begin(), a->floats().end()}, false));
  fail("this kind of Constant is not supported (rnnc reads value, value_float(s), value_int(s))");
}

void Importer::lowerShape() {
  const Value &v = input(0, "the input");
  std::vector<int64_t> dims;
  if (v.kind == Value::Kind::Tensor)
    dims = dimsOf(v.tensor);
  else if (v.kind == Value::Kind::Const || v.kind == Value::Kind::Zeros)
    dims = v.dims;
  else
    fail("the input is missing");
  if (opset_ >= 15) { // start and end attributes
    const int64_t r = static_cast<int64_t>(dims.size());
    int64_t start = intAttr("start", 0), end = intAttr("end", r);
    start = std::clamp<int64_t>(start < 0 ? start + r : start, 0, r);
    end = std::clamp<int64_t>(end < 0 ? end + r : end, 0, r);
    dims = std::vector<int64_t>(dims.begin() + start, dims.begin() + std::max(start, end));
  }
  setOutput(0, constant({static_cast<int64_t>(dims.size())}, {dims.begin(), dims.end()}, true));
}

void Importer::lowerConstantOfShape() {
  const Value &shape = constInput(0, "the shape");
  double fill = 0;
  if (const auto *a = attr("value"); a && a->has_t()) {
    Value c = constantOf(a->t(), "the fill value");
    if (!c.data.empty())
      fill = c.data[0];
  }
  std::vector<int64_t> dims(shape.data.begin(), shape.data.end());
  const bool symbolic = std::find(dims.begin(), dims.end(), kBatch) != dims.end();
  if (fill == 0) {
    Value z;
    z.kind = Value::Kind::Zeros;
    z.dims = dims;
    return setOutput(0, z);
  }
  if (symbolic)
    return setUnusable(0, "a batch-sized constant that is not zero is not supported");
  int64_t count = 1;
  for (int64_t d : dims)
    count *= d;
  setOutput(0, constant(dims, std::vector<double>(count, fill), false));
}

bool Importer::foldConstant(const std::string &op) {
  auto in = [&](int k) -> const Value & { return input(k, "input " + std::to_string(k)); };
  const Value &a = in(0);
  // Zeros stay zeros through layout ops and casts (recurrent initial states).
  if (a.kind == Value::Kind::Zeros) {
    static const std::set<std::string> keep = {"Slice", "Gather", "Squeeze", "Unsqueeze", "Reshape", "Transpose",
                                               "Expand", "Cast", "Identity", "Tile"};
    if (!keep.count(op))
      return false;
    Value z = a;
    z.dims.clear(); // shape no longer tracked: only used as an initial state
    setOutput(0, z);
    return true;
  }
  if (a.kind != Value::Kind::Const)
    return false;
  // A zero broadcast to a shape (torch's initial states at some opsets).
  if (op == "Expand" && std::all_of(a.data.begin(), a.data.end(), [](double x) { return x == 0; })) {
    Value z;
    z.kind = Value::Kind::Zeros;
    z.dims = std::vector<int64_t>(in(1).data.begin(), in(1).data.end());
    setOutput(0, z);
    return true;
  }
  auto shapeValue = [](const Value &v) { return std::vector<int64_t>(v.data.begin(), v.data.end()); };
  if (op == "Identity" || op == "Cast") {
    Value v = a;
    v.name.clear();
    if (op == "Cast") {
      const int64_t to = intAttr("to", 0);
      v.integer = to != ::onnx::TensorProto::FLOAT && to != ::onnx::TensorProto::DOUBLE && to != ::onnx::TensorProto::FLOAT16;
    }
    setOutput(0, v);
    return true;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    Value v = a;
    v.name.clear();
    std::vector<int64_t> axes = axesOf(1, 13).value_or(std::vector<int64_t>{});
    if (op == "Unsqueeze") {
      const size_t rank = v.dims.size() + axes.size();
      for (int64_t &x : axes)
        x = normAxis(x, rank, [&] { fail("axis out of range"); });
      std::sort(axes.begin(), axes.end());
      for (int64_t x : axes)
        v.dims.insert(v.dims.begin() + x, 1);
    } else {
      std::vector<int64_t> dims;
      for (size_t d = 0; d < v.dims.size(); ++d) {
        bool drop = axes.empty() ? v.dims[d] == 1
                                 : std::any_of(axes.begin(), axes.end(), [&](int64_t x) {
                                     return normAxis(x, v.dims.size(), [&] { fail("axis out of range"); }) ==
                                            static_cast<int64_t>(d);
                                   });
        if (!drop)
          dims.push_back(v.dims[d]);
      }
      v.dims = dims;
    }
    setOutput(0, v);
    return true;
  }
  if (op == "Transpose" && a.dims.size() == 2) { // a weight stored as PyTorch's [U, I] (rnnc's export)
    std::vector<int64_t> perm = intsAttr("perm").value_or(std::vector<int64_t>{1, 0});
    if (perm != std::vector<int64_t>{1, 0}) {
      setOutput(0, a);
      return true;
    }
    Value v = constant({a.dims[1], a.dims[0]}, std::vector<double>(a.data.size()), a.integer);
    for (int64_t i = 0; i < a.dims[0]; ++i)
      for (int64_t j = 0; j < a.dims[1]; ++j)
        v.data[j * a.dims[0] + i] = a.data[i * a.dims[1] + j];
    setOutput(0, v);
    return true;
  }
  if (op == "Concat") {
    Value v;
    v.kind = Value::Kind::Const;
    v.integer = true;
    for (int k = 0; k < node_->input_size(); ++k) {
      const Value &c = in(k);
      if (c.kind != Value::Kind::Const || c.dims.size() > 1)
        return false;
      v.data.insert(v.data.end(), c.data.begin(), c.data.end());
      v.integer &= c.integer;
    }
    v.dims = {static_cast<int64_t>(v.data.size())};
    setOutput(0, v);
    return true;
  }
  if (op == "Gather") {
    const Value &idx = in(1);
    if (idx.kind != Value::Kind::Const || a.dims.size() != 1 || intAttr("axis", 0) != 0)
      return false;
    Value v = constant(idx.dims, {}, a.integer);
    for (double i : idx.data) {
      int64_t k = static_cast<int64_t>(i);
      if (k < 0)
        k += static_cast<int64_t>(a.data.size());
      if (k < 0 || k >= static_cast<int64_t>(a.data.size()))
        fail("index " + std::to_string(static_cast<int64_t>(i)) + " out of range");
      v.data.push_back(a.data[k]);
    }
    setOutput(0, v);
    return true;
  }
  if (op == "Slice" && a.dims.size() == 1 && opset_ >= 10) {
    const int64_t n = static_cast<int64_t>(a.data.size());
    int64_t start = static_cast<int64_t>(in(1).data.at(0)), end = static_cast<int64_t>(in(2).data.at(0));
    if (node_->input_size() > 4 && !node_->input(4).empty() && in(4).data.at(0) != 1)
      return false;
    start = std::clamp<int64_t>(start < 0 ? start + n : start, 0, n);
    end = std::clamp<int64_t>(end < 0 ? end + n : end, 0, n);
    Value v = constant({std::max<int64_t>(0, end - start)}, {}, a.integer);
    for (int64_t k = start; k < end; ++k)
      v.data.push_back(a.data[k]);
    setOutput(0, v);
    return true;
  }
  if (op == "Reshape") {
    Value v = a;
    v.name.clear();
    v.dims = shapeValue(in(1));
    int64_t known = 1, unknown = -1;
    for (size_t d = 0; d < v.dims.size(); ++d) {
      if (v.dims[d] == 0 && d < a.dims.size())
        v.dims[d] = a.dims[d];
      if (v.dims[d] == -1)
        unknown = static_cast<int64_t>(d);
      else
        known *= v.dims[d];
    }
    if (unknown >= 0)
      v.dims[unknown] = known ? static_cast<int64_t>(a.data.size()) / known : 0;
    setOutput(0, v);
    return true;
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && node_->input_size() == 2 &&
      in(1).kind == Value::Kind::Const) {
    const Value &b = in(1);
    if (a.data.size() != b.data.size() && b.data.size() != 1 && a.data.size() != 1)
      return false;
    const Value &big = a.data.size() >= b.data.size() ? a : b;
    Value v = constant(big.dims, {}, a.integer && b.integer);
    for (size_t k = 0; k < big.data.size(); ++k) {
      double x = a.data[a.data.size() == 1 ? 0 : k], y = b.data[b.data.size() == 1 ? 0 : k];
      if (x == kBatch || y == kBatch)
        return false;
      v.data.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y
                       : v.integer ? std::floor(x / y) : x / y);
    }
    setOutput(0, v);
    return true;
  }
  return false;
}

} // namespace rnnc::onnx::detail
