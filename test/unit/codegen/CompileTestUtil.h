//===- CompileTestUtil.h - Compile a model given as text with the JIT -*- C++ -*-===//
#pragma once

#include "compiler/driver/Backend.h"
#include "runtime/loader/Loader.h"
#include "LowerTestUtil.h"

#include <gtest/gtest.h>

namespace rnnc::testing {

/// Lowers `text` and compiles it in-process for one plan; a failure is a
/// test failure and a null result.
inline std::unique_ptr<runtime::Model> compileText(const std::string &text, const plan::PlanOptions &plan) {
  auto lowered = lowerText(text);
  EXPECT_TRUE(lowered.graph) << lowered.diagnostics;
  if (!lowered.graph)
    return nullptr;
  BackendOptions options;
  options.plan = plan;
  std::string error;
  std::shared_ptr<codegen::JitModel> jit = compileForJit(*lowered.graph, options, error);
  EXPECT_TRUE(jit) << error;
  return jit ? runtime::openBinding(jit->binding(), jit) : nullptr;
}

inline std::unique_ptr<runtime::Model> compileText(const std::string &text, plan::PlanKind kind) {
  plan::PlanOptions plan;
  plan.kind = kind;
  return compileText(text, plan);
}

} // namespace rnnc::testing
