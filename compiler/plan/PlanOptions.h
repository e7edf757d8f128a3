//===- PlanOptions.h - Switches of the symbolic plan's optimizations -*- C++ -*-===//
#pragma once

namespace rnnc::plan {

enum class PlanKind { Symbolic, Imperative };

/// Each optimization of the symbolic plan can be switched off, so that its
/// effect can be measured (rnnc --no-fuse, --no-hoist, --no-memplan).
struct PlanOptions {
  PlanKind kind = PlanKind::Symbolic;
  bool fuseCells = true;        ///< gate math and state update in one loop nest
  bool hoistInputProjection = true; ///< x_t * W_ih for all steps as one GEMM before the recurrence
  bool planMemory = true;       ///< reuse arena space of dead buffers
};

const char *planKindName(PlanKind kind);

} // namespace rnnc::plan
