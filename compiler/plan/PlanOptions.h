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
  /// Training with sequence lengths: the products over all B*T rows of a
  /// recurrent layer's gradients (dX, dW_ih, dW_hh, the bias sums) run over
  /// each sample's real steps only, as do the zeroing of the pad steps and
  /// their workspace. Off: every row, as before (the tests compare the two
  /// bit for bit).
  bool skipPadRows = true;
  /// The two directions of a bidirectional layer (two recurrent steps in a
  /// row, the second not reading the first) may run at the same time, on a
  /// thread the batch split leaves idle (batch below the thread count):
  /// their buffers are kept apart in the arena. Off: every buffer's space
  /// may be reused as soon as its step is past, as before.
  bool concurrentDirections = true;
};

const char *planKindName(PlanKind kind);

} // namespace rnnc::plan
