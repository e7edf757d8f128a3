/*===- batch1_parts.c - Where a batch-1 training step's time goes (W2) ---===*
 *
 * Times, over a model.so's C ABI, 1077 calls each of rnnc_train_step,
 * rnnc_compute_gradients, rnnc_apply_gradients (the update alone, on the
 * last gradients), rnnc_params_changed and rnnc_forward at batch 1, and
 * prints the best of N repetitions per step. Not built by CMake:
 *   rnnc W2.rnn -o w2.so        (W2's model: bench/Workloads.cpp, seriesModel)
 *   gcc -O2 -Iruntime/include bench/batch1_parts.c ./w2.so -Wl,-rpath,$PWD -o batch1_parts
 *   ./batch1_parts 5          (in the folder of w2.so: the library is linked as ./w2.so)
 * The model must have one f32 input of 43 floats per sample and one target
 * of 1 (W2's); see docs/bench.md, "Batch-1 training (W2)".
 *===----------------------------------------------------------------------===*/
#include "rnnc/abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  const int steps = 1077, reps = argc > 1 ? atoi(argv[1]) : 5;
  rnnc_instance *inst = rnnc_create(1);
  if (!inst)
    return 1;
  rnnc_init_params(inst, 1);
  float x[43], y[1] = {0.5f}, out[1], loss;
  for (int i = 0; i < 43; ++i)
    x[i] = (float)i / 43;
  const void *in[1] = {x}, *tg[1] = {y};
  float *outs[1] = {out};
  const char *names[5] = {"train_step", "compute_gradients", "apply_gradients", "params_changed", "forward"};
  double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
  for (int r = 0; r < reps; ++r) {
    double t[6];
    t[0] = now_us();
    for (int s = 0; s < steps; ++s)
      rnnc_train_step(inst, 1, in, tg, &loss);
    t[1] = now_us();
    for (int s = 0; s < steps; ++s)
      rnnc_compute_gradients(inst, 1, in, tg, 0, &loss);
    t[2] = now_us();
    int64_t rows;
    const float *g = rnnc_chunk_gradient(inst, 0, &rows, NULL);
    for (int s = 0; s < steps; ++s)
      rnnc_apply_gradients(inst, 1, &g, &rows);
    t[3] = now_us();
    for (int s = 0; s < steps; ++s)
      rnnc_params_changed(inst);
    t[4] = now_us();
    for (int s = 0; s < steps; ++s)
      rnnc_forward(inst, 1, in, outs);
    t[5] = now_us();
    for (int k = 0; k < 5; ++k)
      if (t[k + 1] - t[k] < best[k])
        best[k] = t[k + 1] - t[k];
  }
  printf("best of %d runs of %d calls, per call:", reps, steps);
  for (int k = 0; k < 5; ++k)
    printf(" %s %.2f us%s", names[k], best[k] / steps, k < 4 ? "," : "\n");
  printf("train_step x %d: %.1f ms; loss %g\n", steps, best[0] / 1e3, loss);
  rnnc_destroy(inst);
  return 0;
}
