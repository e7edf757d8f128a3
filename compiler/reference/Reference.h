//===- Reference.h - The double-precision oracle for every op ---*- C++ -*-===//
//
// Naive loops in double precision, written for clarity rather than speed,
// following PyTorch's conventions (LSTM gates i,f,g,o; GRU r,z,n with the
// linear-before-reset form; two biases). Both execution plans are tested
// against it.
#pragma once

#include "compiler/ir/Graph.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rnnc::reference {

/// A dense row-major tensor; i32 data is held as doubles too.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape);
  int64_t size() const;
};

/// Evaluates `graph` for a batch. `feeds` gives every input and target by
/// name and every parameter by its PyTorch name, in PyTorch's layout. Returns
/// the value of every op (indexed by ValueId), gradient ops included; ops that
/// depend on a target that is not in `feeds` (the losses) are left empty. Throws std::invalid_argument on a missing feed, a shape
/// mismatch or an out-of-range token id.
/// In training, dropout draws its masks from (seed, step) as the compiled
/// plans do (rnnc_dropout_uniform); in inference it is the identity.
struct EvalOptions {
  bool training = false;
  uint64_t seed = 0, step = 0;
};
std::vector<Tensor> evaluate(const ir::Graph &graph, const std::map<std::string, Tensor> &feeds,
                             const EvalOptions &options = {});

/// The scalar functions the plans approximate.
double sigmoid(double x);

} // namespace rnnc::reference
