//===- Frontend.h - From a file on disk to a verified graph -----*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/support/Diagnostics.h"

#include <map>
#include <optional>
#include <ostream>
#include <string>

namespace rnnc {

enum class EmitKind { None, AST, IR, Summary };

struct FrontendOptions {
  EmitKind emit = EmitKind::None;
  bool printLocations = false;
  /// How to read the input: by extension when empty (".ir" is graph IR,
  /// ".onnx" an ONNX model, anything else a .rnn model), else "rnn", "ir" or
  /// "onnx".
  std::string inputLanguage;
  /// ONNX: sizes for named dynamic dimensions (rnnc --onnx-dim NAME=N).
  std::map<std::string, int64_t> onnxDims;
  /// ONNX: a training stub, a .rnn model file that adds the loss, optimizer,
  /// train and data blocks to the import (rnnc --train STUB.rnn; lowerStub in
  /// compiler/lower/Lower.h). Empty: none.
  std::string trainStub;
  /// Append the gradient graph (compiler/passes/Autodiff.h) after lowering.
  bool autodiff = false;
};

/// The front-end pipeline, one step per line: read -> parse -> (emit ast) ->
/// lower (name resolution, layer expansion, shape inference) -> verify ->
/// (emit ir). `.ir` files skip to parsing the graph IR; `.onnx` files are
/// imported (compiler/onnx/Import.h), then given the training stub if there
/// is one (parsed and lowered onto the import). Errors go to `diag`;
/// the requested stage is printed to `out`. Returns true when every step
/// succeeded; the graph (when the pipeline got that far) goes to `graphOut`.
bool runFrontend(const std::string &path, const FrontendOptions &options, Diagnostics &diag,
                 std::ostream &out, std::optional<ir::Graph> *graphOut = nullptr);

} // namespace rnnc
