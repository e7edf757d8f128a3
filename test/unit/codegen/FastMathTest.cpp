//===- FastMathTest.cpp - Max error of the generated exp, sigmoid, tanh ---===//
#include "compiler/codegen/Emit.h"
#include "compiler/codegen/Jit.h"
#include "compiler/codegen/Target.h"

#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/Verifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

namespace rnnc::codegen {
namespace {

using namespace llvm;

enum Fn { Sigmoid, Tanh };

/// JIT-compiles void f(const float *in, float *out, i64 n) applying the
/// generated function with vectors of `width` lanes (and a scalar tail).
double maxAbsError(Fn fn, unsigned width) {
  auto context = std::make_unique<LLVMContext>();
  auto module = std::make_unique<Module>("fastmath", *context);
  IRBuilder<> b(*context);
  Emitter e(b, width);
  auto *type = FunctionType::get(b.getVoidTy(), {e.ptr(), e.ptr(), e.i64()}, false);
  Function *f = Function::Create(type, Function::ExternalLinkage, "apply", *module);
  b.SetInsertPoint(BasicBlock::Create(*context, "entry", f));
  e.vectorLoop(f->getArg(2), [&](unsigned w, Value *j) {
    Value *x = e.load(w, f->getArg(0), j);
    e.store(fn == Sigmoid ? e.sigmoid(x) : e.tanh(x), f->getArg(1), j);
  });
  b.CreateRetVoid();
  EXPECT_FALSE(verifyModule(*module, &errs()));
  TargetInfo info;
  std::string error;
  auto machine = createTargetMachine("host", 2, info, error);
  EXPECT_TRUE(machine) << error;
  optimizeModule(*module, *machine, 2);
  // Reuse the JIT wrapper by giving the module the symbols it expects.
  auto jit = orc::LLJITBuilder().create();
  EXPECT_TRUE(!!jit);
  cantFail((*jit)->addIRModule(orc::ThreadSafeModule(std::move(module), std::move(context))));
  auto apply = cantFail((*jit)->lookup("apply")).toPtr<void (*)(const float *, float *, int64_t)>();

  // Every float in [-20, 20] at a spacing of 1e-5, plus the ends.
  std::vector<float> in;
  for (double x = -20; x <= 20; x += 1e-5)
    in.push_back(static_cast<float>(x));
  in.push_back(20.0f);
  in.push_back(-20.0f);
  in.push_back(0.0f);
  std::vector<float> out(in.size());
  apply(in.data(), out.data(), static_cast<int64_t>(in.size()));
  double worst = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const double x = in[i];
    const double want = fn == Sigmoid ? 1.0 / (1.0 + std::exp(-x)) : std::tanh(x);
    worst = std::max(worst, std::fabs(out[i] - want));
  }
  return worst;
}

TEST(FastMath, SigmoidWithin1e6OverMinus20To20) {
  for (unsigned width : {1u, 8u, 16u}) {
    const double error = maxAbsError(Sigmoid, width);
    std::printf("sigmoid, %u lanes: max abs error %.3g\n", width, error);
    EXPECT_LE(error, 1e-6) << "width " << width;
  }
}

TEST(FastMath, TanhWithin1e6OverMinus20To20) {
  for (unsigned width : {1u, 8u, 16u}) {
    const double error = maxAbsError(Tanh, width);
    std::printf("tanh, %u lanes: max abs error %.3g\n", width, error);
    EXPECT_LE(error, 1e-6) << "width " << width;
  }
}

} // namespace
} // namespace rnnc::codegen
