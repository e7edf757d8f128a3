/*===- rnnc/abi_functions.h - The ABI's functions, listed once --*- C -*-===*
 *
 * Every function a model.so exports, besides rnnc_model_info_get and
 * rnnc_create (declared in abi.h: they are the library's own), is listed
 * here once. Each entry expands one of two macros the includer defines:
 *
 *   RNNC_FN(type, name, method, (parameters), (arguments))    returns a value
 *   RNNC_PROC(void, name, method, (parameters), (arguments))  returns nothing
 *
 * `rnnc_<name>` is the exported function (declared by abi.h),
 * `rnnc_binding_<name>` its twin in the model runtime (plan.h, defined in
 * runtime/modelrt) with the same parameters, and `method` the member of
 * rnnc::runtime::Model (runtime/loader/Loader.h) that calls it. The loader
 * fills its table of these functions by dlsym from a model.so or from the
 * runtime for the JIT; runtime/modelrt/exports.c defines the exports.
 * To add a function: one entry here, its rnnc_binding_ twin in
 * runtime/modelrt, docs/abi.md.
 *===----------------------------------------------------------------------===*/
#ifndef RNNC_ABI_FUNCTIONS_H
#define RNNC_ABI_FUNCTIONS_H

#define RNNC_ABI_FUNCTIONS(RNNC_FN, RNNC_PROC)                                                                      \
  /* Frees the instance and everything it holds. */                                                                \
  RNNC_PROC(void, destroy, destroy, (rnnc_instance * instance), (instance))                                         \
  /* Initializes every parameter as PyTorch does by default, from `seed`;                                           \
   * stored parameters get their stored values. */                                                                 \
  RNNC_PROC(void, init_params, initParams, (rnnc_instance * instance, uint64_t seed), (instance, seed))             \
  /* The parameter buffer (param_elements floats, PyTorch layout). After                                            \
   * writing it, call rnnc_params_changed. */                                                                      \
  RNNC_FN(float *, params, params, (rnnc_instance * instance), (instance))                                          \
  RNNC_PROC(void, params_changed, paramsChanged, (rnnc_instance * instance), (instance))                            \
  /* Runs the model on `batch` samples. inputs[i] points to input i (dtype and                                      \
   * shape from the metadata, batch-major); outputs[i] receives output i.                                           \
   * Returns an rnnc_status. */                                                                                    \
  RNNC_FN(int32_t, forward, forward,                                                                                \
          (rnnc_instance * instance, int64_t batch, const void *const *inputs, float *const *outputs),             \
          (instance, batch, inputs, outputs))                                                                       \
  /* One training step on `batch` samples: forward (dropout active), the loss,                                      \
   * back-propagation, gradient clipping and the optimizer update of the                                            \
   * parameters (as torch.optim.Adam / SGD). *loss receives the batch's loss                                        \
   * before the update. RNNC_ERR_UNSUPPORTED if the library has no train step. */                                  \
  RNNC_FN(int32_t, train_step, trainStep,                                                                           \
          (rnnc_instance * instance, int64_t batch, const void *const *inputs, const void *const *targets,          \
           float *loss),                                                                                            \
          (instance, batch, inputs, targets, loss))                                                                 \
  /* Run forward passes and train steps on `threads` threads (default 1): the                                       \
   * batch is split into that many chunks of rows (at most one per row); the                                        \
   * threads a smaller batch leaves idle run the second direction of each                                           \
   * bidirectional layer beside the first (symbolic plan). Results are                                              \
   * deterministic for a given number of chunks (dropout masks and the order of                                     \
   * gradient sums depend on it), the same bits whether or not a thread is lent.                                    \
   * The threads are started once and kept until the instance is destroyed.                                         \
   * Returns RNNC_ERR_MEMORY if the chunks' working memory cannot be had. */                                        \
  RNNC_FN(int32_t, set_threads, setThreads, (rnnc_instance * instance, int32_t threads), (instance, threads))       \
  /* The learning rate of the following steps (default: the model's). */                                           \
  RNNC_PROC(void, set_learning_rate, setLearningRate, (rnnc_instance * instance, float lr), (instance, lr))         \
  /* The gradient buffer of the last step (param_elements floats, PyTorch layout). */                              \
  RNNC_FN(const float *, gradients, gradients, (rnnc_instance * instance), (instance))                              \
  /* Optimizer state for checkpoints: the step count and 2 * param_elements                                         \
   * floats (Adam: first then second moments; SGD: momentum buffer, then unused). */                               \
  RNNC_FN(int64_t, train_steps_done, stepsDone, (rnnc_instance * instance), (instance))                             \
  RNNC_FN(float *, optimizer_state, optimizerState, (rnnc_instance * instance), (instance))                         \
  RNNC_PROC(void, set_train_steps_done, setStepsDone, (rnnc_instance * instance, int64_t steps), (instance, steps)) \
  /* What an rnnc_status means. */                                                                                 \
  RNNC_FN(const char *, status_message, statusMessage, (int32_t status), (status))                                  \
  /* Data-parallel training (docs/abi.md, docs/distributed.md): the fused train                                     \
   * step split in two, for a host that sums gradients across processes.                                            \
   * rnnc_compute_gradients runs forward and backward on `batch` rows in the                                        \
   * instance's chunks (one per thread) without updating the parameters; chunk                                      \
   * k draws its dropout masks as chunk first_chunk + k of a global batch does.                                     \
   * *loss (may be NULL) receives the rows' mean loss. */                                                          \
  RNNC_FN(int32_t, compute_gradients, computeGradients,                                                             \
          (rnnc_instance * instance, int64_t batch, const void *const *inputs, const void *const *targets,          \
           int64_t first_chunk, float *loss),                                                                       \
          (instance, batch, inputs, targets, first_chunk, loss))                                                    \
  /* How many chunks the last rnnc_compute_gradients ran (0 after an update). */                                   \
  RNNC_FN(int32_t, gradient_chunks, gradientChunks, (rnnc_instance * instance), (instance))                         \
  /* Chunk k's gradient (param_elements floats, the mean over its rows), its                                        \
   * rows and its loss; NULL if there is no such chunk. Valid until the next call. */                              \
  RNNC_FN(const float *, chunk_gradient, chunkGradient,                                                             \
          (rnnc_instance * instance, int32_t chunk, int64_t * rows, float *loss), (instance, chunk, rows, loss))    \
  /* The update from `count` chunks' gradients: their row-weighted mean, summed                                     \
   * in double in the order given, then clipping and the optimizer step.                                            \
   * rnnc_train_step is rnnc_compute_gradients (first_chunk 0) followed by this                                     \
   * on the instance's own chunks, bit for bit. */                                                                 \
  RNNC_FN(int32_t, apply_gradients, applyGradients,                                                                 \
          (rnnc_instance * instance, int32_t count, const float *const *grads, const int64_t *rows),                \
          (instance, count, grads, rows))

#endif /* RNNC_ABI_FUNCTIONS_H */
