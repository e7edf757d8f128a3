/*===- divider_bound.c - The floor the divider puts under W2's Adam update -===*
 *
 * Adam as torch computes it needs, per parameter, a correctly rounded square
 * root and a correctly rounded division (the other division is an exact
 * product: docs/training.md, "Adam, bit for bit"). Both run on the core's
 * divider. This times independent AVX-512 vsqrtps + vdivps pairs (16 floats
 * each) and prints the floor that gives W2: 27971 parameters (LSTM 43 -> 64,
 * dense 64 -> 1, dense 1 -> 1) updated 1077 times. Not built by CMake:
 *   gcc -O2 -mavx512f bench/divider_bound.c -o divider_bound && ./divider_bound
 * See docs/bench.md, "W2's floor: the divider".
 *===----------------------------------------------------------------------===*/
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

#define CHAINS 4
int main(void) {
  const long rounds = 2000000;
  const double params = 27971, steps = 1077;
  __m512 q[CHAINS], s[CHAINS], c = _mm512_set1_ps(0.999f);
  for (int k = 0; k < CHAINS; ++k)
    q[k] = s[k] = _mm512_set1_ps(2.0f + (float)k);
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    double t = now_ns();
    for (long i = 0; i < rounds; ++i) {
      for (int k = 0; k < CHAINS; ++k) {
        q[k] = _mm512_div_ps(c, q[k]); /* q -> 0.999 / q stays in [0.3, 3] */
        s[k] = _mm512_sqrt_ps(s[k]);   /* s -> sqrt(s) tends to 1 */
      }
      __asm__ volatile("" : "+v"(q[0]), "+v"(q[1]), "+v"(q[2]), "+v"(q[3]), "+v"(s[0]), "+v"(s[1]), "+v"(s[2]), "+v"(s[3]));
    }
    t = (now_ns() - t) / ((double)rounds * CHAINS);
    if (t < best)
      best = t;
  }
  float sink = 0;
  for (int k = 0; k < CHAINS; ++k)
    sink += q[k][0] + s[k][0];
  printf("one vsqrtps + one vdivps (16 floats each), best of 5: %.2f ns\n", best);
  printf("W2's Adam update at that rate: %.1f us a step, %.1f ms for 1077 steps (checksum %g)\n",
         params / 16 * best / 1e3, params / 16 * best * steps / 1e6, sink);
  return 0;
}
