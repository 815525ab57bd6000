// Training kernels at the SmolLM2-135M training shapes (512 tokens, hidden 576, FFN 1536,
// 9/3 heads of 64): the three dense products of train/gemm (forward Y = X·Wᵀ, input
// gradient dX = dY·W, weight gradient dW = dYᵀ·X) and the blocked causal attention forward
// and backward, as GFLOP/s next to the FP32 FMA peak measured at start (BM_Fp32Peak).
// TRELLIS_BENCH_THREADS sets the thread count (default: all usable cores).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>
#include <vector>

#include "bench_util.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "train/backward.h"
#include "train/gemm.h"
#include "train/peak_flops.h"

using namespace trellis;

namespace {

using bench::max_of;
using bench::min_of;
using bench::pool;

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

void set_gflops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_Fp32Peak(benchmark::State& state) {
  double peak = 0;
  for (auto _ : state) peak = std::max(peak, measure_fp32_peak(pool(), 0.2));
  state.counters["GFLOP/s"] = peak / 1e9;
}

enum class Op { NT, NN, TN };

// C[M,N] = op(A)·op(B) with the operands laid out as the trainer has them.
void BM_Gemm(benchmark::State& state, Op op, int64_t M, int64_t N, int64_t K) {
  const auto A = random_floats(M * K, 1), B = random_floats(N * K, 2);
  std::vector<float> C(static_cast<size_t>(M * N));
  for (auto _ : state) {
    switch (op) {
      case Op::NT: gemm_nt(M, N, K, A.data(), B.data(), C.data(), false, &pool()); break;
      case Op::NN: gemm_nn(M, N, K, A.data(), B.data(), C.data(), false, &pool()); break;
      case Op::TN: gemm_tn(M, N, K, A.data(), B.data(), C.data(), true, &pool()); break;
    }
    benchmark::DoNotOptimize(C.data());
  }
  set_gflops(state, 2.0 * static_cast<double>(M * N * K));
}

// Causal attention over N tokens in one segment; flops as the trainer's MFU counts them
// (2 products forward, 4 backward, each over the N(N+1)/2 live pairs).
void BM_Attention(benchmark::State& state, bool backward) {
  const AttentionShape s{512, 9, 3, 64};
  const int64_t qn = s.N * s.n_head * s.head_dim, kn = s.N * s.n_head_kv * s.head_dim;
  const auto q = random_floats(qn, 3), k = random_floats(kn, 4), v = random_floats(kn, 5), dout = random_floats(qn, 6);
  std::vector<int32_t> seg(static_cast<size_t>(s.N), 0);
  std::vector<float> out(qn), lse(s.N * s.n_head), dq(qn), dk(kn), dv(kn);
  attention_forward(q.data(), k.data(), v.data(), seg.data(), s, out.data(), lse.data(), &pool());
  for (auto _ : state) {
    if (backward) {
      attention_backward(dout.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), seg.data(), s, dq.data(),
                         dk.data(), dv.data(), &pool());
    } else {
      attention_forward(q.data(), k.data(), v.data(), seg.data(), s, out.data(), lse.data(), &pool());
    }
    benchmark::DoNotOptimize(dq.data());
  }
  const double pairs = static_cast<double>(s.N) * (s.N + 1) / 2;
  set_gflops(state, (backward ? 8.0 : 4.0) * pairs * s.head_dim * s.n_head);
}

void add(const char* name, void (*fn)(benchmark::State&, Op, int64_t, int64_t, int64_t), Op op, int64_t M, int64_t N,
         int64_t K) {
  benchmark::RegisterBenchmark(name, fn, op, M, N, K)
      ->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
}

void register_all() {
  benchmark::RegisterBenchmark("BM_Fp32Peak", BM_Fp32Peak)->Iterations(3)->Unit(benchmark::kMillisecond);
  // Forward of ffn_up / ffn_down / attn_q, input gradients of the same, weight gradients (full mode).
  add("gemm_nn/in_cache_96x256x256", BM_Gemm, Op::NN, 96, 256, 256);  // the micro-kernel's own ceiling
  add("gemm_nt/fwd_up_512x1536x576", BM_Gemm, Op::NT, 512, 1536, 576);
  add("gemm_nt/fwd_down_512x576x1536", BM_Gemm, Op::NT, 512, 576, 1536);
  add("gemm_nt/fwd_q_512x576x576", BM_Gemm, Op::NT, 512, 576, 576);
  add("gemm_nt/head_512x49152x576", BM_Gemm, Op::NT, 512, 49152, 576);
  add("gemm_nn/dx_up_512x576x1536", BM_Gemm, Op::NN, 512, 576, 1536);
  add("gemm_nn/dx_down_512x1536x576", BM_Gemm, Op::NN, 512, 1536, 576);
  add("gemm_tn/dw_up_1536x576x512", BM_Gemm, Op::TN, 1536, 576, 512);
  add("gemm_tn/lora_dA_16x576x512", BM_Gemm, Op::TN, 16, 576, 512);
  add("gemm_tn/lora_dB_1536x16x512", BM_Gemm, Op::TN, 1536, 16, 512);
  benchmark::RegisterBenchmark("attention/forward_512_9x64", BM_Attention, false)
      ->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
  benchmark::RegisterBenchmark("attention/backward_512_9x64", BM_Attention, true)
      ->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << "trellis training kernels: isa " << isa_name(active_isa()) << ", threads " << pool().size() << "\n";
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
