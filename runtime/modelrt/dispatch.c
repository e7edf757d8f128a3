/*===- dispatch.c - The imperative plan's interpreter ----------------------===*
 *
 * The imperative plan: ops one at a time, each output freshly allocated,
 * each tensor freed after its last use, as an eager framework runs.
 *===----------------------------------------------------------------------===*/
#include "instance.h"

#include <stdlib.h>
#include <string.h>

/* On success `slots` holds the tensors still alive (the results); the caller
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

static int32_t dispatch(rnnc_instance *inst, const rnnc_op *ops, int32_t num_ops, int32_t num_slots,
                        const int32_t *packed_slots, int64_t batch, const void *const *inputs, const void *const *targets, uint64_t seed, uint64_t step,
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
  /* The transposed weights, written when the parameters last changed. */
  const rnnc_imperative_plan *plan = inst->model->imperative;
  for (int32_t w = 0; w < plan->num_packed; ++w)
    if (packed_slots[w] >= 0)
      slots[packed_slots[w]] = inst->packed + plan->packed_offsets[w];
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

int32_t rnnc_rt_forward_imperative(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                                   float *const *outputs) {
  const rnnc_model_info *info = inst->model->info;
  const rnnc_imperative_plan *plan = inst->model->imperative;
  run_state run = {0};
  int32_t status = dispatch(inst, plan->ops, plan->num_ops, plan->num_slots, plan->packed_slots, batch, inputs, NULL, 0, 0, &run);
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

int32_t rnnc_rt_train_imperative(rnnc_instance *inst, int64_t batch, const void *const *inputs,
                                 const void *const *targets, uint64_t seed, uint64_t step, float *grads,
                                 float *loss) {
  const rnnc_model_info *info = inst->model->info;
  const rnnc_imperative_plan *plan = inst->model->imperative;
  run_state run = {0};
  int32_t status = dispatch(inst, plan->train_ops, plan->num_train_ops, plan->train_num_slots, plan->train_packed_slots, batch, inputs, targets,
                            seed, step, &run);
  if (status == RNNC_OK) {
    *loss = ((const float *)run.slots[plan->loss_slot])[0];
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
