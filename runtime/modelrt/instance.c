/*===- instance.c - Instances, parameter init, the imperative dispatcher -===*
 *
 * The runtime that ships inside every model.so (and in rnnrun for the JIT).
 * Plain C on libc and libm only, so that a model.so needs nothing else.
 *===----------------------------------------------------------------------===*/
#include "rnnc/plan.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cpuid.h>
#include <xmmintrin.h>

/* Denormal floats (gradients decaying through hundreds of time steps reach
 * them) make x86 arithmetic up to a hundred times slower. Like the deep
 * learning frameworks, run the model with denormals flushed to zero (FTZ and
 * DAZ in MXCSR), restoring the caller's mode afterwards. */
static unsigned flush_denormals(void) {
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);
  return saved;
}
static void restore_denormals(unsigned saved) { _mm_setcsr(saved); }

#define RNNC_MAX_THREADS 64

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
};

static void *aligned_zeroed(int64_t floats) {
  size_t bytes = (size_t)(floats > 0 ? floats : 1) * sizeof(float);
  bytes = (bytes + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, bytes);
  if (p)
    memset(p, 0, bytes);
  return p;
}

rnnc_instance *rnnc_binding_create(const rnnc_model_binding *model, int64_t max_batch) {
  if (max_batch < 1)
    return NULL;
  const rnnc_model_info *info = model->info;
  rnnc_instance *inst = (rnnc_instance *)calloc(1, sizeof *inst);
  if (!inst)
    return NULL;
  inst->model = model;
  inst->capacity = max_batch;
  inst->params = (float *)aligned_zeroed(info->param_elements);
  inst->packed = (float *)aligned_zeroed(info->packed_elements);
  inst->arena = (float *)aligned_zeroed(info->arena_per_sample * max_batch + info->arena_fixed);
  inst->lr = info->train.lr;
  inst->threads = 1;
  if (info->train.has_train_step) {
    inst->grads = (float *)aligned_zeroed(info->param_elements);
    inst->state = (float *)aligned_zeroed(2 * info->param_elements);
  }
  inst->arenas[0] = inst->arena;
  inst->chunk_grads[0] = inst->grads;
  if (!inst->params || !inst->packed || !inst->arena || (info->train.has_train_step && (!inst->grads || !inst->state))) {
    rnnc_binding_destroy(inst);
    return NULL;
  }
  rnnc_binding_params_changed(inst);
  return inst;
}

void rnnc_binding_destroy(rnnc_instance *inst) {
  if (!inst)
    return;
  free(inst->params);
  free(inst->packed);
  for (int32_t t = 1; t < RNNC_MAX_THREADS; ++t) {
    free(inst->arenas[t]);
    free(inst->chunk_grads[t]);
  }
  free(inst->arena);
  free(inst->grads);
  free(inst->state);
  free(inst);
}

/* splitmix64: a small, well-mixed generator; one stream per parameter. */
static uint64_t next_u64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in (0, 1): 53 random bits, never 0. */
static double next_unit(uint64_t *state) {
  return ((double)(next_u64(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

void rnnc_binding_init_params(rnnc_instance *inst, uint64_t seed) {
  const rnnc_model_info *info = inst->model->info;
  for (int32_t k = 0; k < info->num_params; ++k) {
    const rnnc_tensor_desc *p = &info->params[k];
    int64_t n = 1;
    for (int32_t d = 0; d < p->rank; ++d)
      n *= p->dims[d];
    float *data = inst->params + p->offset;
    uint64_t state = seed * 0x2545F4914F6CDD1Dull + (uint64_t)k * 0x9E3779B97F4A7C15ull;
    if (p->init == RNNC_INIT_STORED) {
      if (info->stored_values)
        memcpy(data, info->stored_values + p->offset, (size_t)n * sizeof(float));
      else
        memset(data, 0, (size_t)n * sizeof(float));
      continue;
    }
    for (int64_t i = 0; i < n; ++i) {
      if (p->init == RNNC_INIT_UNIFORM) {
        data[i] = (float)((2.0 * next_unit(&state) - 1.0) * p->init_scale);
      } else if (p->init == RNNC_INIT_NORMAL) { /* Box-Muller */
        double u1 = next_unit(&state), u2 = next_unit(&state);
        data[i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) * p->init_scale);
      } else {
        data[i] = 0.0f;
      }
    }
  }
  rnnc_binding_params_changed(inst);
}

float *rnnc_binding_params(rnnc_instance *inst) { return inst->params; }

void rnnc_binding_params_changed(rnnc_instance *inst) {
  if (inst->model->pack)
    inst->model->pack(inst->params, inst->packed);
}

/* The imperative plan: ops one at a time, each output freshly allocated,
 * each tensor freed after its last use, as an eager framework runs. On
 * success `slots` holds the tensors still alive (the results); the caller
 * copies them out and calls release(). */
typedef struct run_state {
  void **slots;
  char *owned;
  int32_t num_slots;
} run_state;

static void release(run_state *run) {
  if (run->slots)
    for (int32_t s = 0; s < run->num_slots; ++s)
      if (run->owned[s])
        free(run->slots[s]);
  free(run->slots);
  free(run->owned);
}

static int32_t dispatch(rnnc_instance *inst, const rnnc_op *ops, int32_t num_ops, int32_t num_slots, int64_t batch,
                        const void *const *inputs, const void *const *targets, uint64_t seed, uint64_t step,
                        run_state *run) {
  const rnnc_model_info *info = inst->model->info;
  run->num_slots = num_slots;
  run->slots = (void **)calloc((size_t)num_slots, sizeof(void *));
  run->owned = (char *)calloc((size_t)num_slots, 1);
  if (!run->slots || !run->owned)
    return RNNC_ERR_MEMORY;
  void **slots = run->slots;
  char *owned = run->owned;
  for (int32_t i = 0; i < info->num_inputs; ++i)
    slots[i] = (void *)inputs[i];
  for (int32_t k = 0; k < info->num_params; ++k)
    slots[info->num_inputs + k] = inst->params + info->params[k].offset;
  for (int32_t t = 0; targets && t < info->train.num_targets; ++t)
    slots[info->num_inputs + info->num_params + t] = (void *)targets[t];
  int32_t status = RNNC_OK;
  for (int32_t o = 0; o < num_ops && status == RNNC_OK; ++o) {
    const rnnc_op *op = &ops[o];
    float *out;
    if (op->flags & RNNC_OP_IN_PLACE) {
      out = (float *)slots[op->in[0]];
    } else {
      size_t bytes = (size_t)(op->out_per_sample * batch + op->out_fixed) * sizeof(float);
      out = (float *)malloc(bytes ? bytes : 1);
      if (!out) {
        status = RNNC_ERR_MEMORY;
        break;
      }
      if (op->flags & (RNNC_OP_ZEROED | RNNC_OP_ALLOC_ONLY))
        memset(out, 0, bytes);
      slots[op->out] = out;
      owned[op->out] = 1;
    }
    if (!(op->flags & RNNC_OP_ALLOC_ONLY)) {
      rnnc_kernel_args args;
      args.out = out;
      for (int32_t i = 0; i < 4; ++i)
        args.in[i] = i < op->num_in ? slots[op->in[i]] : NULL;
      args.batch = batch;
      memcpy(args.p, op->p, sizeof args.p);
      args.seed = seed;
      args.step = step;
      status = op->kernel(&args);
    }
    for (int32_t f = 0; f < op->num_free; ++f) {
      int32_t s = op->free_slots[f];
      if (owned[s]) {
        free(slots[s]);
        owned[s] = 0;
      }
      slots[s] = NULL;
    }
  }
  return status;
}

static int32_t forward_imperative(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                                  float *const *outputs) {
  const rnnc_model_info *info = inst->model->info;
  const rnnc_imperative_plan *plan = inst->model->imperative;
  run_state run = {0};
  int32_t status = dispatch(inst, plan->ops, plan->num_ops, plan->num_slots, batch, inputs, NULL, 0, 0, &run);
  if (status == RNNC_OK) {
    for (int32_t i = 0; i < plan->num_outputs; ++i) {
      const rnnc_tensor_desc *d = &info->outputs[i];
      int64_t n = batch;
      for (int32_t k = 1; k < d->rank; ++k)
        n *= d->dims[k];
      memcpy(outputs[i], run.slots[plan->output_slots[i]], (size_t)n * sizeof(float));
    }
  }
  release(&run);
  return status;
}

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
    return forward_imperative(inst, c->rows, in, out);
  return inst->model->forward(inst->params, inst->packed, inst->arenas[c->index], c->rows, in, out);
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
                              seed, (uint64_t)inst->steps);
  const rnnc_imperative_plan *plan = inst->model->imperative;
  run_state run = {0};
  int32_t status = dispatch(inst, plan->train_ops, plan->num_train_ops, plan->train_num_slots, c->rows, in, tg, seed,
                            (uint64_t)inst->steps, &run);
  if (status == RNNC_OK) {
    c->loss = ((const float *)run.slots[plan->loss_slot])[0];
    memset(grads, 0, (size_t)info->param_elements * sizeof(float));
    for (int32_t g = 0; g < plan->num_grads; ++g) {
      const rnnc_tensor_desc *d = &info->params[plan->grad_params[g]];
      int64_t n = 1;
      for (int32_t k = 0; k < d->rank; ++k)
        n *= d->dims[k];
      memcpy(grads + d->offset, run.slots[plan->grad_slots[g]], (size_t)n * sizeof(float));
    }
  }
  release(&run);
  return status;
}

static void *run_chunk(void *arg) {
  chunk *c = (chunk *)arg;
  const unsigned mode = flush_denormals(); /* MXCSR is per thread */
  c->status = c->training ? train_chunk(c) : forward_chunk(c);
  restore_denormals(mode);
  return NULL;
}

/* Splits the batch into the instance's chunks and runs them, the first on
 * the calling thread. Returns the first error. */
static int32_t run_chunks(rnnc_instance *inst, int64_t batch, const void *const *inputs, const void *const *targets,
                          float *const *outputs, int training, int64_t first_chunk, chunk *chunks, int32_t *count) {
  const int32_t n = batch < inst->threads ? (int32_t)batch : inst->threads;
  pthread_t threads[RNNC_MAX_THREADS];
  int started[RNNC_MAX_THREADS] = {0};
  int64_t row = 0;
  for (int32_t k = 0; k < n; ++k) {
    chunk *c = &chunks[k];
    c->inst = inst, c->index = k, c->global = first_chunk + k, c->row0 = row, c->rows = batch / n + (k < batch % n);
    c->inputs = inputs, c->targets = targets, c->outputs = outputs, c->training = training;
    c->loss = 0, c->status = RNNC_OK;
    row += c->rows;
  }
  for (int32_t k = 1; k < n; ++k)
    started[k] = pthread_create(&threads[k], NULL, run_chunk, &chunks[k]) == 0;
  run_chunk(&chunks[0]);
  int32_t status = chunks[0].status;
  for (int32_t k = 1; k < n; ++k) {
    if (started[k])
      pthread_join(threads[k], NULL);
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

/* Adam's element-wise update, vectorized for the CPU it runs on: the model
 * runtime is built for any x86-64 and carries an AVX2 and an AVX-512 copy,
 * picked by cpuid (not by GCC's target_clones, which would need libgcc in
 * every model.so). The scalar loop was 72% of the instructions of a batch-1
 * training step (W2, callgrind).
 * Every copy computes what the scalar loop does, in the same order, with no
 * contraction into FMAs (-ffp-contract=off), so all give the same bits. */
#define RNNC_ADAM_BODY                                                                                             \
  for (int64_t i = 0; i < n; ++i) {                                                                                \
    const float grad = g[i] + wd * p[i];                                                                           \
    m[i] = b1 * m[i] + (1 - b1) * grad;                                                                            \
    v[i] = b2 * v[i] + (1 - b2) * grad * grad;                                                                     \
    p[i] -= stepSize * m[i] / (sqrtf(v[i]) / rootC2 + eps);                                                        \
  }
#define RNNC_ADAM_PARAMS                                                                                           \
  int64_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v, float b1, float b2, \
      float eps, float wd, float stepSize, float rootC2
static void adam_portable(RNNC_ADAM_PARAMS) { RNNC_ADAM_BODY }
__attribute__((target("avx2"))) static void adam_avx2(RNNC_ADAM_PARAMS) { RNNC_ADAM_BODY }
__attribute__((target("avx512f"))) static void adam_avx512(RNNC_ADAM_PARAMS) { RNNC_ADAM_BODY }

/* 2: AVX-512F, 1: AVX2, 0: neither (cpuid, and the OS saves the registers). */
static int vector_level(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
    return 0;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  (void)hi;
  if ((lo & 0x6) != 0x6 || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & bit_AVX2))
    return 0;
  return (b & bit_AVX512F) && (lo & 0xe6) == 0xe6 ? 2 : 1;
}

static void adam_update(RNNC_ADAM_PARAMS) {
  static int level = -1;
  if (level < 0)
    level = vector_level();
  (level == 2 ? adam_avx512 : level == 1 ? adam_avx2 : adam_portable)(n, p, g, m, v, b1, b2, eps, wd, stepSize, rootC2);
}

/* Clipping and the optimizer update, as torch.nn.utils.clip_grad_norm_ and
 * torch.optim.Adam / SGD (no dampening) do them. */
static void update(rnnc_instance *inst) {
  const rnnc_model_info *info = inst->model->info;
  const rnnc_train_info *t = &info->train;
  const int64_t n = info->param_elements;
  float *p = inst->params, *g = inst->grads, *m = inst->state, *v = inst->state + n;
  if (t->clip > 0) {
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
      total += (double)g[i] * g[i];
    const double norm = sqrt(total);
    if (norm > t->clip) {
      const float scale = (float)(t->clip / (norm + 1e-6));
      for (int64_t i = 0; i < n; ++i)
        g[i] *= scale;
    }
  }
  const int64_t step = ++inst->steps;
  const float lr = inst->lr, wd = t->weight_decay;
  if (t->optimizer == RNNC_OPT_ADAM) {
    const float b1 = t->beta1, b2 = t->beta2, eps = t->eps;
    const float c1 = (float)(1.0 - pow(b1, (double)step)), c2 = (float)(1.0 - pow(b2, (double)step));
    adam_update(n, p, g, m, v, b1, b2, eps, wd, lr / c1, sqrtf(c2));
  } else {
    const float mu = t->momentum;
    for (int64_t i = 0; i < n; ++i) {
      float grad = g[i] + wd * p[i];
      if (mu != 0) {
        m[i] = step == 1 ? grad : mu * m[i] + grad;
        grad = t->nesterov ? grad + mu * m[i] : m[i];
      }
      p[i] -= lr * grad;
    }
  }
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

/* The batch's gradient from its chunks': the row-weighted mean, summed in
 * double in chunk order (the one rule, whatever holds the chunks), then
 * clipping and the optimizer update. */
int32_t rnnc_binding_apply_gradients(rnnc_instance *inst, int32_t count, const float *const *grads,
                                     const int64_t *rows) {
  const rnnc_model_info *info = inst->model->info;
  if (!inst->grads)
    return RNNC_ERR_UNSUPPORTED;
  if (count < 1)
    return RNNC_ERR_BATCH;
  int64_t batch = 0;
  for (int32_t k = 0; k < count; ++k) {
    if (rows[k] < 1)
      return RNNC_ERR_BATCH;
    batch += rows[k];
  }
  float *g = inst->grads;
  if (count == 1) {
    if (grads[0] != g)
      memcpy(g, grads[0], (size_t)info->param_elements * sizeof(float));
  } else {
    for (int64_t i = 0; i < info->param_elements; ++i) {
      double sum = 0;
      for (int32_t k = 0; k < count; ++k)
        sum += (double)grads[k][i] * rows[k];
      g[i] = (float)(sum / batch);
    }
  }
  inst->chunks_done = 0; /* the chunk buffers may have been overwritten (grads is chunk 0's) */
  const unsigned mode = flush_denormals();
  update(inst);
  rnnc_binding_params_changed(inst);
  restore_denormals(mode);
  return RNNC_OK;
}

int32_t rnnc_binding_train_step(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                                const void *const *targets, float *loss) {
  int32_t status = rnnc_binding_compute_gradients(inst, batch, inputs, targets, 0, loss);
  if (status != RNNC_OK)
    return status;
  const float *grads[RNNC_MAX_THREADS];
  int64_t rows[RNNC_MAX_THREADS];
  const int32_t count = inst->chunks_done;
  for (int32_t k = 0; k < count; ++k)
    grads[k] = rnnc_binding_chunk_gradient(inst, k, &rows[k], NULL);
  return rnnc_binding_apply_gradients(inst, count, grads, rows);
}

void rnnc_binding_set_learning_rate(rnnc_instance *inst, float lr) { inst->lr = lr; }

int32_t rnnc_binding_set_threads(rnnc_instance *inst, int32_t threads) {
  const rnnc_model_info *info = inst->model->info;
  if (threads < 1)
    threads = 1;
  if (threads > RNNC_MAX_THREADS)
    threads = RNNC_MAX_THREADS;
  if (threads > inst->capacity)
    threads = (int32_t)inst->capacity;
  const int64_t rows = (inst->capacity + threads - 1) / threads;
  inst->chunks_done = 0;
  for (int32_t t = 1; t < RNNC_MAX_THREADS; ++t) {
    free(inst->arenas[t]);
    free(inst->chunk_grads[t]);
    inst->arenas[t] = NULL;
    inst->chunk_grads[t] = NULL;
    if (t >= threads)
      continue;
    inst->arenas[t] = (float *)aligned_zeroed(info->arena_per_sample * rows + info->arena_fixed);
    if (info->train.has_train_step)
      inst->chunk_grads[t] = (float *)aligned_zeroed(info->param_elements);
    if (!inst->arenas[t] || (info->train.has_train_step && !inst->chunk_grads[t])) {
      inst->threads = 1;
      return RNNC_ERR_MEMORY;
    }
  }
  inst->threads = threads;
  return RNNC_OK;
}
const float *rnnc_binding_gradients(rnnc_instance *inst) { return inst->grads; }
int64_t rnnc_binding_steps_done(rnnc_instance *inst) { return inst->steps; }
float *rnnc_binding_optimizer_state(rnnc_instance *inst) { return inst->state; }
void rnnc_binding_set_steps_done(rnnc_instance *inst, int64_t steps) { inst->steps = steps; }

const char *rnnc_binding_status_message(int32_t status) {
  switch (status) {
  case RNNC_OK: return "ok";
  case RNNC_ERR_BATCH: return "the batch size is 0 or larger than the instance was created for";
  case RNNC_ERR_TOKEN: return "a token id is outside the embedding's vocabulary, or a class id outside the classes";
  case RNNC_ERR_MEMORY: return "out of memory";
  case RNNC_ERR_UNSUPPORTED: return "this entry point is not in the library";
  default: return "unknown status";
  }
}
