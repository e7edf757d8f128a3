//===- Import.h - An ONNX model as a graph of rnnc's IR ---------*- C++ -*-===//
//
// The ONNX front end (docs/onnx.md): reads a .onnx file with the ONNX
// library's protobuf classes, runs its checker and shape inference, and
// lowers the graph into rnnc's IR. Weights become parameters with init
// "stored" under PyTorch's names where the names allow.
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/support/Diagnostics.h"

#include <map>
#include <optional>
#include <string>

namespace rnnc::onnx {

struct ImportOptions {
  /// Sizes for named dynamic dimensions (`--onnx-dim seq=256`), applied to
  /// the graph's inputs before shape inference.
  std::map<std::string, int64_t> dims;
};

/// The opsets of the default domain rnnc reads.
constexpr int64_t kMinOpset = 9, kMaxOpset = 17;

/// Imports `path`. Every error names the file and, where one is to blame, the
/// node (`model.onnx: node 17 'name' (op type Attention): ...`). The graph has
/// an output and no loss.
std::optional<ir::Graph> importModel(const std::string &path, const ImportOptions &options, Diagnostics &diag);

} // namespace rnnc::onnx
