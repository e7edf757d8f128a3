/* embed.c - run a model.so from a C program, with nothing but the ABI header.
 *
 *   rnnc models/etth1_lstm.rnn -o model.so
 *   cc examples/embed.c -Iruntime/include ./model.so -Wl,-rpath,'$ORIGIN' -o embed
 *   ./embed 4
 *
 * Prints the model's inputs and outputs, then the outputs for a batch of
 * constant inputs (0.5 for features, id 1 for token ids).
 */
#include "rnnc/abi.h"

#include <stdio.h>
#include <stdlib.h>

static int64_t per_sample(const rnnc_tensor_desc *d) {
  int64_t n = 1;
  for (int32_t k = 1; k < d->rank; ++k)
    n *= d->dims[k];
  return n;
}

int main(int argc, char **argv) {
  const int64_t batch = argc > 1 ? atoll(argv[1]) : 2;
  const rnnc_model_info *info = rnnc_model_info_get();
  if (info->abi_version != RNNC_ABI_VERSION) {
    fprintf(stderr, "model ABI %u, header ABI %d\n", info->abi_version, RNNC_ABI_VERSION);
    return 1;
  }
  printf("model %s, %s plan, %d inputs, %d outputs, %lld floats of parameters\n", info->model_name, info->plan,
         info->num_inputs, info->num_outputs, (long long)info->param_elements);

  rnnc_instance *instance = rnnc_create(batch);
  if (!instance)
    return 1;
  rnnc_init_params(instance, 42);

  const void **inputs = calloc((size_t)info->num_inputs, sizeof *inputs);
  for (int32_t i = 0; i < info->num_inputs; ++i) {
    const rnnc_tensor_desc *d = &info->inputs[i];
    const int64_t n = batch * per_sample(d);
    if (d->dtype == RNNC_I32) {
      int32_t *ids = malloc((size_t)n * sizeof *ids);
      for (int64_t k = 0; k < n; ++k)
        ids[k] = 1;
      inputs[i] = ids;
    } else {
      float *x = malloc((size_t)n * sizeof *x);
      for (int64_t k = 0; k < n; ++k)
        x[k] = 0.5f;
      inputs[i] = x;
    }
  }
  const rnnc_tensor_desc *out = &info->outputs[0];
  float *y = malloc((size_t)(batch * per_sample(out)) * sizeof *y);
  float *outputs[] = {y};
  int32_t status = rnnc_forward(instance, batch, inputs, outputs);
  if (status != RNNC_OK) {
    fprintf(stderr, "forward failed: %s\n", rnnc_status_message(status));
    return 1;
  }
  for (int64_t b = 0; b < batch; ++b) {
    printf("%s[%lld] =", out->name, (long long)b);
    for (int64_t k = 0; k < per_sample(out); ++k)
      printf(" %.6f", y[b * per_sample(out) + k]);
    printf("\n");
  }
  for (int32_t i = 0; i < info->num_inputs; ++i)
    free((void *)inputs[i]);
  free(inputs);
  free(y);
  rnnc_destroy(instance);
  return 0;
}
