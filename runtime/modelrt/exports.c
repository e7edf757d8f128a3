/*===- exports.c - The ABI functions a model.so exports ---------------===*
 *
 * Linked into every model.so next to the generated object, which defines
 * __rnnc_info and either the symbolic plan (__rnnc_symbolic_forward,
 * __rnnc_pack) or the imperative plan (__rnnc_imperative_plan).
 *===----------------------------------------------------------------------===*/
#include "rnnc/plan.h"

#include <stddef.h>

extern const rnnc_model_info __rnnc_info;
extern int32_t __rnnc_symbolic_forward(const float *, float *, float *, int64_t, const void *const *,
                                       float *const *) __attribute__((weak));
extern void __rnnc_pack(const float *, float *) __attribute__((weak));
extern int32_t __rnnc_symbolic_train(const float *, float *, float *, int64_t, const void *const *, const void *const *,
                                     float *, float *, uint64_t, uint64_t) __attribute__((weak));
extern const rnnc_imperative_plan __rnnc_imperative_plan __attribute__((weak));

static rnnc_model_binding binding(void) {
  rnnc_model_binding b;
  b.info = &__rnnc_info;
  b.forward = __rnnc_symbolic_forward;
  b.pack = __rnnc_pack;
  b.train = __rnnc_symbolic_train;
  b.imperative = &__rnnc_imperative_plan ? &__rnnc_imperative_plan : NULL;
  return b;
}

static rnnc_model_binding the_binding;

#define EXPORT __attribute__((visibility("default")))

EXPORT const rnnc_model_info *rnnc_model_info_get(void) { return &__rnnc_info; }

EXPORT rnnc_instance *rnnc_create(int64_t max_batch) {
  the_binding = binding();
  return rnnc_binding_create(&the_binding, max_batch);
}
EXPORT void rnnc_destroy(rnnc_instance *instance) { rnnc_binding_destroy(instance); }
EXPORT void rnnc_init_params(rnnc_instance *instance, uint64_t seed) {
  rnnc_binding_init_params(instance, seed);
}
EXPORT float *rnnc_params(rnnc_instance *instance) { return rnnc_binding_params(instance); }
EXPORT void rnnc_params_changed(rnnc_instance *instance) { rnnc_binding_params_changed(instance); }
EXPORT int32_t rnnc_forward(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                            float *const *outputs) {
  return rnnc_binding_forward(instance, batch, inputs, outputs);
}
EXPORT int32_t rnnc_train_step(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                               const void *const *targets, float *loss) {
  return rnnc_binding_train_step(instance, batch, inputs, targets, loss);
}
EXPORT int32_t rnnc_set_threads(rnnc_instance *instance, int32_t threads) {
  return rnnc_binding_set_threads(instance, threads);
}
EXPORT void rnnc_set_learning_rate(rnnc_instance *instance, float lr) { rnnc_binding_set_learning_rate(instance, lr); }
EXPORT const float *rnnc_gradients(rnnc_instance *instance) { return rnnc_binding_gradients(instance); }
EXPORT int64_t rnnc_train_steps_done(rnnc_instance *instance) { return rnnc_binding_steps_done(instance); }
EXPORT float *rnnc_optimizer_state(rnnc_instance *instance) { return rnnc_binding_optimizer_state(instance); }
EXPORT void rnnc_set_train_steps_done(rnnc_instance *instance, int64_t steps) {
  rnnc_binding_set_steps_done(instance, steps);
}
EXPORT const char *rnnc_status_message(int32_t status) { return rnnc_binding_status_message(status); }
EXPORT int32_t rnnc_compute_gradients(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                                      const void *const *targets, int64_t first_chunk, float *loss) {
  return rnnc_binding_compute_gradients(instance, batch, inputs, targets, first_chunk, loss);
}
EXPORT int32_t rnnc_gradient_chunks(rnnc_instance *instance) { return rnnc_binding_gradient_chunks(instance); }
EXPORT const float *rnnc_chunk_gradient(rnnc_instance *instance, int32_t chunk, int64_t *rows, float *loss) {
  return rnnc_binding_chunk_gradient(instance, chunk, rows, loss);
}
EXPORT int32_t rnnc_apply_gradients(rnnc_instance *instance, int32_t count, const float *const *grads,
                                    const int64_t *rows) {
  return rnnc_binding_apply_gradients(instance, count, grads, rows);
}
