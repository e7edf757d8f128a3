//===- ImportLayout.cpp - ONNX layout ops as axis orders and steps ----------===//
#include "compiler/onnx/Importer.h"

#include <algorithm>
#include <limits>

namespace rnnc::onnx::detail {

int64_t Importer::axisLength(const Tensor &t, char axis) const {
  switch (axis) {
  case 'B': return kBatch;
  case 'T': return t.step ? 1 : timeSteps(t);
  case 'D': return static_cast<int64_t>(t.parts.size());
  default: {
    if (t.order.find('D') != std::string::npos)
      return graph_.op(t.parts[0]).type.dims.back().size;
    int64_t f = 0;
    for (ValueId p : t.parts)
      f += graph_.op(p).type.dims.back().size;
    return f;
  }
  }
}

std::vector<int64_t> Importer::dimsOf(const Tensor &t) const {
  std::vector<int64_t> dims;
  for (char a : t.order)
    dims.push_back(axisLength(t, a));
  return dims;
}

void Importer::applyStep(Tensor &t, int64_t step) {
  const int64_t steps = timeSteps(t);
  if (step < 0)
    step += steps;
  if (step != 0 && step != steps - 1)
    fail("selects time step " + std::to_string(step) + " of " + std::to_string(steps) +
         "; rnnc selects only the first or the last step");
  for (ValueId &p : t.parts)
    p = add(step == 0 ? OpKind::First : OpKind::Last, {p}, {}, graph_.op(p).name + (step == 0 ? ".first" : ".last"));
  t.order.erase(t.order.find('T'), 1);
  t.step.reset();
}

ValueId Importer::materialize(const Tensor &t) {
  if (t.order.find('D') != std::string::npos && t.parts.size() > 1)
    fail("uses a tensor with a separate direction axis (" + t.order +
         "); rnnc joins directions along the features: Transpose/Reshape it to [..., D*H] first");
  if (t.step)
    fail("uses a single time step that keeps its time axis; Squeeze it away first");
  if (t.parts.size() == 1)
    return t.parts[0];
  AttrMap a;
  a.set("axis", Attr::ofInt(static_cast<int64_t>(graph_.op(t.parts[0]).type.rank()) - 1));
  return add(OpKind::Concat, t.parts, a, node_ ? node_->output(0) : "concat");
}

void Importer::dropUnitD(Tensor &t) {
  size_t d = t.order.find('D');
  if (d != std::string::npos && t.parts.size() == 1)
    t.order.erase(d, 1);
}

void Importer::lowerConcat() {
  std::vector<Tensor> ins;
  for (int k = 0; k < node_->input_size(); ++k)
    ins.push_back(tensorInput(k, "input " + std::to_string(k)));
  const int64_t axis = normAxis(intAttr("axis", 0), ins[0].order.size(), [&] { fail("axis out of range"); });
  if (ins[0].order[axis] == 'D') { // stacking layers' and directions' final states (h_n)
    Tensor out = ins[0];
    out.parts.clear();
    for (const Tensor &t : ins) {
      if (t.order != ins[0].order || t.step)
        fail("Concat along the direction axis needs inputs of one layout; got " + t.order + " and " + ins[0].order);
      out.parts.insert(out.parts.end(), t.parts.begin(), t.parts.end());
    }
    return setTensor(0, out);
  }
  std::vector<ValueId> parts;
  for (Tensor &t : ins) {
    dropUnitD(t);
    if (t.order != ins[0].order || t.order[axis] != 'F')
      fail("Concat is supported along the features of tensors of one layout; got axis " + std::to_string(axis) +
           " of layout " + t.order);
    parts.push_back(materialize(t));
  }
  AttrMap a;
  a.set("axis", Attr::ofInt(static_cast<int64_t>(graph_.op(parts[0]).type.rank()) - 1));
  setTensor(0, like(ins[0], add(OpKind::Concat, parts, a, node_->output(0))));
}

void Importer::lowerTranspose() {
  Tensor t = tensorInput(0, "the input");
  std::vector<int64_t> perm = intsAttr("perm").value_or(std::vector<int64_t>{});
  if (perm.empty())
    for (int64_t k = static_cast<int64_t>(t.order.size()) - 1; k >= 0; --k)
      perm.push_back(k);
  if (perm.size() != t.order.size())
    fail("perm has " + std::to_string(perm.size()) + " axes for a tensor of rank " + std::to_string(t.order.size()));
  std::string order;
  for (int64_t p : perm)
    order += t.order.at(normAxis(p, t.order.size(), [&] { fail("perm out of range"); }));
  t.order = order;
  setTensor(0, t);
}

void Importer::dropAxis(Tensor &t, size_t a) {
  const char which = t.order[a];
  if (which == 'D' && t.parts.size() == 1)
    t.order.erase(a, 1);
  else if (which == 'T' && t.step)
    applyStep(t, *t.step);
  else if (which == 'T' && timeSteps(t) == 1)
    applyStep(t, 0);
  else
    fail("removes axis " + std::to_string(a) + " (" + std::string(1, which) + ", length " +
         std::to_string(axisLength(t, which)) + "); only axes of length 1 can be removed");
}

void Importer::lowerSqueeze() {
  Tensor t = tensorInput(0, "the input");
  std::vector<int64_t> axes = axesOf(1, 13).value_or(std::vector<int64_t>{});
  if (axes.empty())
    for (size_t a = 0; a < t.order.size(); ++a)
      if (t.order[a] != 'B' && axisLength(t, t.order[a]) == 1)
        axes.push_back(static_cast<int64_t>(a));
  std::vector<char> letters;
  for (int64_t x : axes)
    letters.push_back(t.order.at(normAxis(x, t.order.size(), [&] { fail("axis out of range"); })));
  for (char c : letters)
    dropAxis(t, t.order.find(c));
  setTensor(0, t);
}

void Importer::lowerReduceSteps(bool max) {
  Tensor t = tensorInput(0, "the input");
  const std::optional<std::vector<int64_t>> axes = axesOf(1, 18);
  const size_t time = t.order.find('T');
  if (t.dtype != DType::F32 || time == std::string::npos || t.step || !axes || axes->size() != 1 ||
      normAxis(axes->front(), t.order.size(), [&] { fail("axis out of range"); }) != static_cast<int64_t>(time) ||
      intAttr("keepdims", 1) != 0)
    fail("is supported only over the time axis alone with keepdims=0 (rnnc's mean / max over the steps)");
  for (ValueId &p : t.parts)
    p = add(max ? OpKind::Max : OpKind::Mean, {p}, {}, graph_.op(p).name + (max ? ".max" : ".mean"));
  t.order.erase(time, 1);
  setTensor(0, t);
}

void Importer::lowerReshape() {
  Tensor t = tensorInput(0, "the input");
  const Value &shape = constInput(1, "the shape");
  std::vector<int64_t> src = dimsOf(t), target(shape.data.begin(), shape.data.end());
  const bool allowZero = intAttr("allowzero", 0) != 0;
  for (size_t j = 0; j < target.size(); ++j)
    if (target[j] == 0 && !allowZero) {
      if (j >= src.size())
        fail("shape entry 0 beyond the input's rank");
      target[j] = src[j];
    }
  auto bad = [&] {
    fail("Reshape from " + shapeStr(src) + " (axes " + t.order + ") to " + shapeStr(target) +
         " is not a layout change rnnc supports (merging directions into features, dropping axes of length 1)");
  };
  // Match source axes to target dims left to right.
  std::string order;
  bool mergeD = false;
  std::vector<size_t> drops; // letters of axes removed
  std::string dropLetters;
  size_t i = 0;
  for (size_t j = 0; j < target.size(); ++j) {
    const int64_t want = target[j];
    const size_t srcLeft = src.size() - i, tgtLeft = target.size() - j;
    // Axes of length 1 that the target does not keep.
    while (i < src.size() && src[i] == 1 && want != 1 && srcLeft > tgtLeft) {
      dropLetters += t.order[i];
      ++i;
    }
    if (i >= src.size())
      bad();
    if (src[i] == kBatch) {
      if (want != kBatch && want != -1 && want != staticBatch_)
        bad();
      order += 'B';
      ++i;
      continue;
    }
    if (want == src[i] && !(want == -1)) {
      order += t.order[i];
      ++i;
      continue;
    }
    // D then F merged into one axis.
    if (i + 1 < src.size() && t.order[i] == 'D' && t.order[i + 1] == 'F' &&
        (want == -1 || want == src[i] * src[i + 1])) {
      order += 'F';
      mergeD = true;
      i += 2;
      continue;
    }
    if (want == -1 && src.size() - i == target.size() - j) {
      order += t.order[i];
      ++i;
      continue;
    }
    bad();
  }
  while (i < src.size() && src[i] == 1)
    dropLetters += t.order[i++];
  if (i != src.size())
    bad();
  for (char c : dropLetters) {
    Tensor probe = t;
    size_t a = probe.order.find(c);
    dropAxis(probe, a);
    t = probe;
  }
  if (mergeD) {
    t.order.erase(t.order.find('D'), 1);
  }
  // What is left of t.order must equal the new order.
  if (t.order != order)
    bad();
  setTensor(0, t);
}

void Importer::lowerSlice() {
  Tensor t = tensorInput(0, "the input");
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset_ < 10) {
    starts = intsAttr("starts").value_or(std::vector<int64_t>{});
    ends = intsAttr("ends").value_or(std::vector<int64_t>{});
    axes = intsAttr("axes").value_or(std::vector<int64_t>{});
  } else {
    auto ints = [&](int k) {
      const Value &v = input(k, "a slice bound");
      if (v.kind == Value::Kind::Absent)
        return std::vector<int64_t>{};
      if (v.kind != Value::Kind::Const)
        fail("the slice bounds must be constants");
      return std::vector<int64_t>(v.data.begin(), v.data.end());
    };
    starts = ints(1), ends = ints(2), axes = ints(3), steps = ints(4);
  }
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k)
      axes.push_back(static_cast<int64_t>(k));
  for (size_t k = 0; k < axes.size(); ++k) {
    if (!steps.empty() && steps[k] != 1)
      fail("slices with a step other than 1 are not supported");
    const size_t a = normAxis(axes[k], t.order.size(), [&] { fail("axis out of range"); });
    const char which = t.order[a];
    const int64_t n = which == 'B' ? std::numeric_limits<int64_t>::max() : axisLength(t, which);
    int64_t s = starts[k], e = ends[k];
    s = std::clamp<int64_t>(s < 0 ? s + n : s, 0, n);
    e = std::clamp<int64_t>(e < 0 ? e + n : e, 0, n);
    if (s == 0 && e == n)
      continue; // the whole axis
    if (which == 'T' && e - s == 1 && !t.step) {
      t.step = s;
      continue;
    }
    if (which == 'D' && e - s == 1) {
      t.parts = {t.parts[s]};
      continue;
    }
    fail("slices [" + std::to_string(s) + ", " + std::to_string(e) + ") of axis " + std::to_string(a) + " (" +
         std::string(1, which) + ", length " + std::to_string(n) +
         "); rnnc slices only single time steps (first/last) and single directions");
  }
  setTensor(0, t);
}

} // namespace rnnc::onnx::detail
