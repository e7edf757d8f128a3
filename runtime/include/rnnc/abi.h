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

#include "rnnc/abi_functions.h"

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
/* The other functions (rnnc_forward, rnnc_train_step, ...) are listed and
 * documented once, in rnnc/abi_functions.h; each is declared here as
 * rnnc_<name>. */
#define RNNC_DECLARE(type, name, method, params, args) type rnnc_##name params;
RNNC_ABI_FUNCTIONS(RNNC_DECLARE, RNNC_DECLARE)
#undef RNNC_DECLARE

#ifdef __cplusplus
}
#endif

#endif /* RNNC_ABI_H */
