/*===- threads.c - Chunks of a batch on threads: forward and gradients ---===*
 *
 * Data parallelism inside one instance: the batch is split into chunks of
 * rows, each run on its own thread (the instance's workers, pool.c) with its
 * own working memory and gradient buffer; the first chunk runs on the
 * calling thread. When the batch has fewer rows than threads, each chunk is
 * lent one of the idle workers for the kernels its program may run at once.
 *===----------------------------------------------------------------------===*/
#include "instance.h"

#include <stdlib.h>

/* The pointer to row `row` of a batch-major tensor of 4-byte elements. */
static const void *row_of(const void *base, const rnnc_tensor_desc *d, int64_t row) {
  int64_t n = 1;
  for (int32_t k = 1; k < d->rank; ++k)
    n *= d->dims[k];
  return (const char *)base + row * n * 4;
}

/* One chunk of rows, for one thread. */
typedef struct chunk {
  rnnc_instance *inst;
  int32_t index;       /* local: which working memory and gradient buffer */
  int64_t global;      /* the chunk's number in the global batch: its dropout seed */
  int64_t row0, rows;
  const void *const *inputs, *const *targets;
  float *const *outputs;
  int training;
  float loss;
  int32_t status;
  rnnc_lent_thread lent; /* an idle worker for its program, or none */
} chunk;

#define RNNC_MAX_TENSORS 16

static int32_t forward_chunk(chunk *c) {
  rnnc_instance *inst = c->inst;
  const rnnc_model_info *info = inst->model->info;
  const void *in[RNNC_MAX_TENSORS];
  float *out[RNNC_MAX_TENSORS];
  for (int32_t i = 0; i < info->num_inputs && i < RNNC_MAX_TENSORS; ++i)
    in[i] = row_of(c->inputs[i], &info->inputs[i], c->row0);
  for (int32_t i = 0; i < info->num_outputs && i < RNNC_MAX_TENSORS; ++i)
    out[i] = (float *)row_of(c->outputs[i], &info->outputs[i], c->row0);
  if (inst->model->imperative)
    return rnnc_rt_forward_imperative(inst, c->rows, in, out);
  return inst->model->forward(inst->params, inst->packed, inst->arenas[c->index], c->rows, in, out, &c->lent.base);
}

/* The loss and gradients of one chunk; chunk k > 0 of the global batch draws
 * its dropout masks from its own seed, so a run is deterministic for a seed
 * and a total number of chunks (threads, or ranks x threads). */
static int32_t train_chunk(chunk *c) {
  rnnc_instance *inst = c->inst;
  const rnnc_model_info *info = inst->model->info;
  const void *in[RNNC_MAX_TENSORS], *tg[RNNC_MAX_TENSORS];
  for (int32_t i = 0; i < info->num_inputs && i < RNNC_MAX_TENSORS; ++i)
    in[i] = row_of(c->inputs[i], &info->inputs[i], c->row0);
  for (int32_t i = 0; i < info->train.num_targets && i < RNNC_MAX_TENSORS; ++i)
    tg[i] = row_of(c->targets[i], &info->train.targets[i], c->row0);
  const uint64_t seed = info->train.seed + (uint64_t)c->global * 0x9E3779B97F4A7C15ull;
  float *grads = inst->chunk_grads[c->index];
  if (inst->model->train)
    return inst->model->train(inst->params, inst->packed, inst->arenas[c->index], c->rows, in, tg, grads, &c->loss,
                              seed, (uint64_t)inst->steps, &c->lent.base);
  return rnnc_rt_train_imperative(inst, c->rows, in, tg, seed, (uint64_t)inst->steps, grads, &c->loss);
}

static int32_t run_chunk(void *arg) {
  chunk *c = (chunk *)arg;
  const unsigned mode = flush_denormals(); /* MXCSR is per thread */
  c->status = c->training ? train_chunk(c) : forward_chunk(c);
  restore_denormals(mode);
  return c->status;
}

/* Splits the batch into the instance's chunks and runs them, the first on
 * the calling thread. Returns the first error. */
static int32_t run_chunks(rnnc_instance *inst, int64_t batch, const void *const *inputs, const void *const *targets,
                          float *const *outputs, int training, int64_t first_chunk, chunk *chunks, int32_t *count) {
  const int32_t n = batch < inst->threads ? (int32_t)batch : inst->threads;
  int started[RNNC_MAX_THREADS] = {0};
  int64_t row = 0;
  for (int32_t k = 0; k < n; ++k) {
    chunk *c = &chunks[k];
    c->inst = inst, c->index = k, c->global = first_chunk + k, c->row0 = row, c->rows = batch / n + (k < batch % n);
    c->inputs = inputs, c->targets = targets, c->outputs = outputs, c->training = training;
    c->loss = 0, c->status = RNNC_OK;
    /* Workers n.. are idle in this call: chunk k may lend worker n + k. */
    rnnc_rt_lend_thread(&c->lent, inst, n + k < inst->threads ? n + k : 0);
    row += c->rows;
  }
  for (int32_t k = 1; k < n; ++k)
    started[k] = rnnc_rt_post(inst, k, run_chunk, &chunks[k]);
  run_chunk(&chunks[0]);
  int32_t status = chunks[0].status;
  for (int32_t k = 1; k < n; ++k) {
    if (started[k])
      rnnc_rt_wait(inst, k);
    else
      run_chunk(&chunks[k]); /* no thread to be had: run it here */
    if (status == RNNC_OK)
      status = chunks[k].status;
  }
  *count = n;
  return status;
}

int32_t rnnc_binding_forward(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                             float *const *outputs) {
  if (batch < 1 || batch > inst->capacity)
    return RNNC_ERR_BATCH;
  if (!inst->model->imperative && !inst->model->forward)
    return RNNC_ERR_UNSUPPORTED;
  chunk chunks[RNNC_MAX_THREADS];
  int32_t count;
  return run_chunks(inst, batch, inputs, NULL, outputs, 0, 0, chunks, &count);
}

int32_t rnnc_binding_compute_gradients(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                                       const void *const *targets, int64_t first_chunk, float *loss) {
  const rnnc_imperative_plan *plan = inst->model->imperative;
  inst->chunks_done = 0;
  if (!inst->model->train && !(plan && plan->num_train_ops > 0))
    return RNNC_ERR_UNSUPPORTED;
  if (batch < 1 || batch > inst->capacity || first_chunk < 0)
    return RNNC_ERR_BATCH;
  chunk chunks[RNNC_MAX_THREADS];
  int32_t count;
  int32_t status = run_chunks(inst, batch, inputs, targets, NULL, 1, first_chunk, chunks, &count);
  if (status != RNNC_OK)
    return status;
  /* Every loss is a mean over the rows' elements: weight each chunk by its rows. */
  double total = 0;
  for (int32_t k = 0; k < count; ++k) {
    total += (double)chunks[k].loss * chunks[k].rows;
    inst->chunk_rows[k] = chunks[k].rows;
    inst->chunk_loss[k] = chunks[k].loss;
  }
  inst->chunks_done = count;
  if (loss)
    *loss = (float)(total / batch);
  return RNNC_OK;
}

int32_t rnnc_binding_gradient_chunks(rnnc_instance *inst) { return inst->chunks_done; }

const float *rnnc_binding_chunk_gradient(rnnc_instance *inst, int32_t k, int64_t *rows, float *loss) {
  if (k < 0 || k >= inst->chunks_done)
    return NULL;
  if (rows)
    *rows = inst->chunk_rows[k];
  if (loss)
    *loss = inst->chunk_loss[k];
  return inst->chunk_grads[k];
}

int32_t rnnc_binding_set_threads(rnnc_instance *inst, int32_t threads) {
  const rnnc_model_info *info = inst->model->info;
  if (threads < 1)
    threads = 1;
  if (threads > RNNC_MAX_THREADS)
    threads = RNNC_MAX_THREADS;
  /* Chunks: at most one per row of the largest batch; threads beyond them
   * serve only as lent workers (rnnc_parallel) and need no working memory. */
  const int32_t chunks = threads > inst->capacity ? (int32_t)inst->capacity : threads;
  const int64_t rows = (inst->capacity + chunks - 1) / chunks;
  inst->chunks_done = 0;
  rnnc_rt_stop_workers(inst, threads);
  for (int32_t t = 1; t < RNNC_MAX_THREADS; ++t) {
    free(inst->arenas[t]);
    free(inst->chunk_grads[t]);
    inst->arenas[t] = NULL;
    inst->chunk_grads[t] = NULL;
    if (t >= chunks)
      continue;
    inst->arenas[t] = (float *)rnnc_rt_aligned_zeroed(info->arena_per_sample * rows + info->arena_fixed);
    if (info->train.has_train_step)
      inst->chunk_grads[t] = (float *)rnnc_rt_aligned_zeroed(info->param_elements);
    if (!inst->arenas[t] || (info->train.has_train_step && !inst->chunk_grads[t])) {
      inst->threads = 1;
      return RNNC_ERR_MEMORY;
    }
  }
  inst->threads = threads;
  return RNNC_OK;
}
