/*===- optimizer.c - Clipping, Adam and SGD; the update from chunks -------===*/
#include "instance.h"

#include <cpuid.h>
#include <math.h>
#include <string.h>

/* Adam's element-wise update, vectorized for the CPU it runs on: the model
 * runtime is built for any x86-64 and carries an AVX2 and an AVX-512 copy,
 * picked by cpuid (not by GCC's target_clones, which would need libgcc in
 * every model.so). The scalar loop was 72% of the instructions of a batch-1
 * training step (W2, callgrind).
 * Every copy computes what the scalar loop does, in the same order, with no
 * contraction into FMAs (-ffp-contract=off), so all give the same bits.
 * torch's sqrt(v) / sqrt(1 - b2^t) is a product by the reciprocal in double,
 * rounded once to float: the same float as the quotient (docs/training.md,
 * "Adam"), off the divider, which the square root and the other division
 * keep busy (a batch-1 step is bound by it). */
#define RNNC_ADAM_BODY                                                                                             \
  for (int64_t i = 0; i < n; ++i) {                                                                                \
    const float grad = g[i] + wd * p[i];                                                                           \
    m[i] = b1 * m[i] + (1 - b1) * grad;                                                                            \
    v[i] = b2 * v[i] + (1 - b2) * grad * grad;                                                                     \
    p[i] -= stepSize * m[i] / ((float)((double)sqrtf(v[i]) * inverseRootC2) + eps);                               \
  }
#define RNNC_ADAM_PARAMS                                                                                           \
  int64_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v, float b1, float b2, \
      float eps, float wd, float stepSize, double inverseRootC2
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
  (level == 2 ? adam_avx512 : level == 1 ? adam_avx2 : adam_portable)(n, p, g, m, v, b1, b2, eps, wd, stepSize,
                                                                     inverseRootC2);
}

/* Clipping and the optimizer update, as torch.nn.utils.clip_grad_norm_ and
 * torch.optim.Adam / SGD (no dampening) do them, then the packed layout of
 * the new parameters: with the symbolic plan's Adam in the same pass (a
 * batch-1 step spent 3 us of 18 repacking after the update), else after it. */
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
    if (inst->model->adam_update) {
      const float coefficients[6] = {b1, b2, eps, wd, lr / c1, sqrtf(c2)};
      inst->model->adam_update(p, inst->packed, g, m, v, coefficients);
      return;
    }
    adam_update(n, p, g, m, v, b1, b2, eps, wd, lr / c1, 1.0 / (double)sqrtf(c2));
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
  rnnc_binding_params_changed(inst);
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

