//===- SymbolicPlan.h - The whole forward graph as one program --*- C++ -*-===//
#pragma once

#include "compiler/ir/Graph.h"
#include "compiler/plan/PlanOptions.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace rnnc::plan {

/// A region of the arena: `perSample` floats for each sample of the batch.
/// Offsets are in floats per sample: at run time a buffer starts at
/// arena + offset * batch, so one compile-time layout serves every batch size.
struct Buffer {
  int64_t perSample = 0;
  int64_t offset = -1;
  int firstStep = 0, lastStep = 0; ///< live range, in steps
  /// A buffer whose size does not depend on the batch (a gradient of a
  /// parameter, a loss): `perSample` is then its size and it lives in the
  /// arena's fixed region, at arena + offset.
  bool fixed = false;
};

/// Where a value lives while the forward program runs.
struct Location {
  /// Gradient: a training step's result that is a parameter's gradient,
  /// written straight into the gradient buffer the program returns (at the
  /// parameter's offset), so that nothing is copied or zeroed after it.
  enum class Kind { Input, Target, Param, Arena, Gradient, None } kind = Kind::None;
  int index = 0; ///< Input/Target: its number; Param, Gradient: parameter number; Arena: buffer id
};

/// What a step's private buffer holds; the emitter asks for each by name.
enum class Scratch {
  Projection,  ///< x_t W_ih^T + b for all t, by step: [T,B,G*H]
  CellState,   ///< LSTM forward: c of the current step [B,H]
  /// A layer with sequence lengths (fused, hoisted): the batch rows sorted by
  /// length, longest first, i32 [B], so that the rows still running at a
  /// step are a prefix of it (cuDNN's packed layout, without moving rows).
  RowOrder,
  Gates,       ///< unfused forward: the gate pre-activations of a step [B,(G+1)*H]
  /// Training: what a layer's forward step keeps for its recurrent_grad step
  /// (oneDNN's workspace), one buffer the two steps share: per time step the
  /// gate activations and, LSTM, the cell state (i, f, g, o, c); GRU r, z, n
  /// and W_hn h + b_hn, laid out by step: [T,B,(G+1)*H].
  Workspace,
  /// recurrent_grad: the two halves of its result, written straight into the
  /// buffers of the two slices the autodiff pass takes of it (so that the
  /// slices copy nothing). LSTM's halves are equal: one buffer serves both.
  InputSideGrad,  ///< d of the input-side gate pre-activations [B,T,G*H]
  HiddenSideGrad, ///< d of the hidden-side gate pre-activations [B,T,G*H]
  HiddenGrad,  ///< recurrent_grad: d h flowing to the previous step [B,H]
  CellGrad,    ///< recurrent_grad, LSTM: d c flowing to the previous step [B,H]
  /// dense_grad_weight: the packed panels of its product (fixed size,
  /// weightGradPanelElements): a block of dy rows rearranged per register
  /// tile, and a block of x rows of one column panel.
  Panels,
  /// recurrent_grad: the hidden-side gate gradients of one step, contiguous
  /// [B,G*H], which d h_{t-1} = dz W_hh reads: in the result one step's
  /// rows lie T*G*H floats apart (for W4 512 KiB, so all in the same few
  /// sets of L1 and L2). With lengths: those of the rows still running,
  /// packed together, and their d h [B,H] (RunningHiddenGrad), so that the
  /// product multiplies only those rows.
  RunningGateGrad,
  RunningHiddenGrad,
};

/// dense_grad_weight (dW = dy^T x over every row of the batch and time) runs
/// over blocks of this many rows: a column panel of x (at most
/// kWeightGradPanelColumns floats wide) stays in L1 while every register
/// tile of dW reads it.
constexpr int64_t kWeightGradRowBlock = 64;
constexpr int64_t kWeightGradPanelColumns = 64;
/// The floats of dense_grad_weight's Panels scratch for dy with `units` columns.
inline int64_t weightGradPanelElements(int64_t units) {
  return kWeightGradRowBlock * (units + kWeightGradPanelColumns);
}

/// One op of the forward program, with the buffers it writes.
struct Step {
  struct Buffer {
    Scratch role;
    int buffer; ///< arena buffer id
  };
  ir::ValueId op;
  std::vector<Buffer> scratch; ///< buffers private to this step, in kernel-argument order
  /// dense_grad_input, dense_grad_weight, sum_rows over a recurrent layer's
  /// gate gradients with sequence lengths (options.skipPadRows): the lengths
  /// input. The kernel takes it after its operands and reads only the rows
  /// of steps t < length of each sample (a prefix of the sample's T rows:
  /// the others' gradients are exactly 0); dense_grad_input writes zeros to
  /// the others.
  std::optional<ir::ValueId> rowLengths;
  /// This step and the next may run at the same time (see
  /// PlanOptions::concurrentDirections): the next reads nothing this one
  /// writes, and the arena keeps the buffers of both apart for both steps.
  bool concurrentWithNext = false;

  /// The position of the scratch buffer `role` among `scratch`, or -1.
  int scratchIndex(Scratch role) const {
    for (size_t k = 0; k < scratch.size(); ++k)
      if (scratch[k].role == role)
        return static_cast<int>(k);
    return -1;
  }
};

/// A parameter copied at pack time into the layout a kernel reads.
struct PackedParam {
  enum class Layout { Transposed, BiasSum } layout;
  ir::ValueId source;             ///< Transposed: the weight; BiasSum: b_ih
  ir::ValueId second = 0;         ///< BiasSum: b_hh
  int64_t rows = 0, cols = 0;     ///< Transposed: source shape; BiasSum: length in cols
  int64_t sumUpTo = 0;            ///< BiasSum: b_hh is added for elements < sumUpTo
  int64_t offset = 0;             ///< floats into the packed buffer
  /// Transposed W_hh of a recurrent layer ([G*H, H]) in panels of this many
  /// hidden units (0: one [H, G*H] matrix): panel p holds, for every k < H,
  /// its units of each gate in turn, contiguous, so that the recurrence
  /// reads one panel (at most kRecurrentPanelBytes) from one stretch of memory.
  int64_t panel = 0;

  /// Where source element (r, c) is, in floats from `offset`.
  int64_t indexOf(int64_t r, int64_t c) const {
    if (!panel)
      return c * rows + r;
    const int64_t H = cols, G = rows / cols, g = r / H, j = r % H, p = j / panel;
    const int64_t width = std::min(panel, H - p * panel);
    return p * panel * G * H + c * G * width + g * width + (j - p * panel);
  }
};

/// The recurrence runs per panel of hidden units (every block of batch rows
/// per panel) when W_hh^T is larger than kRecurrentL2Bytes, with panels of
/// W_hh^T of at most kRecurrentPanelBytes; and when H is a multiple of
/// kPanelAlign, W_hh^T is packed in those panels (PackedParam::panel).
constexpr int64_t kRecurrentL2Bytes = int64_t(1) << 20;
constexpr int64_t kRecurrentPanelBytes = int64_t(256) << 10;
constexpr int64_t kPanelAlign = 16;
/// The panel width for hidden units `H` and `G` gates, in multiples of
/// `align`; 0 if W_hh^T fits kRecurrentL2Bytes.
inline int64_t recurrentPanel(int64_t H, int64_t G, int64_t align) {
  if (H * G * H * 4 <= kRecurrentL2Bytes)
    return 0;
  return std::max(align, kRecurrentPanelBytes / (H * G * 4) / align * align);
}

struct SymbolicPlan {
  PlanOptions options;
  bool training = false;            ///< the loss and the parameters' gradients, dropout active
  std::vector<ir::ValueId> inputs;  ///< input ops, in ABI order
  std::vector<ir::ValueId> targets; ///< target ops, in ABI order
  std::vector<ir::ValueId> params;  ///< param ops, in ABI order
  std::vector<int64_t> paramOffsets; ///< in floats, 64-byte aligned
  int64_t paramElements = 0;
  std::vector<Step> steps;
  std::vector<Buffer> buffers;
  std::vector<Location> locations; ///< per ValueId
  std::vector<int> resultBuffer;   ///< per ValueId: the buffer a step writes, or -1
  std::vector<PackedParam> packed;
  std::vector<int> packedFor;      ///< per ValueId of a weight/bias: index into packed, or -1
  int64_t packedElements = 0;
  int64_t arenaPerSample = 0;
  int64_t arenaFixed = 0;
  ir::ValueId output = 0;
};

/// Plans the forward program of `graph` (what its output depends on):
/// 1) orders the steps, 2) gives each value a location (dropout and identity
/// alias their operand in inference), 3) allocates scratch buffers for the
/// recurrent kernels, 4) lays out the packed weights, 5) lays out the arena
/// (reusing the space of dead buffers unless options.planMemory is off).
/// With `training`, plans the training program instead: the loss and the
/// gradient of every parameter (the graph must be differentiated), with
/// dropout active.
SymbolicPlan planSymbolic(const ir::Graph &graph, const PlanOptions &options, bool training = false);

/// True for values whose size does not depend on the batch.
bool isFixedSize(const ir::TensorType &type);

/// The ops the graph's output depends on (true for each such ValueId).
std::vector<bool> forwardSlice(const ir::Graph &graph);
/// The ops the given values depend on.
std::vector<bool> sliceOf(const ir::Graph &graph, const std::vector<ir::ValueId> &roots);

/// Floats per sample of a batch-major value (its elements divided by batch).
int64_t perSampleElements(const ir::TensorType &type);

/// Assigns arena offsets: greedy first fit over the steps, a buffer's space
/// reused once its last step is past. Without reuse every buffer gets its
/// own space. Per-sample and fixed buffers are laid out apart. Returns the
/// arena size per sample; `fixedSize` receives the fixed region's size.
int64_t layoutArena(std::vector<Buffer> &buffers, bool reuse, int64_t *fixedSize = nullptr);

} // namespace rnnc::plan
