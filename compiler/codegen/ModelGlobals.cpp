//===- ModelGlobals.cpp - __rnnc_info and the module as a whole -----------===//
#include "compiler/codegen/Codegen.h"

#include "compiler/support/Diagnostics.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/Verifier.h"

#include <algorithm>

namespace rnnc::codegen {

using namespace llvm;

namespace {

Constant *string(Module &module, const std::string &text, const std::string &name) {
  auto *init = ConstantDataArray::getString(module.getContext(), text);
  auto *global = new GlobalVariable(module, init->getType(), true, GlobalValue::PrivateLinkage, init, name);
  global->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  return global;
}

enum { kInitUniform = 0, kInitNormal = 1, kInitZeros = 2 };

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
      init = kind == "uniform" ? kInitUniform : kind == "normal" ? kInitNormal : kInitZeros;
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

  // rnnc_model_info
  StructType *infoType = StructType::get(ctx, {i32, ptr, ptr, ptr, ptr, ptr, i32, ptr, i32, ptr, i32, ptr, i64, i64, i64});
  Constant *info = ConstantStruct::get(
      infoType,
      {ConstantInt::get(i32, 1), string(module, graph.name, "model_name"),
       string(module, options.compilerVersion, "compiler_version"),
       string(module, plan::planKindName(options.plan.kind), "plan"), string(module, options.target.cpu, "target_cpu"),
       string(module, options.target.checkedFeatures, "target_features"), ConstantInt::get(i32, inputs.size()),
       table(inputs, "__rnnc_inputs"), ConstantInt::get(i32, outputs.size()), table(outputs, "__rnnc_outputs"),
       ConstantInt::get(i32, params.size()), table(params, "__rnnc_params"),
       ConstantInt::get(i64, layout.paramElements), ConstantInt::get(i64, layout.arenaPerSample),
       ConstantInt::get(i64, layout.packedElements)});
  new GlobalVariable(module, infoType, true, GlobalValue::ExternalLinkage, info, "__rnnc_info");
}

std::unique_ptr<Module> generateModule(const ir::Graph &graph, const CodegenOptions &options, LLVMContext &context) {
  auto module = std::make_unique<Module>(graph.name, context);
  module->setTargetTriple(options.target.triple);
  ModelLayout layout;
  if (options.plan.kind == plan::PlanKind::Symbolic) {
    plan::SymbolicPlan symbolic = plan::planSymbolic(graph, options.plan);
    emitSymbolicPlan(graph, symbolic, *module, options.target.vectorWidth);
    layout = {symbolic.inputs, symbolic.params, symbolic.paramOffsets, symbolic.paramElements,
              symbolic.arenaPerSample, symbolic.packedElements};
  } else {
    plan::ImperativePlan imperative = plan::planImperative(graph);
    emitImperativeKernels(*module, options.target.vectorWidth);
    emitImperativePlan(imperative, *module);
    layout = {imperative.inputs, imperative.params, imperative.paramOffsets, imperative.paramElements, 0, 0};
  }
  emitModelInfo(graph, layout, options, *module);
  RNNC_ASSERT(!verifyModule(*module, &errs()), "the generated module is valid IR");
  return module;
}

} // namespace rnnc::codegen
