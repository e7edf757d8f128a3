/*===- rnnc/plan.h - What generated code and the model runtime share --*- C -*-===*
 *
 * Internal to rnnc (not for embedders): the symbols a generated module
 * defines, and the imperative plan's op list that the runtime dispatches.
 * The struct layouts here and in abi.h are spelled for LLVM once, in
 * compiler/codegen/AbiTypes.cpp; test/unit/codegen/AbiTypesTest.cpp checks them.
 *===----------------------------------------------------------------------===*/
#ifndef RNNC_PLAN_H
#define RNNC_PLAN_H

#include "rnnc/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Dropout masks are never stored. In training step `step` of a run seeded
 * with `seed`, element `index` (batch-major) of dropout `stream` (the
 * dropout's ordinal in the graph) is kept, and scaled by 1/(1-p), iff
 * rnnc_dropout_uniform(seed, step, stream, index) >= p. The forward pass and
 * the gradient compute the same mask; the reference uses this function too. */
static inline float rnnc_dropout_uniform(uint64_t seed, uint64_t step, uint64_t stream, uint64_t index) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ (step + 1) * 0xC2B2AE3D27D4EB4Full ^
               (stream + 1) * 0x165667B19E3779F9ull ^ index * 0xD6E8FEB86659FD93ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (1.0f / 16777216.0f);
}

/* Arguments of one imperative kernel call. */
typedef struct rnnc_kernel_args {
  float *out;
  const void *in[4];
  int64_t batch;
  int64_t p[6]; /* kernel-specific sizes and offsets, fixed at compile time */
  uint64_t seed, step; /* training: what dropout masks are drawn from */
} rnnc_kernel_args;

typedef int32_t (*rnnc_kernel_fn)(const rnnc_kernel_args *args);

enum rnnc_op_flags {
  RNNC_OP_IN_PLACE = 1, /* writes into the tensor of slot in[0]; allocates nothing */
  RNNC_OP_ZEROED = 2,   /* the new output starts as zeros */
  RNNC_OP_ALLOC_ONLY = 4 /* no kernel: only allocates the (zeroed) output */
};

/* One op of the imperative plan: a kernel, the slots it reads and writes. */
typedef struct rnnc_op {
  rnnc_kernel_fn kernel;
  int32_t num_in;
  int32_t in[4];
  int32_t out;
  int32_t flags;
  int64_t out_per_sample; /* floats of the output per sample of the batch */
  int64_t out_fixed;      /* plus floats independent of the batch */
  int64_t p[6];
  int32_t num_free;
  int32_t free_slots[5]; /* slots whose last use is this op */
} rnnc_op;

/* Slots 0..num_inputs-1 are the inputs, the next num_params the parameters;
 * the rest are tensors the ops allocate. */
typedef struct rnnc_imperative_plan {
  int32_t num_ops;
  int32_t num_slots;
  const rnnc_op *ops;
  int32_t num_outputs;
  const int32_t *output_slots;
  /* Training (num_train_ops 0 when there is no loss). Slots: the inputs, the
   * parameters, then the targets. */
  int32_t num_train_ops;
  int32_t train_num_slots;
  const rnnc_op *train_ops;
  int32_t loss_slot;
  int32_t num_grads;
  const int32_t *grad_slots;  /* the slot of each gradient */
  const int32_t *grad_params; /* the parameter (index) it belongs to */
  /* Weights kept transposed in the instance's packed buffer (written by
   * __rnnc_pack when the parameters change): where each starts there, and
   * its slot in the forward and in the training program (-1: none). */
  int32_t num_packed;
  const int64_t *packed_offsets;
  const int32_t *packed_slots;
  const int32_t *train_packed_slots;
} rnnc_imperative_plan;

/* A kernel call packed for another thread: its arguments in one block. */
typedef int32_t (*rnnc_task_fn)(void *args);

/* What the runtime lends a symbolic program to run two independent kernels
 * (the two directions of a bidirectional layer) at once. run2 calls a(a_args)
 * and b(b_args), b on a thread of the instance's pool when one is idle (else
 * on the caller, after a), and returns when both are done: a's status if it
 * is not RNNC_OK, else b's. */
typedef struct rnnc_parallel rnnc_parallel;
struct rnnc_parallel {
  int32_t (*run2)(const rnnc_parallel *self, rnnc_task_fn a, void *a_args, rnnc_task_fn b, void *b_args);
};

/* The symbolic plan's entry point: the whole graph in one function. */
typedef int32_t (*rnnc_symbolic_forward_fn)(const float *params, float *packed, float *arena,
                                            int64_t batch, const void *const *inputs,
                                            float *const *outputs, const rnnc_parallel *parallel);
/* The symbolic plan's training entry: the loss and the gradient of every
 * parameter (into `grads`, PyTorch layout; zero where there is none). */
typedef int32_t (*rnnc_symbolic_train_fn)(const float *params, float *packed, float *arena, int64_t batch,
                                          const void *const *inputs, const void *const *targets, float *grads,
                                          float *loss, uint64_t seed, uint64_t step,
                                          const rnnc_parallel *parallel);
/* Copies the parameters into the layouts the kernels read (both plans). */
typedef void (*rnnc_pack_fn)(const float *params, float *packed);
/* The symbolic plan's Adam step (a model whose optimizer is Adam): what
 * runtime/modelrt/optimizer.c computes, bit for bit, on every parameter, and
 * the packed layout written in the same pass (no rnnc_pack_fn after it).
 * coefficients: beta1, beta2, eps, weight decay, lr / (1 - beta1^t),
 * sqrt(1 - beta2^t). */
typedef void (*rnnc_adam_update_fn)(float *params, float *packed, const float *grads, float *m, float *v,
                                    const float *coefficients);

/* Everything the runtime needs from one compiled model. */
typedef struct rnnc_model_binding {
  const rnnc_model_info *info;
  rnnc_symbolic_forward_fn forward; /* symbolic plan, else NULL */
  rnnc_pack_fn pack;                /* NULL when nothing is packed */
  rnnc_symbolic_train_fn train;     /* symbolic plan with a loss, else NULL */
  rnnc_adam_update_fn adam_update;  /* symbolic plan with Adam, else NULL */
  const rnnc_imperative_plan *imperative; /* imperative plan, else NULL */
} rnnc_model_binding;

/* The runtime behind the ABI, for a given binding (used by model.so's
 * exported functions and, through the loader, by the JIT). */
rnnc_instance *rnnc_binding_create(const rnnc_model_binding *model, int64_t max_batch);
/* Each function of rnnc/abi_functions.h as rnnc_binding_<name>, with the
 * parameters of its export rnnc_<name>. */
#define RNNC_DECLARE_BINDING(type, name, method, params, args) type rnnc_binding_##name params;
RNNC_ABI_FUNCTIONS(RNNC_DECLARE_BINDING, RNNC_DECLARE_BINDING)
#undef RNNC_DECLARE_BINDING

#ifdef __cplusplus
}
#endif

#endif /* RNNC_PLAN_H */
