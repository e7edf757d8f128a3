//===- ModelGlobals.cpp - __rnnc_info and the module as a whole -----------===//
#include "compiler/codegen/Codegen.h"

#include "compiler/passes/Autodiff.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/Format.h"
#include "rnnc/abi.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/Verifier.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace rnnc::codegen {

using namespace llvm;

namespace {

Constant *string(Module &module, const std::string &text, const std::string &name) {
  auto *init = ConstantDataArray::getString(module.getContext(), text);
  auto *global = new GlobalVariable(module, init->getType(), true, GlobalValue::PrivateLinkage, init, name);
  global->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  return global;
}

enum { kInitUniform = 0, kInitNormal = 1, kInitZeros = 2, kInitStored = 3 };

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
  Type *ptr = PointerType::getUnqual(ctx), *i32 = Type::getInt32Ty(ctx), *i64 = Type::getInt64Ty(ctx),
       *f32 = Type::getFloatTy(ctx);
  // rnnc_tensor_desc: { name, dtype, rank, dims[8], offset, init, init_scale }
  StructType *descType = StructType::get(ctx, {ptr, i32, i32, ArrayType::get(i64, 8), i64, i32, f32});
  auto desc = [&](const ir::Op &op, int64_t offset) {
    std::vector<Constant *> dims;
    for (size_t d = 0; d < 8; ++d)
      dims.push_back(ConstantInt::get(i64, d >= op.type.rank()        ? 0
                                           : op.type.dims[d].isSymbolic() ? -1
                                                                          : op.type.dims[d].size));
    int init = kInitZeros;
    double scale = 0;
    if (op.kind == ir::OpKind::Param) {
      const std::string kind = op.attrs.getString("init");
      init = kind == "uniform" ? kInitUniform : kind == "normal" ? kInitNormal : kind == "stored" ? kInitStored : kInitZeros;
      scale = init == kInitUniform ? op.attrs.getNumber("bound") : op.attrs.getNumber("std", 1.0);
    }
    return ConstantStruct::get(
        descType, {string(module, op.name, "name." + op.name), ConstantInt::get(i32, op.type.dtype == ir::DType::I32),
                   ConstantInt::get(i32, op.type.rank()), ConstantArray::get(ArrayType::get(i64, 8), dims),
                   ConstantInt::get(i64, offset), ConstantInt::get(i32, init), ConstantFP::get(f32, scale)});
  };
  auto table = [&](const std::vector<Constant *> &items, const char *name) -> Constant * {
    auto *type = ArrayType::get(descType, items.size());
    return new GlobalVariable(module, type, true, GlobalValue::InternalLinkage, ConstantArray::get(type, items), name);
  };
  std::vector<Constant *> inputs, outputs, params;
  for (ir::ValueId id : layout.inputs) {
    int64_t vocab = 0; // for token ids: the smallest table they index
    for (const ir::Op &op : graph.ops())
      if (op.kind == ir::OpKind::Embedding && op.operands[0] == id) {
        const int64_t rows = graph.op(op.operands[1]).type.dims[0].size;
        vocab = vocab == 0 ? rows : std::min(vocab, rows);
      }
    inputs.push_back(desc(graph.op(id), vocab));
  }
  outputs.push_back(desc(graph.op(*graph.output), 0));
  for (size_t k = 0; k < layout.params.size(); ++k)
    params.push_back(desc(graph.op(layout.params[k]), layout.paramOffsets[k]));

  std::vector<Constant *> targets;
  for (ir::ValueId id : layout.targets)
    targets.push_back(desc(graph.op(id), graph.op(id).attrs.getInt("classes", 0)));
  // rnnc_train_info: { has_train_step, optimizer, lr, beta1, beta2, eps, weight_decay, momentum,
  //                    nesterov, clip, seed, batch, epochs, num_targets, targets }
  StructType *trainType = StructType::get(ctx, {i32, i32, f32, f32, f32, f32, f32, f32, i32, f32, i64, i64, i64, i32, ptr});
  const ir::AttrMap noAttrs;
  const ir::AttrMap &opt = graph.optimizer ? graph.optimizer->attrs : noAttrs;
  const ir::AttrMap &train = graph.train ? graph.train->attrs : noAttrs;
  const int optimizer = !graph.optimizer ? 0 : graph.optimizer->kind == "adam" ? 1 : 2;
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

  // rnnc_model_info
  StructType *infoType = StructType::get(
      ctx, {i32, ptr, ptr, ptr, ptr, ptr, i32, ptr, i32, ptr, i32, ptr, i64, i64, i64, i64, trainType, ptr, ptr});
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

std::unique_ptr<Module> generateModule(const ir::Graph &graph, const CodegenOptions &options, LLVMContext &context) {
  auto module = std::make_unique<Module>(graph.name, context);
  module->setTargetTriple(options.target.triple);
  ModelLayout layout;
  if (options.plan.kind == plan::PlanKind::Symbolic) {
    plan::SymbolicPlan symbolic = plan::planSymbolic(graph, options.plan);
    emitSymbolicPlan(graph, symbolic, *module, options.target.vectorWidth);
    layout = {symbolic.inputs, {}, symbolic.params, symbolic.paramOffsets, symbolic.paramElements,
              symbolic.arenaPerSample, symbolic.packedElements, 0, false};
    if (graph.loss) {
      // The training program: the same graph with its gradient graph.
      ir::Graph training = graph;
      if (training.gradients.empty())
        differentiate(training);
      plan::SymbolicPlan trainPlan = plan::planSymbolic(training, options.plan, /*training=*/true);
      RNNC_ASSERT(trainPlan.packedElements == symbolic.packedElements, "both programs share one packed layout");
      emitSymbolicPlan(training, trainPlan, *module, options.target.vectorWidth, /*withPack=*/false);
      layout.targets = trainPlan.targets;
      layout.arenaPerSample = std::max(layout.arenaPerSample, trainPlan.arenaPerSample);
      layout.arenaFixed = trainPlan.arenaFixed;
      layout.hasTrainStep = true;
    }
  } else {
    std::optional<ir::Graph> training;
    if (graph.loss) {
      training = graph;
      if (training->gradients.empty())
        differentiate(*training);
    }
    plan::ImperativePlan imperative = plan::planImperative(graph, training ? &*training : nullptr);
    emitImperativeKernels(*module, options.target.vectorWidth);
    emitImperativePlan(imperative, *module);
    layout = {imperative.inputs, imperative.targets, imperative.params, imperative.paramOffsets,
              imperative.paramElements, 0, 0, 0, training.has_value()};
  }
  emitModelInfo(graph, layout, options, *module);
  RNNC_ASSERT(!verifyModule(*module, &errs()), "the generated module is valid IR");
  return module;
}

} // namespace rnnc::codegen
