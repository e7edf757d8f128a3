/*===- instance.h - The instance struct (private to runtime/modelrt) -*- C -*-===*
 *
 * What the model runtime's files share: the instance, the denormal mode
 * every entry point runs in, and the few functions one file calls in
 * another. The runtime's files, by responsibility:
 *   instance.c   life cycle, parameter initialization, accessors
 *   dispatch.c   the imperative plan's interpreter
 *   threads.c    chunks of rows on threads: forward, gradients
 *   pool.c       the instance's persistent worker threads, rnnc_parallel
 *   optimizer.c  clipping, Adam and SGD; the update from chunks' gradients
 *   exports.c    the ABI functions a model.so exports
 *===----------------------------------------------------------------------===*/
#ifndef RNNC_MODELRT_INSTANCE_H
#define RNNC_MODELRT_INSTANCE_H

#include "rnnc/plan.h"

#include <xmmintrin.h>

/* Denormal floats (gradients decaying through hundreds of time steps reach
 * them) make x86 arithmetic up to a hundred times slower. Like the deep
 * learning frameworks, run the model with denormals flushed to zero (FTZ and
 * DAZ in MXCSR), restoring the caller's mode afterwards. */
static inline unsigned flush_denormals(void) {
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);
  return saved;
}
static inline void restore_denormals(unsigned saved) { _mm_setcsr(saved); }

#define RNNC_MAX_THREADS 64

typedef struct rnnc_worker rnnc_worker; /* pool.c */

struct rnnc_instance {
  const rnnc_model_binding *model;
  int64_t capacity;
  float *params;
  float *packed;
  float *arena;
  float *grads;  /* training only */
  float *state;  /* optimizer state: 2 * param_elements */
  int64_t steps; /* optimizer steps done */
  float lr;
  /* Data parallelism: the batch is split into `threads` chunks of rows, each
   * run on its own thread with its own working memory and gradients. */
  int32_t threads;
  float *arenas[RNNC_MAX_THREADS];      /* [0] is `arena` */
  float *chunk_grads[RNNC_MAX_THREADS]; /* [0] is `grads` */
  /* The chunks of the last rnnc_compute_gradients: their rows and losses. */
  int32_t chunks_done;
  int64_t chunk_rows[RNNC_MAX_THREADS];
  float chunk_loss[RNNC_MAX_THREADS];
  /* Persistent worker threads 1..threads-1 ([0] is the caller's), started
   * on first use (pool.c). */
  rnnc_worker *workers[RNNC_MAX_THREADS];
  /* Kernels run on a lent worker so far (rnnc_parallel); for the tests. */
  int64_t lent_runs;
};

/* Runs fn(args) on worker k (1 <= k < threads), starting it if need be.
 * Returns 0 (and runs nothing) if no such thread can be had. */
int rnnc_rt_post(rnnc_instance *inst, int32_t k, rnnc_task_fn fn, void *args);
/* Waits for the task posted to worker k; returns its status. */
int32_t rnnc_rt_wait(rnnc_instance *inst, int32_t k);
/* Stops and frees workers from..RNNC_MAX_THREADS-1. */
void rnnc_rt_stop_workers(rnnc_instance *inst, int32_t from);

/* The rnnc_parallel a symbolic program gets: worker `worker` (0: none, the
 * two kernels run one after the other on the caller). */
typedef struct rnnc_lent_thread {
  rnnc_parallel base; /* first: the program sees a rnnc_parallel */
  rnnc_instance *inst;
  int32_t worker;
} rnnc_lent_thread;
void rnnc_rt_lend_thread(rnnc_lent_thread *lent, rnnc_instance *inst, int32_t worker);

/* A zeroed, 64-byte aligned buffer of `floats` floats (at least one). */
void *rnnc_rt_aligned_zeroed(int64_t floats);

/* The imperative plan's forward pass on `batch` rows (dispatch.c). */
int32_t rnnc_rt_forward_imperative(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                                   float *const *outputs);
/* The imperative plan's loss and gradients on `batch` rows, the gradients
 * into `grads` (param_elements floats, zero where there is none). */
int32_t rnnc_rt_train_imperative(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                                 const void *const *targets, uint64_t seed, uint64_t step, float *grads,
                                 float *loss);

#endif /* RNNC_MODELRT_INSTANCE_H */
