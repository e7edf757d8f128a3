//===- ModelGlobals.cpp - The model info (__rnnc_info) ----------------------===//
#include "compiler/codegen/Codegen.h"
#include "compiler/ir/OpFacts.h"

#include "compiler/codegen/AbiTypes.h"

#include "compiler/support/Diagnostics.h"
#include "compiler/support/Format.h"
#include "rnnc/abi.h"

#include "llvm/IR/Constants.h"

#include <algorithm>
#include <cmath>

namespace rnnc::codegen {

using namespace llvm;

namespace {

Constant *string(Module &module, const std::string &text, const std::string &name) {
  auto *init = ConstantDataArray::getString(module.getContext(), text);
  auto *global = new GlobalVariable(module, init->getType(), true, GlobalValue::PrivateLinkage, init, name);
  global->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  return global;
}

/// An attribute as JSON.
std::string json(const ir::Attr &a) {
  switch (a.kind) {
  case ir::Attr::Kind::Int: return std::to_string(a.i);
  case ir::Attr::Kind::Float: return std::isfinite(a.f) ? formatDouble(a.f) : "null";
  case ir::Attr::Kind::Bool: return a.b ? "true" : "false";
  case ir::Attr::Kind::String: return quote(a.s); // JSON escapes are a superset of ours
  case ir::Attr::Kind::List: {
    std::string out = "[";
    for (size_t k = 0; k < a.list.size(); ++k)
      out += (k ? "," : "") + json(a.list[k]);
    return out + "]";
  }
  }
  return "null";
}

std::string json(const ir::Section &s) {
  std::string out = "{";
  if (!s.kind.empty())
    out += "\"kind\":" + quote(s.kind);
  for (const auto &[name, value] : s.attrs.entries())
    out += (out.size() > 1 ? "," : "") + quote(name) + ":" + json(value);
  return out + "}";
}

/// The model file's settings that the runtime needs (see abi.h config_json).
std::string configJson(const ir::Graph &graph) {
  std::string out = "{\"model\":" + quote(graph.name);
  if (graph.loss)
    out += ",\"loss\":" + quote(ir::opInfo(graph.op(*graph.loss).kind).mnemonic);
  if (graph.data)
    out += ",\"data\":" + json(*graph.data);
  if (graph.train)
    out += ",\"train\":" + json(*graph.train);
  if (graph.optimizer)
    out += ",\"optimizer\":" + json(*graph.optimizer);
  return out + "}";
}

} // namespace

void emitModelInfo(const ir::Graph &graph, const ModelLayout &layout, const CodegenOptions &options, Module &module) {
  LLVMContext &ctx = module.getContext();
  Type *i32 = Type::getInt32Ty(ctx), *i64 = Type::getInt64Ty(ctx),
       *f32 = Type::getFloatTy(ctx);
  StructType *descType = abi::tensorDescType(ctx);
  const unsigned numDims = cast<ArrayType>(descType->getElementType(3))->getNumElements();
  auto desc = [&](const ir::Op &op, int64_t offset) {
    std::vector<Constant *> dims;
    for (size_t d = 0; d < numDims; ++d)
      dims.push_back(ConstantInt::get(i64, d >= op.type.rank()        ? 0
                                           : op.type.dims[d].isSymbolic() ? -1
                                                                          : op.type.dims[d].size));
    int init = RNNC_INIT_ZEROS;
    double scale = 0;
    if (op.kind == ir::OpKind::Param) {
      const std::string kind = op.attrs.getString("init");
      init = kind == "uniform" ? RNNC_INIT_UNIFORM
             : kind == "normal"  ? RNNC_INIT_NORMAL
             : kind == "stored"  ? RNNC_INIT_STORED
                                 : RNNC_INIT_ZEROS;
      scale = init == RNNC_INIT_UNIFORM ? op.attrs.getNumber("bound") : op.attrs.getNumber("std", 1.0);
    }
    return ConstantStruct::get(
        descType, {string(module, op.name, "name." + op.name), ConstantInt::get(i32, op.type.dtype == ir::DType::I32 ? RNNC_I32 : RNNC_F32),
                   ConstantInt::get(i32, op.type.rank()), ConstantArray::get(ArrayType::get(i64, numDims), dims),
                   ConstantInt::get(i64, offset), ConstantInt::get(i32, init), ConstantFP::get(f32, scale)});
  };
  auto table = [&](const std::vector<Constant *> &items, const char *name) -> Constant * {
    auto *type = ArrayType::get(descType, items.size());
    return new GlobalVariable(module, type, true, GlobalValue::InternalLinkage, ConstantArray::get(type, items), name);
  };
  std::vector<Constant *> inputs, outputs, params;
  for (ir::ValueId id : layout.inputs) {
    int64_t vocab = 0; // for token ids: the smallest table they index; for lengths: -T
    for (const ir::Op &op : graph.ops())
      if (op.kind == ir::OpKind::Embedding && op.operands[0] == id) {
        const int64_t rows = graph.op(op.operands[1]).type.dims[0].size;
        vocab = vocab == 0 ? rows : std::min(vocab, rows);
      } else if ((op.kind == ir::OpKind::Lstm || op.kind == ir::OpKind::Gru) && ir::lengthsOf(op) == id) {
        const int64_t steps = graph.op(op.operands[0]).type.dims[1].size;
        vocab = vocab == 0 ? -steps : std::max(vocab, -steps);
      }
    inputs.push_back(desc(graph.op(id), vocab));
  }
  outputs.push_back(desc(graph.op(*graph.output), 0));
  for (size_t k = 0; k < layout.params.size(); ++k)
    params.push_back(desc(graph.op(layout.params[k]), layout.paramOffsets[k]));

  std::vector<Constant *> targets;
  for (ir::ValueId id : layout.targets)
    targets.push_back(desc(graph.op(id), graph.op(id).attrs.getInt("classes", 0)));
  StructType *trainType = abi::trainInfoType(ctx);
  const ir::AttrMap noAttrs;
  const ir::AttrMap &opt = graph.optimizer ? graph.optimizer->attrs : noAttrs;
  const ir::AttrMap &train = graph.train ? graph.train->attrs : noAttrs;
  const int optimizer = !graph.optimizer                ? RNNC_OPT_NONE
                        : graph.optimizer->kind == "adam" ? RNNC_OPT_ADAM
                                                          : RNNC_OPT_SGD;
  auto real = [&](double v) { return ConstantFP::get(f32, v); };
  Constant *trainInfo = ConstantStruct::get(
      trainType,
      {ConstantInt::get(i32, layout.hasTrainStep), ConstantInt::get(i32, optimizer), real(opt.getNumber("lr", 0.001)),
       real(opt.getNumber("beta1", 0.9)), real(opt.getNumber("beta2", 0.999)), real(opt.getNumber("eps", 1e-8)),
       real(opt.getNumber("weight_decay", 0)), real(opt.getNumber("momentum", 0)),
       ConstantInt::get(i32, opt.getBool("nesterov", false)), real(train.getNumber("clip", 0)),
       ConstantInt::get(i64, train.getInt("seed", 0)), ConstantInt::get(i64, train.getInt("batch", 32)),
       ConstantInt::get(i64, train.getInt("epochs", 1)), ConstantInt::get(i32, targets.size()),
       targets.empty() ? static_cast<Constant *>(ConstantPointerNull::get(PointerType::getUnqual(ctx)))
                       : table(targets, "__rnnc_targets")});

  // The stored parameters' values, at their offsets (abi.h stored_values).
  Constant *stored = ConstantPointerNull::get(PointerType::getUnqual(ctx));
  if (!graph.storedValues.empty() && options.storeWeights) {
    std::vector<float> values(layout.paramElements, 0.0f);
    for (size_t k = 0; k < layout.params.size(); ++k)
      if (auto it = graph.storedValues.find(layout.params[k]); it != graph.storedValues.end())
        std::copy(it->second->begin(), it->second->end(), values.begin() + layout.paramOffsets[k]);
    Constant *data = ConstantDataArray::get(ctx, ArrayRef<float>(values));
    auto *global = new GlobalVariable(module, data->getType(), true, GlobalValue::InternalLinkage, data, "__rnnc_stored");
    global->setAlignment(Align(64));
    stored = global;
  }

  StructType *infoType = abi::modelInfoType(ctx);
  Constant *info = ConstantStruct::get(
      infoType,
      {ConstantInt::get(i32, RNNC_ABI_VERSION), string(module, graph.name, "model_name"),
       string(module, options.compilerVersion, "compiler_version"),
       string(module, plan::planKindName(options.plan.kind), "plan"), string(module, options.target.cpu, "target_cpu"),
       string(module, options.target.checkedFeatures, "target_features"), ConstantInt::get(i32, inputs.size()),
       table(inputs, "__rnnc_inputs"), ConstantInt::get(i32, outputs.size()), table(outputs, "__rnnc_outputs"),
       ConstantInt::get(i32, params.size()), table(params, "__rnnc_params"),
       ConstantInt::get(i64, layout.paramElements), ConstantInt::get(i64, layout.arenaPerSample),
       ConstantInt::get(i64, layout.packedElements), ConstantInt::get(i64, layout.arenaFixed), trainInfo,
       string(module, configJson(graph), "config_json"), stored});
  new GlobalVariable(module, infoType, true, GlobalValue::ExternalLinkage, info, "__rnnc_info");
}

} // namespace rnnc::codegen
