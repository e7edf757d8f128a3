//===- Export.h - rnnc's forward graph as an ONNX model ----------*- C++ -*-===//
//
// rnnc --emit=onnx (docs/onnx.md): the ops the model's output needs, as ONNX
// opset 14 (LSTM/GRU with layout=1, batch-major like rnnc), the parameters
// as initializers under their PyTorch names and layouts. Checked by the ONNX
// checker and written atomically.
#pragma once

#include "compiler/ir/Graph.h"

#include <map>
#include <string>
#include <vector>

namespace rnnc::onnx {

/// The opset rnnc writes.
constexpr int64_t kExportOpset = 14;

/// Writes the forward graph of `graph` to `path`. `params` holds every
/// parameter's values by name, in PyTorch's layout. False with `error` set
/// (naming the op rnnc cannot export) on failure; `path` is then untouched.
bool exportModel(const ir::Graph &graph, const std::map<std::string, std::vector<float>> &params,
                 const std::string &path, std::string &error);

} // namespace rnnc::onnx
