//===- DataBinding.cpp - A data block must fit the inputs it feeds --------===//
#include "compiler/lower/DataBinding.h"

#include <cmath>

namespace rnnc {

using ir::Attr;
using ir::Dim;
using ir::DType;
using ir::Op;
using ir::OpKind;

namespace {

bool isLengthsType(const ir::TensorType &type) { return type.dtype == DType::I32 && type.rank() == 1; }

} // namespace

std::optional<ir::ValueId> lengthsInput(const ir::Graph &graph) {
  for (ir::ValueId id = 0; id < graph.size(); ++id)
    if (graph.op(id).kind == OpKind::Input && isLengthsType(graph.op(id).type))
      return id;
  return std::nullopt;
}

void checkDataBinding(const ir::Graph &graph, Diagnostics &diag) {
  // Values imported from elsewhere (a training stub's base) have no location.
  auto noteAt = [&](SourceLoc loc, const std::string &message) {
    if (loc.valid())
      diag.note(loc, message);
  };
  const ir::Section &data = *graph.data;
  std::vector<const Op *> inputs, lengths, targets;
  for (const Op &op : graph.ops()) {
    if (op.kind == OpKind::Input)
      (isLengthsType(op.type) ? lengths : inputs).push_back(&op);
    if (op.kind == OpKind::Target)
      targets.push_back(&op);
  }
  if (inputs.size() != 1) {
    diag.error(data.loc, "data " + data.kind + " feeds exactly one input" +
                              (data.kind == "imdb" ? std::string(" (and one i32[batch] lengths input)") : "") +
                              ", but the model has " + std::to_string(inputs.size()));
    return;
  }
  if (lengths.size() > (data.kind == "imdb" ? 1u : 0u)) {
    const Op &extra = *lengths[data.kind == "imdb" ? 1 : 0];
    diag.error(data.loc, data.kind == "imdb"
                             ? "data imdb feeds one lengths input i32[batch], but '" + extra.name + "' is a second one"
                             : "data csv feeds no sequence lengths (every window is full), but input '" + extra.name +
                                   "' is " + extra.type.str());
    noteAt(extra.loc, "'" + extra.name + "' is declared here");
    return;
  }
  const Op &in = *inputs[0];
  if (data.kind == "imdb") {
    const int64_t maxlen = data.attrs.getInt("maxlen");
    if (in.type.dtype != DType::I32 || in.type.rank() != 2 || in.type.dims[1] != Dim::fixed(maxlen)) {
      diag.error(data.loc, "data imdb with maxlen=" + std::to_string(maxlen) +
                                " feeds token ids of type i32[batch," + std::to_string(maxlen) +
                                "], but input '" + in.name + "' is " + in.type.str());
      noteAt(in.loc, "'" + in.name + "' is declared here");
    }
    for (const Op &op : graph.ops())
      if (op.kind == OpKind::Embedding && op.operands[0] == graph.find(in.name).value()) {
        const int64_t rows = graph.op(op.operands[1]).type.dims[0].size;
        if (rows != data.attrs.getInt("vocab")) {
          diag.error(data.loc, "data imdb has vocab=" + std::to_string(data.attrs.getInt("vocab")) +
                                    " but the embedding of '" + in.name + "' has " +
                                    std::to_string(rows) + " rows");
          noteAt(op.loc, "the embedding is here");
        }
      }
    if (targets.size() == 1 && !(targets[0]->type.dtype == DType::I32 && targets[0]->type.rank() == 1) &&
        !(targets[0]->type.dtype == DType::F32 && targets[0]->type.rank() == 1)) {
      diag.error(data.loc, "data imdb gives one label per review (i32[batch] class ids or f32[batch] 0/1), but target '" +
                                targets[0]->name + "' is " + targets[0]->type.str());
    }
    return;
  }
  // csv
  const int64_t window = data.attrs.getInt("window");
  if (in.type.dtype != DType::F32 || in.type.rank() != 3 || in.type.dims[1] != Dim::fixed(window)) {
    diag.error(data.loc, "data csv with window=" + std::to_string(window) +
                              " feeds f32[batch," + std::to_string(window) +
                              ",features], but input '" + in.name + "' is " + in.type.str());
    noteAt(in.loc, "'" + in.name + "' is declared here");
    return;
  }
  if (const Attr *features = data.attrs.find("features")) {
    if (static_cast<int64_t>(features->list.size()) != in.type.dims[2].size) {
      diag.error(data.loc, "data csv lists " + std::to_string(features->list.size()) +
                                " feature columns, but input '" + in.name + "' has " +
                                in.type.dims[2].str() + " features");
    }
  }
  if (const Attr *split = data.attrs.find("split")) {
    double sum = 0;
    bool ok = split->list.size() == 3;
    for (const Attr &f : split->list) {
      ok = ok && f.number() >= 0;
      sum += f.number();
    }
    if (!ok || std::fabs(sum - 1) > 1e-6)
      diag.error(data.loc, "data csv split must be three non-negative fractions that add up to 1, got " +
                                split->str());
  }
}

} // namespace rnnc
