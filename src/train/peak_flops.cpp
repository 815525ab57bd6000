#include "train/peak_flops.h"

#include <atomic>
#include <chrono>

#include "core/thread_pool.h"
#include "train/peak_flops_kernel.h"

namespace trellis {
namespace peak_detail {
float fma_loop_avx2(int64_t iters, float seed);
float fma_loop_avx512(int64_t iters, float seed);
}  // namespace peak_detail

double measure_fp32_peak(ThreadPool& pool, double seconds) {
  using namespace peak_detail;
  int lanes = 4;
  float (*fn)(int64_t, float) = [](int64_t n, float s) { return fma_loop<16>(n, s); };
  if (__builtin_cpu_supports("avx512f")) {
    lanes = 16, fn = fma_loop_avx512;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    lanes = 8, fn = fma_loop_avx2;
  }
  // Without FMA (SSE only) a "fused" multiply-add is two instructions; counting 2 FLOPs per
  // lane per round still gives the true FP32 ceiling of the unit actually used.
  const int64_t iters = 2'000'000;
  fn(iters / 10, 1.0f);  // warm up (clock ramp, page-in)
  std::atomic<double> total{0.0};
  std::atomic<float> sink{0.0f};
  const auto t0 = std::chrono::steady_clock::now();
  int64_t rounds = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
    // One chunk per thread; whichever thread runs a chunk, the work counted is the work done.
    pool.parallel_for(pool.size(), [&](int64_t c, int) { sink = sink + fn(iters, 1.0f + static_cast<float>(c)); });
    ++rounds;
  }
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  total = static_cast<double>(rounds) * pool.size() * iters * 10.0 * lanes * 2.0 / dt;
  return total.load() + 0.0 * sink.load();
}

}  // namespace trellis
