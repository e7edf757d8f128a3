//===- SymbolicCodegen.cpp - The whole forward graph as one program -------===//
//
// __rnnc_symbolic_forward(params, packed, arena, batch, inputs, outputs)
// calls one kernel per op, each specialized for the op's static shapes and
// reading weights in the packed layout. A recurrent layer is one fused
// kernel: the input projection of all time steps as one matrix product
// first, then per step and per chunk of hidden units the recurrent products,
// biases, gate activations and state update in one loop nest, in registers.
// This file holds the entry points and the kernel of each step; the kernels
// themselves are in SymbolicForward.cpp and SymbolicTraining.cpp.
//===----------------------------------------------------------------------===//
#include "compiler/codegen/SymbolicEmitter.h"
#include "rnnc/abi.h"

#include "llvm/IR/Verifier.h"

#include <algorithm>

namespace rnnc::codegen {

using detail::SymbolicEmitter;

void emitSymbolicPlan(const ir::Graph &graph, const plan::SymbolicPlan &plan, llvm::Module &module, unsigned width,
                      bool withPack) {
  SymbolicEmitter(graph, plan, module, width).run(withPack);
}

namespace detail {

void SymbolicEmitter::run(bool withPack) {
  if (withPack) {
    emitPack();
    if (graph_.optimizer && graph_.optimizer->kind == "adam")
      emitAdamUpdate();
  }
  emitEntry();
}

Function *SymbolicEmitter::kernel(const std::string &name, unsigned pointers) {
  std::vector<Type *> params(pointers, e_.ptr());
  params.insert(params.end(), {e_.i64(), e_.i64(), e_.i64()});
  auto *type = FunctionType::get(e_.i32(), params, false);
  Function *f = Function::Create(type, Function::InternalLinkage, name, module_);
  f->addFnAttr(Attribute::NoInline); // one call per layer: keep kernels visible in the IR
  f->addFnAttr(Attribute::NoUnwind);
  for (unsigned k = 0; k < pointers; ++k)
    f->addParamAttr(k, Attribute::NoAlias);
  builder_.SetInsertPoint(BasicBlock::Create(module_.getContext(), "entry", f));
  return f;
}

void SymbolicEmitter::emitEntry() {
  const bool training = plan_.training;
  std::vector<Type *> params = {e_.ptr(), e_.ptr(), e_.ptr(), e_.i64(), e_.ptr(), e_.ptr()};
  if (training)
    params.insert(params.end(), {e_.ptr(), e_.ptr(), e_.i64(), e_.i64()});
  params.push_back(e_.ptr()); // const rnnc_parallel * (rnnc/plan.h), may be null
  auto *type = FunctionType::get(e_.i32(), params, false);
  Function *f = Function::Create(type, Function::ExternalLinkage,
                                 training ? "__rnnc_symbolic_train" : "__rnnc_symbolic_forward", module_);
  f->addFnAttr(Attribute::NoUnwind);
  params_ = f->getArg(0);
  packed_ = f->getArg(1);
  arena_ = f->getArg(2);
  batch_ = f->getArg(3);
  inputs_ = f->getArg(4);
  targets_ = training ? f->getArg(5) : nullptr;
  grads_ = training ? f->getArg(6) : nullptr;
  Value *seed = training ? f->getArg(8) : e_.c64(0), *stepCount = training ? f->getArg(9) : e_.c64(0);
  Value *parallel = f->getArg(f->arg_size() - 1);
  LLVMContext &ctx = module_.getContext();
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", f);
  BasicBlock *failed = BasicBlock::Create(ctx, "failed", f);
  builder_.SetInsertPoint(failed);
  PHINode *status = builder_.CreatePHI(e_.i32(), 0, "status");
  builder_.CreateRet(status);
  builder_.SetInsertPoint(entry);
  current_ = entry;

  // A step's kernel and the arguments of its call.
  auto prepare = [&](const plan::Step &step, std::vector<Value *> &args) {
    args = stepArguments(step);
    Function *k = emitKernel(step); // moves the insert point into the kernel
    builder_.SetInsertPoint(current_);
    args.insert(args.end(), {batch_, seed, stepCount});
    return k;
  };
  for (size_t s = 0; s < plan_.steps.size(); ++s) {
    const plan::Step &step = plan_.steps[s];
    std::vector<Value *> args, otherArgs;
    Function *k = prepare(step, args);
    Value *result;
    if (step.concurrentWithNext) {
      Function *other = prepare(plan_.steps[++s], otherArgs);
      result = callConcurrently(f, parallel, k, args, other, otherArgs);
    } else {
      result = builder_.CreateCall(k, args);
    }
    BasicBlock *next = BasicBlock::Create(ctx, "after." + graph_.op(plan_.steps[s].op).name, f);
    builder_.CreateCondBr(builder_.CreateICmpEQ(result, builder_.getInt32(RNNC_OK)), next, failed);
    status->addIncoming(result, builder_.GetInsertBlock());
    builder_.SetInsertPoint(next);
    current_ = next;
  }
  builder_.SetInsertPoint(current_);
  if (training) {
    // The loss, then every gradient into the parameter layout (zeros where
    // a parameter does not reach the loss).
    Value *grads = f->getArg(6), *lossOut = f->getArg(7);
    e_.store(e_.load(1, location(plan_.output), e_.c64(0)), lossOut, e_.c64(0));
    // The steps wrote the gradients that live in the buffer itself; zero
    // what none of them wrote (padding, parameters without a gradient or
    // with a copied one), then copy the others.
    std::vector<std::pair<int64_t, int64_t>> written; // [begin, end) in floats
    for (const auto &[param, grad] : graph_.gradients)
      if (plan_.locations[grad].kind == Location::Kind::Gradient)
        written.push_back({paramOffset(param), paramOffset(param) + *graph_.op(param).type.elementCount()});
    std::sort(written.begin(), written.end());
    int64_t from = 0;
    auto zeroUpTo = [&](int64_t to) {
      if (to > from)
        builder_.CreateMemSet(e_.at(grads, e_.c64(from)), builder_.getInt8(0), e_.c64((to - from) * 4), MaybeAlign(4));
    };
    for (const auto &[begin, end] : written) {
      zeroUpTo(begin);
      from = std::max(from, end);
    }
    zeroUpTo(plan_.paramElements);
    for (const auto &[param, grad] : graph_.gradients) {
      if (plan_.locations[grad].kind == Location::Kind::Gradient)
        continue;
      Value *src = location(grad), *dst = e_.at(grads, e_.c64(paramOffset(param)));
      e_.vectorLoop(*graph_.op(param).type.elementCount(),
                    [&](unsigned w, Value *j) { e_.store(e_.load(w, src, j), dst, j); });
    }
  } else {
    // Copy the output to the caller's buffer.
    const ir::Op &out = graph_.op(plan_.output);
    Value *src = location(plan_.output);
    Value *dst = builder_.CreateAlignedLoad(e_.ptr(), f->getArg(5), Align(8));
    Value *n = builder_.CreateMul(batch_, e_.c64(plan::perSampleElements(out.type)));
    e_.vectorLoop(n, [&](unsigned w, Value *j) { e_.store(e_.load(w, src, j), dst, j); });
  }
  builder_.CreateRet(builder_.getInt32(RNNC_OK));
  if (status->getNumIncomingValues() == 0) // no kernel can fail
    failed->eraseFromParent();
}

Function *SymbolicEmitter::taskOf(Function *k) {
  // i32 task(ptr block): the kernel's arguments from a block of 8-byte
  // slots (pointers, then batch, seed and step), for rnnc_parallel.
  const std::string name = k->getName().str() + ".task";
  if (Function *existing = module_.getFunction(name))
    return existing;
  Function *f = Function::Create(FunctionType::get(e_.i32(), {e_.ptr()}, false), Function::InternalLinkage, name,
                                 module_);
  f->addFnAttr(Attribute::NoUnwind);
  IRBuilder<>::InsertPointGuard guard(builder_);
  builder_.SetInsertPoint(BasicBlock::Create(module_.getContext(), "entry", f));
  std::vector<Value *> args;
  for (unsigned a = 0; a < k->arg_size(); ++a)
    args.push_back(builder_.CreateAlignedLoad(k->getArg(a)->getType(), e_.at(f->getArg(0), e_.c64(a), e_.i64()),
                                              Align(8)));
  builder_.CreateRet(builder_.CreateCall(k, args));
  return f;
}

Value *SymbolicEmitter::callConcurrently(Function *entry, Value *parallel, Function *a, const std::vector<Value *> &aArgs,
                                         Function *b, const std::vector<Value *> &bArgs) {
  LLVMContext &ctx = module_.getContext();
  auto block = [&](const std::vector<Value *> &args, const char *name) {
    IRBuilder<> atEntry(&entry->getEntryBlock(), entry->getEntryBlock().begin());
    AllocaInst *slots = atEntry.CreateAlloca(e_.i64(), e_.c64(static_cast<int64_t>(args.size())), name);
    slots->setAlignment(Align(8));
    for (size_t k = 0; k < args.size(); ++k)
      builder_.CreateAlignedStore(args[k], e_.at(slots, e_.c64(static_cast<int64_t>(k)), e_.i64()), Align(8));
    return slots;
  };
  // Without a rnnc_parallel (a caller that lends no threads): one after the other.
  BasicBlock *lent = BasicBlock::Create(ctx, "concurrent", entry), *alone = BasicBlock::Create(ctx, "in_turn", entry),
             *joined = BasicBlock::Create(ctx, "joined", entry);
  builder_.CreateCondBr(builder_.CreateIsNull(parallel), alone, lent);
  builder_.SetInsertPoint(lent);
  Value *aBlock = block(aArgs, "task_a"), *bBlock = block(bArgs, "task_b");
  auto *run2Type = FunctionType::get(e_.i32(), {e_.ptr(), e_.ptr(), e_.ptr(), e_.ptr(), e_.ptr()}, false);
  Value *run2 = builder_.CreateAlignedLoad(e_.ptr(), parallel, Align(8), "run2");
  Value *together = builder_.CreateCall(run2Type, run2, {parallel, taskOf(a), aBlock, taskOf(b), bBlock});
  builder_.CreateBr(joined);
  BasicBlock *lentEnd = builder_.GetInsertBlock();
  builder_.SetInsertPoint(alone);
  Value *first = builder_.CreateCall(a, aArgs);
  BasicBlock *second = BasicBlock::Create(ctx, "in_turn.second", entry);
  BasicBlock *aloneFailed = builder_.GetInsertBlock();
  builder_.CreateCondBr(builder_.CreateICmpEQ(first, builder_.getInt32(RNNC_OK)), second, joined);
  builder_.SetInsertPoint(second);
  Value *then = builder_.CreateCall(b, bArgs);
  builder_.CreateBr(joined);
  builder_.SetInsertPoint(joined);
  PHINode *result = builder_.CreatePHI(e_.i32(), 3, "both");
  result->addIncoming(together, lentEnd);
  result->addIncoming(first, aloneFailed);
  result->addIncoming(then, second);
  return result;
}

Value *SymbolicEmitter::location(ir::ValueId id) {
  const Location &loc = plan_.locations[id];
  switch (loc.kind) {
  case Location::Kind::Input:
    return builder_.CreateAlignedLoad(e_.ptr(), e_.at(inputs_, e_.c64(loc.index), e_.ptr()), Align(8));
  case Location::Kind::Target:
    return builder_.CreateAlignedLoad(e_.ptr(), e_.at(targets_, e_.c64(loc.index), e_.ptr()), Align(8));
  case Location::Kind::Param:
    return e_.at(params_, e_.c64(plan_.paramOffsets[loc.index]));
  case Location::Kind::Arena:
    return arenaBuffer(loc.index);
  case Location::Kind::Gradient:
    RNNC_ASSERT(grads_, "gradients live in the gradient buffer of the training program");
    return e_.at(grads_, e_.c64(plan_.paramOffsets[loc.index]));
  case Location::Kind::None: break;
  }
  RNNC_ASSERT(false, "every value the forward program reads has a location");
  return nullptr;
}

Value *SymbolicEmitter::arenaBuffer(int buffer) {
  const plan::Buffer &b = plan_.buffers[buffer];
  if (b.fixed)
    return e_.at(arena_, e_.c64(b.offset));
  return e_.at(arena_, builder_.CreateAdd(e_.c64(plan_.arenaFixed), builder_.CreateMul(e_.c64(b.offset), batch_)));
}

std::vector<Value *> SymbolicEmitter::stepArguments(const plan::Step &step) {
  if (!current_)
    current_ = builder_.GetInsertBlock();
  builder_.SetInsertPoint(current_);
  const ir::Op &op = graph_.op(step.op);
  std::vector<Value *> args;
  switch (op.kind) {
  case OpKind::Lstm:
  case OpKind::Gru:
    args = {location(op.operands[0]), packedOf(op.operands[1]), packedOf(op.operands[2]),
            packedOf(op.operands[3]), location(op.operands[4])};
    if (std::optional<ir::ValueId> lengths = ir::lengthsOf(op))
      args.push_back(location(*lengths));
    break;
  case OpKind::Dense:
    args = {location(op.operands[0]), packedOf(op.operands[1])};
    if (op.operands.size() > 2)
      args.push_back(location(op.operands[2]));
    break;
  case OpKind::RecurrentGrad: // x, W_ih^T, W_hh^T, bias sum, b_hh, y, dy, W_hh, then the lengths if any
    args = {location(op.operands[0]), packedOf(op.operands[1]), packedOf(op.operands[2]),
            packedOf(op.operands[3]), location(op.operands[4]), location(op.operands[5]),
            location(op.operands[6]), location(op.operands[2])};
    if (std::optional<ir::ValueId> lengths = ir::lengthsOf(op))
      args.push_back(location(*lengths));
    break;
  default:
    for (ir::ValueId operand : op.operands)
      args.push_back(location(operand));
  }
  if (step.rowLengths) // the rows of the real steps only (see plan::Step)
    args.push_back(location(*step.rowLengths));
  args.push_back(plan_.locations[step.op].kind == Location::Kind::Gradient ? location(step.op)
                                                                           : arenaBuffer(plan_.resultBuffer[step.op]));
  for (const plan::Step::Buffer &s : step.scratch)
    args.push_back(arenaBuffer(s.buffer));
  return args;
}

Function *SymbolicEmitter::emitKernel(const plan::Step &step) {
  const ir::Op &op = graph_.op(step.op);
  const std::string name = prefix_ + ir::opInfo(op.kind).mnemonic + "." + op.name;
  const unsigned pointers = static_cast<unsigned>(stepArgumentCount(step));
  Function *f = kernel(name, pointers);
  switch (op.kind) {
  case OpKind::Lstm:
  case OpKind::Gru: recurrent(f, op, step); break;
  case OpKind::Dense: dense(f, op); break;
  case OpKind::Embedding: embedding(f, op); break;
  case OpKind::Concat: concat(f, op); break;
  case OpKind::First:
  case OpKind::Last: selectStep(f, op); break;
  case OpKind::Mean:
  case OpKind::Max: poolSteps(f, op); break;
  case OpKind::Softmax: softmax(f, op); break;
  case OpKind::Relu:
  case OpKind::Tanh:
  case OpKind::Sigmoid: elementwise(f, op); break;
  default:
    if (emitTrainingKernel(f, op, step))
      break;
    RNNC_ASSERT(false, std::string("the symbolic plan has a kernel for ") + ir::opInfo(op.kind).mnemonic);
  }
  RNNC_ASSERT(!verifyFunction(*f, &errs()), "generated kernel " + name + " is valid IR");
  return f;
}

size_t SymbolicEmitter::stepArgumentCount(const plan::Step &step) {
  const ir::Op &op = graph_.op(step.op);
  size_t operands = op.operands.size() + (op.kind == OpKind::RecurrentGrad ? 1 : 0) + (step.rowLengths ? 1 : 0);
  return operands + 1 + step.scratch.size();
}

Value *SymbolicEmitter::scratchArg(Function *f, const plan::Step &step, plan::Scratch role) {
  const int k = step.scratchIndex(role);
  return k < 0 ? nullptr : arg(f, static_cast<unsigned>(stepArgumentCount(step) - step.scratch.size() + k));
}

} // namespace detail
} // namespace rnnc::codegen
