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
                                       float *const *, const rnnc_parallel *) __attribute__((weak));
extern void __rnnc_pack(const float *, float *) __attribute__((weak));
extern int32_t __rnnc_symbolic_train(const float *, float *, float *, int64_t, const void *const *, const void *const *,
                                     float *, float *, uint64_t, uint64_t, const rnnc_parallel *)
    __attribute__((weak));
extern void __rnnc_adam_update(float *, float *, const float *, float *, float *, const float *) __attribute__((weak));
extern const rnnc_imperative_plan __rnnc_imperative_plan __attribute__((weak));

static rnnc_model_binding binding(void) {
  rnnc_model_binding b;
  b.info = &__rnnc_info;
  b.forward = __rnnc_symbolic_forward;
  b.pack = __rnnc_pack;
  b.train = __rnnc_symbolic_train;
  b.adam_update = __rnnc_adam_update;
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

/* Every other export rnnc_<name> (rnnc/abi_functions.h) calls its twin
 * rnnc_binding_<name>. */
#define RNNC_EXPORT_FN(type, name, method, params, args)                                                               \
  EXPORT type rnnc_##name params { return rnnc_binding_##name args; }
#define RNNC_EXPORT_PROC(type, name, method, params, args)                                                             \
  EXPORT type rnnc_##name params { rnnc_binding_##name args; }
RNNC_ABI_FUNCTIONS(RNNC_EXPORT_FN, RNNC_EXPORT_PROC)
