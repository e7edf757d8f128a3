//===- Frontend.cpp - The front-end pipeline as a script ------------------===//
#include "compiler/driver/Frontend.h"

#include "compiler/ir/IRParser.h"
#include "compiler/ir/Printer.h"
#include "compiler/ir/Verifier.h"
#include "compiler/lower/Lower.h"
#include "compiler/onnx/Import.h"
#include "compiler/parse/ASTPrinter.h"
#include "compiler/parse/Parser.h"
#include "compiler/passes/Autodiff.h"

#include <sstream>

namespace rnnc {
namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The largest source file accepted; larger ones are certainly not models.
constexpr size_t kMaxSourceBytes = 16u << 20;

/// Reads a source file into `diag` (for its excerpts); null after reporting
/// why not.
std::shared_ptr<SourceFile> readSource(const std::string &path, Diagnostics &diag) {
  std::string error;
  std::shared_ptr<SourceFile> file = SourceFile::read(path, error);
  if (!file) {
    diag.error({}, error);
    return nullptr;
  }
  diag.addFile(file);
  if (file->text().size() > kMaxSourceBytes) {
    diag.error(file->loc(1, 1), "file is larger than 16 MiB; this is not a model description");
    return nullptr;
  }
  return file;
}

/// The training stub `stubPath` lowered onto `base` (lowerStub).
std::optional<ir::Graph> addTrainingStub(const std::string &stubPath, ir::Graph base, const std::string &baseWhat,
                                         Diagnostics &diag) {
  std::shared_ptr<SourceFile> file = readSource(stubPath, diag);
  if (!file)
    return std::nullopt;
  std::optional<ast::File> tree = parseFile(*file, diag);
  if (!tree)
    return std::nullopt;
  std::optional<ir::Graph> graph = lowerStub(*tree, file->loc(1, 1), std::move(base), baseWhat, diag);
  if (!graph)
    return std::nullopt;
  std::ostringstream problems;
  Diagnostics verifyDiag(problems);
  RNNC_ASSERT(ir::verifyGraph(*graph, verifyDiag), "lowering a stub produces a valid graph:\n" + problems.str());
  return graph;
}

} // namespace

static bool finishFrontend(std::optional<ir::Graph> graph, const FrontendOptions &options, Diagnostics &diag,
                    std::ostream &out, std::optional<ir::Graph> *graphOut);

bool runFrontend(const std::string &path, const FrontendOptions &options, Diagnostics &diag,
                 std::ostream &out, std::optional<ir::Graph> *graphOut) {
  const bool isOnnx = options.inputLanguage.empty() ? endsWith(path, ".onnx") : options.inputLanguage == "onnx";
  std::optional<ir::Graph> graph;
  if (!options.trainStub.empty() && !isOnnx) {
    diag.error({}, "--train " + options.trainStub + " adds training to an ONNX model; '" + path +
                       "' is not one (a .rnn model declares its loss, optimizer, train and data blocks itself)");
    return false;
  }
  if (isOnnx) {
    if (options.emit == EmitKind::AST) {
      diag.error({}, "--emit=ast needs a .rnn model, not an ONNX model");
      return false;
    }
    graph = onnx::importModel(path, {options.onnxDims}, diag);
    if (!graph)
      return false;
    // The importer checks what it lowers; a graph that still fails
    // verification is reported, not asserted, since the input is foreign.
    if (!ir::verifyGraph(*graph, diag))
      return false;
    if (!options.trainStub.empty()) {
      graph = addTrainingStub(options.trainStub, std::move(*graph), "the imported model '" + path + "'", diag);
      if (!graph)
        return false;
    }
    return finishFrontend(std::move(graph), options, diag, out, graphOut);
  }
  std::shared_ptr<SourceFile> file = readSource(path, diag);
  if (!file)
    return false;
  SourceLoc start = file->loc(1, 1);

  const bool isIR = options.inputLanguage.empty() ? endsWith(path, ".ir") : options.inputLanguage == "ir";
  if (isIR) {
    if (options.emit == EmitKind::AST) {
      diag.error(start, "--emit=ast needs a .rnn model, not graph IR");
      return false;
    }
    graph = ir::parseGraph(*file, diag);
    if (!graph || !ir::verifyGraph(*graph, diag))
      return false;
  } else {
    std::optional<ast::File> tree = parseFile(*file, diag);
    if (!tree)
      return false;
    if (options.emit == EmitKind::AST) {
      printAST(*tree, out);
      return true;
    }
    graph = lowerToGraph(*tree, start, diag);
    if (!graph)
      return false;
    // A graph that fails verification after lowering is a compiler bug.
    std::ostringstream problems;
    Diagnostics verifyDiag(problems);
    RNNC_ASSERT(ir::verifyGraph(*graph, verifyDiag), "lowering produces a valid graph:\n" + problems.str());
  }
  return finishFrontend(std::move(graph), options, diag, out, graphOut);
}

static bool finishFrontend(std::optional<ir::Graph> graph, const FrontendOptions &options, Diagnostics &diag,
                    std::ostream &out, std::optional<ir::Graph> *graphOut) {
  if (options.autodiff) {
    if (!graph->loss) {
      diag.error(graph->loc, "--autodiff needs a model with a loss");
      return false;
    }
    if (!graph->gradients.empty()) {
      diag.error(graph->loc, "the graph is already differentiated");
      return false;
    }
    differentiate(*graph);
    std::ostringstream problems;
    Diagnostics verifyDiag(problems);
    RNNC_ASSERT(ir::verifyGraph(*graph, verifyDiag), "autodiff produces a valid graph:\n" + problems.str());
  }
  if (options.emit == EmitKind::IR)
    ir::printGraph(*graph, out, {options.printLocations});
  else if (options.emit == EmitKind::Summary)
    ir::printSummary(*graph, out);
  if (graphOut)
    *graphOut = std::move(graph);
  return true;
}

} // namespace rnnc
