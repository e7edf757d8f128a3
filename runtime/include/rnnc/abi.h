/*===- rnnc/abi.h - The C ABI a compiled model.so exports -------*- C -*-===*
 *
 * A model.so made by `rnnc model.rnn -o model.so` exports the functions
 * below; nothing else is needed to run it (no LLVM, no C++ runtime).
 * See docs/abi.md. The ABI is versioned: a loader must compare
 * rnnc_model_info()->abi_version with RNNC_ABI_VERSION before anything else.
 *===----------------------------------------------------------------------===*/
#ifndef RNNC_ABI_H
#define RNNC_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RNNC_ABI_VERSION 2

enum rnnc_dtype { RNNC_F32 = 0, RNNC_I32 = 1 };
/* RNNC_INIT_STORED: the values are part of the library (imported weights,
 * e.g. from ONNX) and rnnc_init_params copies them; when the library was
 * built without them (rnnc --external-weights) they are zero until written. */
enum rnnc_init { RNNC_INIT_UNIFORM = 0, RNNC_INIT_NORMAL = 1, RNNC_INIT_ZEROS = 2, RNNC_INIT_STORED = 3 };
enum rnnc_status {
  RNNC_OK = 0,
  RNNC_ERR_BATCH = 1,       /* batch size is 0 or above the instance's capacity */
  RNNC_ERR_TOKEN = 2,       /* a token id is outside [0, vocab) */
  RNNC_ERR_MEMORY = 3,      /* an allocation failed */
  RNNC_ERR_UNSUPPORTED = 4, /* the entry point is not in this library */
  RNNC_ERR_LENGTH = 5,      /* a sequence length is outside [1, T] */
};

/* A tensor: an input, a target, an output or a parameter. A dimension of -1
 * is the batch. For a parameter, `offset` is where it starts (in elements)
 * in the parameter buffer, which holds every parameter in PyTorch's layout.
 * For an i32 input of token ids, `offset` is the vocabulary size (ids must
 * be in [0, offset)); 0 when the input feeds no embedding. For an i32[batch]
 * input of sequence lengths, `offset` is -T: each length must be in [1, T]
 * (else RNNC_ERR_LENGTH). */
typedef struct rnnc_tensor_desc {
  const char *name;
  int32_t dtype;
  int32_t rank;
  int64_t dims[8];
  int64_t offset;
  int32_t init;     /* parameters: enum rnnc_init */
  float init_scale; /* uniform: the bound; normal: the standard deviation */
} rnnc_tensor_desc;

enum rnnc_optimizer { RNNC_OPT_NONE = 0, RNNC_OPT_ADAM = 1, RNNC_OPT_SGD = 2 };

/* Training settings from the model file (optimizer, train block). */
typedef struct rnnc_train_info {
  int32_t has_train_step; /* 1 if rnnc_train_step is compiled into this library */
  int32_t optimizer;      /* enum rnnc_optimizer */
  float lr, beta1, beta2, eps, weight_decay, momentum;
  int32_t nesterov;
  float clip; /* clip gradients to this global norm; 0: off */
  uint64_t seed;
  int64_t batch, epochs;
  int32_t num_targets;
  const rnnc_tensor_desc *targets;
} rnnc_train_info;

typedef struct rnnc_model_info {
  uint32_t abi_version;
  const char *model_name;
  const char *compiler_version;
  const char *plan;            /* "symbolic" or "imperative" */
  const char *target_cpu;      /* e.g. "znver3" */
  const char *target_features; /* features the code needs, e.g. "avx,avx2,fma" */
  int32_t num_inputs;
  const rnnc_tensor_desc *inputs;
  int32_t num_outputs;
  const rnnc_tensor_desc *outputs;
  int32_t num_params;
  const rnnc_tensor_desc *params;
  int64_t param_elements; /* length of the parameter buffer */
  /* Working memory: arena_per_sample * capacity + packed_elements floats. */
  int64_t arena_per_sample;
  int64_t packed_elements;
  int64_t arena_fixed; /* floats of working memory independent of the batch (training) */
  rnnc_train_info train;
  /* The model file's settings as JSON: {"loss": "mse", "data": {"kind": "csv", ...},
   * "train": {...}, "optimizer": {"kind": "adam", ...}} (absent keys: not given). */
  const char *config_json;
  /* The values of RNNC_INIT_STORED parameters, at their offsets in a buffer of
   * param_elements floats (other parameters' places are zero); NULL when the
   * library stores none. */
  const float *stored_values;
} rnnc_model_info;

typedef struct rnnc_instance rnnc_instance;

/* The model's metadata (static; never freed). */
const rnnc_model_info *rnnc_model_info_get(void);
/* An instance able to run batches of up to `max_batch` samples; NULL if
 * memory runs out. Its parameters are zero until initialized or written. */
rnnc_instance *rnnc_create(int64_t max_batch);
void rnnc_destroy(rnnc_instance *instance);
/* Initializes every parameter as PyTorch does by default, from `seed`;
 * stored parameters get their stored values. */
void rnnc_init_params(rnnc_instance *instance, uint64_t seed);
/* The parameter buffer (param_elements floats, PyTorch layout). After
 * writing it, call rnnc_params_changed. */
float *rnnc_params(rnnc_instance *instance);
void rnnc_params_changed(rnnc_instance *instance);
/* Runs the model on `batch` samples. inputs[i] points to input i (dtype and
 * shape from the metadata, batch-major); outputs[i] receives output i.
 * Returns an rnnc_status. */
int32_t rnnc_forward(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                     float *const *outputs);
/* One training step on `batch` samples: forward (dropout active), the loss,
 * back-propagation, gradient clipping and the optimizer update of the
 * parameters (as torch.optim.Adam / SGD). *loss receives the batch's loss
 * before the update. RNNC_ERR_UNSUPPORTED if the library has no train step. */
int32_t rnnc_train_step(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                        const void *const *targets, float *loss);
/* Run forward passes and train steps on `threads` threads (default 1): the
 * batch is split into that many chunks of rows. Results are deterministic for
 * a given thread count (dropout masks and the order of gradient sums depend
 * on it). Returns RNNC_ERR_MEMORY if the chunks' working memory cannot be had. */
int32_t rnnc_set_threads(rnnc_instance *instance, int32_t threads);
/* The learning rate of the following steps (default: the model's). */
void rnnc_set_learning_rate(rnnc_instance *instance, float lr);
/* The gradient buffer of the last step (param_elements floats, PyTorch layout). */
const float *rnnc_gradients(rnnc_instance *instance);
/* Optimizer state for checkpoints: the step count and 2 * param_elements
 * floats (Adam: first then second moments; SGD: momentum buffer, then unused). */
int64_t rnnc_train_steps_done(rnnc_instance *instance);
float *rnnc_optimizer_state(rnnc_instance *instance);
void rnnc_set_train_steps_done(rnnc_instance *instance, int64_t steps);
const char *rnnc_status_message(int32_t status);

/* Data-parallel training (docs/abi.md, docs/distributed.md): the fused train
 * step split in two, for a host that sums gradients across processes.
 * rnnc_compute_gradients runs forward and backward on `batch` rows in the
 * instance's chunks (one per thread) without updating the parameters; chunk
 * k draws its dropout masks as chunk first_chunk + k of a global batch does.
 * *loss (may be NULL) receives the rows' mean loss. */
int32_t rnnc_compute_gradients(rnnc_instance *instance, int64_t batch, const void *const *inputs,
                               const void *const *targets, int64_t first_chunk, float *loss);
/* How many chunks the last rnnc_compute_gradients ran (0 after an update). */
int32_t rnnc_gradient_chunks(rnnc_instance *instance);
/* Chunk k's gradient (param_elements floats, the mean over its rows), its
 * rows and its loss; NULL if there is no such chunk. Valid until the next call. */
const float *rnnc_chunk_gradient(rnnc_instance *instance, int32_t chunk, int64_t *rows, float *loss);
/* The update from `count` chunks' gradients: their row-weighted mean, summed
 * in double in the order given, then clipping and the optimizer step.
 * rnnc_train_step is rnnc_compute_gradients (first_chunk 0) followed by this
 * on the instance's own chunks, bit for bit. */
int32_t rnnc_apply_gradients(rnnc_instance *instance, int32_t count, const float *const *grads, const int64_t *rows);

#ifdef __cplusplus
}
#endif

#endif /* RNNC_ABI_H */
