//===- Peak.cpp - The machine's FMA peak, measured ------------------------===//
//
// Each thread runs 12 independent chains of vector FMAs (more than latency x
// ports on current cores, so the FMA units never wait on a result), for long
// enough that the clock settles. The chains' results are stored to a volatile
// so the work cannot be removed.
//===----------------------------------------------------------------------===//
#include "bench/Peak.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

namespace rnnc::bench {
namespace {

volatile float sink;

#define RNNC_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"))) void chains512(long iterations) {
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define DECL(k) __m512 acc##k = _mm512_set1_ps(float(k));
  RNNC_CHAINS(DECL)
#undef DECL
  for (long i = 0; i < iterations; ++i) {
#define STEP(k) acc##k = _mm512_fmadd_ps(acc##k, a, b);
    RNNC_CHAINS(STEP)
#undef STEP
  }
  __m512 sum = _mm512_setzero_ps();
#define ADD(k) sum = _mm512_add_ps(sum, acc##k);
  RNNC_CHAINS(ADD)
#undef ADD
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  sink = lanes[0] + lanes[15];
}

__attribute__((target("avx2,fma"))) void chains256(long iterations) {
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
#define DECL(k) __m256 acc##k = _mm256_set1_ps(float(k));
  RNNC_CHAINS(DECL)
#undef DECL
  for (long i = 0; i < iterations; ++i) {
#define STEP(k) acc##k = _mm256_fmadd_ps(acc##k, a, b);
    RNNC_CHAINS(STEP)
#undef STEP
  }
  __m256 sum = _mm256_setzero_ps();
#define ADD(k) sum = _mm256_add_ps(sum, acc##k);
  RNNC_CHAINS(ADD)
#undef ADD
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  sink = lanes[0] + lanes[7];
}

} // namespace

Peak measureFmaPeak(int threads) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const int lanes = avx512 ? 16 : 8;
  auto body = avx512 ? chains512 : chains256;
  const long iterations = 50'000'000; // ~0.3 s per run at 2 GHz with 2 FMA ports
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<std::thread> pool;
    auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&] { body(iterations); });
    for (auto &t : pool)
      t.join();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double flops = 2.0 * lanes * 12 * double(iterations) * threads;
    best = std::max(best, flops / seconds / 1e9);
  }
  return {avx512 ? "AVX-512" : "AVX2", best};
}

} // namespace rnnc::bench
