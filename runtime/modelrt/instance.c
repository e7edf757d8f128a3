/*===- instance.c - Instances: life cycle, parameter init, accessors ----===*
 *
 * The runtime that ships inside every model.so (and in rnnrun for the JIT).
 * Plain C on libc and libm only, so that a model.so needs nothing else.
 * What each of its files holds: instance.h.
 *===----------------------------------------------------------------------===*/
#include "instance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void *rnnc_rt_aligned_zeroed(int64_t floats) {
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
  inst->params = (float *)rnnc_rt_aligned_zeroed(info->param_elements);
  inst->packed = (float *)rnnc_rt_aligned_zeroed(info->packed_elements);
  inst->arena = (float *)rnnc_rt_aligned_zeroed(info->arena_per_sample * max_batch + info->arena_fixed);
  inst->lr = info->train.lr;
  inst->threads = 1;
  if (info->train.has_train_step) {
    inst->grads = (float *)rnnc_rt_aligned_zeroed(info->param_elements);
    inst->state = (float *)rnnc_rt_aligned_zeroed(2 * info->param_elements);
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
  rnnc_rt_stop_workers(inst, 1);
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

void rnnc_binding_set_learning_rate(rnnc_instance *inst, float lr) { inst->lr = lr; }

const float *rnnc_binding_gradients(rnnc_instance *inst) { return inst->grads; }
int64_t rnnc_binding_train_steps_done(rnnc_instance *inst) { return inst->steps; }
float *rnnc_binding_optimizer_state(rnnc_instance *inst) { return inst->state; }
void rnnc_binding_set_train_steps_done(rnnc_instance *inst, int64_t steps) { inst->steps = steps; }

const char *rnnc_binding_status_message(int32_t status) {
  switch (status) {
  case RNNC_OK: return "ok";
  case RNNC_ERR_BATCH: return "the batch size is 0 or larger than the instance was created for";
  case RNNC_ERR_TOKEN: return "a token id is outside the embedding's vocabulary, or a class id outside the classes";
  case RNNC_ERR_MEMORY: return "out of memory";
  case RNNC_ERR_UNSUPPORTED: return "this entry point is not in the library";
  case RNNC_ERR_LENGTH: return "a sequence length is outside [1, T] (T: the model's time steps)";
  default: return "unknown status";
  }
}
