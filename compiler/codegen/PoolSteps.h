//===- PoolSteps.h - mean / max over time steps, one batch row -*- C++ -*-===//
//
// The bodies both plans' kernels of mean, max, mean_grad and max_grad run for
// one batch row `r` of a sequence [batch, T, F] whose real steps are
// 0..length-1 (length = T without sequence lengths). The callers loop over
// the rows and check the lengths; T and F are run-time values (imperative
// kernels) or constants (symbolic kernels).
#pragma once

#include "compiler/codegen/Emit.h"

namespace rnnc::codegen {

/// out[r, :] = the mean (or, max, the element-wise max) of seq[r, 0..length-1, :].
void emitPoolRow(Emitter &e, bool max, llvm::Value *seq, llvm::Value *out, llvm::Value *r, llvm::Value *length,
                 llvm::Value *T, llvm::Value *F);

/// The gradient of emitPoolRow for row r, out [batch, T, F]: mean, dy[r, :] / length
/// at the steps < length; max, dy[r, :] at the first step of the max of x[r, 0..length-1, :]
/// (x is the pooled sequence, ignored for the mean); 0 everywhere else.
void emitPoolGradRow(Emitter &e, bool max, llvm::Value *dy, llvm::Value *x, llvm::Value *out, llvm::Value *r,
                     llvm::Value *length, llvm::Value *T, llvm::Value *F);

} // namespace rnnc::codegen
