//===- Importer.h - The ONNX importer's state, shared by its parts -*- C++ -*-===//
//
// Internal to compiler/onnx (not included outside it). The importer
// interprets the ONNX graph rather than translating it op by op: rnnc's IR is
// batch-major ([B,T,F]) and has no general tensor algebra, so every ONNX
// value is one of
//   - a constant (an initializer, a Constant node, or shape arithmetic on
//     them; the batch size stays symbolic as kBatch),
//   - zeros of some shape (ConstantOfShape: recurrent layers' initial states),
//   - a tensor: rnnc values seen through an ONNX axis order (B batch, T time,
//     D direction, F features), so that Transpose, Squeeze and Reshape change
//     only the order, and Gather/Slice on T select the first or last step.
// Ops are added as the graph is walked; what the output does not need is
// dropped at the end. The methods live by op family:
//   Import.cpp           graph walking: header, inputs, values, attributes, dispatch, pruning
//   ImportConstants.cpp  constants and shape arithmetic
//   ImportRecurrent.cpp  LSTM, GRU
//   ImportDense.cpp      Gather as an embedding, Gemm, MatMul + Add
//   ImportLayout.cpp     axis orders, first/last steps, Concat, Transpose, Squeeze, Reshape, Slice
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/onnx/Import.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rnnc::onnx::detail {

using ir::Attr;
using ir::AttrMap;
using ir::DType;
using ir::OpKind;
using ir::TensorType;
using ir::ValueId;

/// A symbolic batch size inside constant shape arithmetic.
constexpr int64_t kBatch = std::numeric_limits<int64_t>::min();


/// A user-visible failure; caught once, reported as a diagnostic.
struct ImportError {
  std::string message;
};

/// rnnc values seen through an ONNX tensor's axes.
struct Tensor {
  std::vector<ValueId> parts; ///< one per direction when `order` has D; else joined along F
  std::string order;          ///< ONNX axes, each one of B T D F
  /// A T axis of length 1 that stands for step `step` (0 or -1: last) of the
  /// parts' time axis, until a Squeeze or Reshape removes it.
  std::optional<int64_t> step;
  DType dtype = DType::F32;
};

struct Value {
  enum class Kind { Absent, Const, Zeros, Tensor, Unusable } kind = Kind::Absent;
  std::vector<int64_t> dims; ///< Const, Zeros (kBatch for the batch)
  std::vector<double> data;  ///< Const
  bool integer = false;
  std::string name; ///< Const from an initializer: its name
  Tensor tensor;
  std::string why; ///< Unusable: what a use must say
};

/// `name` as an IR name: `/rnn/LSTM_1` -> `rnn.LSTM_1`.
std::string sanitize(const std::string &name);
/// A PyTorch-style name (`fc.weight`), not one an exporter made up.
bool meaningfulName(const std::string &name);
/// `/rnn/LSTM_1` -> `rnn`: the module a node came from, when the exporter said.
std::string modulePath(const std::string &nodeName);
/// `[batch,5,3]`.
std::string shapeStr(const std::vector<int64_t> &dims);

class Importer {
public:
  Importer(const std::string &path, const ImportOptions &options) : path_(path), options_(options) {}
  ir::Graph run(::onnx::ModelProto &model);

private:
  // --- Graph walking: the model header, inputs, values, attributes, node dispatch (Import.cpp) ---

  [[noreturn]] void fail(const std::string &message) const;
  static std::string firstLine(const std::string &text);
  void checkOpset(const ::onnx::ModelProto &model);
  /// Applies --onnx-dim NAME=N to an input's named dimensions.
  void fixDims(::onnx::ValueInfoProto &input);
  void declareInput(const ::onnx::ValueInfoProto &input);
  const Value &valueOf(const std::string &name, const std::string &what);
  const Value &input(int k, const std::string &what);
  const Value &constInput(int k, const std::string &what);
  Tensor tensorOf(const std::string &name, const std::string &what);
  Tensor tensorInput(int k, const std::string &what);
  void setOutput(int k, Value v);
  void setTensor(int k, Tensor t);
  void setUnusable(int k, const std::string &why);
  const ::onnx::AttributeProto *attr(const std::string &name) const;
  int64_t intAttr(const std::string &name, int64_t fallback) const;
  double floatAttr(const std::string &name, double fallback) const;
  std::string stringAttr(const std::string &name, const std::string &fallback) const;
  std::optional<std::vector<int64_t>> intsAttr(const std::string &name) const;
  /// An axes list from the attribute (older opsets) or input k (newer ones).
  std::optional<std::vector<int64_t>> axesOf(int k, int64_t inputSince);
  static int64_t normAxis(int64_t axis, size_t rank, const std::function<void()> &bad);
  ValueId add(OpKind kind, std::vector<ValueId> operands, AttrMap attrs, const std::string &name);
  ValueId param(const std::string &name, std::vector<int64_t> dims, std::vector<float> values);
  /// A parameter from a constant, reusing it when several nodes share it.
  ValueId paramOf(const Value &c, const std::string &fallbackName);
  void lowerNode(const ::onnx::NodeProto &n);
  /// The graph with only the ops the output needs, in the same order.
  ir::Graph prune();

  // --- Constants and shape arithmetic (ImportConstants.cpp) --------------------------------------

  Value constantOf(const ::onnx::TensorProto &t, const std::string &what);
  static Value constant(std::vector<int64_t> dims, std::vector<double> data, bool integer);
  void lowerConstant();
  void lowerShape();
  void lowerConstantOfShape();
  /// Evaluates an op on constants (shape arithmetic). False: not one we fold.
  bool foldConstant(const std::string &op);

  // --- Recurrent layers: LSTM, GRU (ImportRecurrent.cpp) -----------------------------------------

  /// The rows of a [G*H, K] matrix (or a [G*H] vector) with its gate blocks
  /// reordered: block k of the result is block order[k] of `from`.
  static std::vector<float> reorder(const double *from, int64_t gates, int64_t hidden, int64_t cols,
                                    const std::vector<int> &order);
  bool zeroState(const Value &v);
  void lowerRecurrent(bool lstm);

  // --- Embeddings and dense layers: Gather, Gemm, MatMul + Add (ImportDense.cpp) -----------------

  void lowerGather();
  /// A dense layer's weight [U, I] and the name its module gives it.
  ValueId denseWeight(const Value &w, bool transposed, const std::string &stem);
  std::string denseStem();
  void lowerGemm();
  void lowerMatMul();
  void lowerAdd();

  // --- Layouts: axis orders, steps, Concat, Transpose, Squeeze, Reshape, Slice (ImportLayout.cpp) ---

  int64_t axisLength(const Tensor &t, char axis) const;
  std::vector<int64_t> dimsOf(const Tensor &t) const;
  /// Replaces the parts' time axis by their first or last step.
  void applyStep(Tensor &t, int64_t step);
  /// The tensor as one rnnc value (parts joined along the features).
  ValueId materialize(const Tensor &t);
  /// Drops a D axis of length 1 (one direction).
  static void dropUnitD(Tensor &t);
  void lowerConcat();
  void lowerTranspose();
  /// Removes axis `a` of length 1: a single direction or a selected step.
  void dropAxis(Tensor &t, size_t a);
  void lowerSqueeze();
  /// ReduceMean / ReduceMax over the time axis alone, keepdims=0: mean / max.
  void lowerReduceSteps(bool max);
  void lowerReshape();
  void lowerSlice();
  int64_t timeSteps(const Tensor &t) const { return graph_.op(t.parts[0]).type.dims[1].size; }
  /// A tensor with one part and the same order, made of `v`.
  static Tensor like(const Tensor &t, ValueId v) { return Tensor{{v}, t.order, std::nullopt, t.dtype}; }

  // --- State ----------------------------------------------------------------------------------------

  const std::string path_;
  const ImportOptions &options_;
  ir::Graph graph_;
  std::map<std::string, Value> values_;
  std::map<std::string, ValueId> paramsByInitializer_;
  std::map<std::string, int64_t> layersSeen_;
  std::map<std::string, std::pair<ValueId, std::string>> matmuls_;
  int64_t opset_ = 0;
  int64_t staticBatch_ = -2;
  int denseCount_ = 0;
  const ::onnx::NodeProto *node_ = nullptr;
  int nodeIndex_ = 0;
};

} // namespace rnnc::onnx::detail
