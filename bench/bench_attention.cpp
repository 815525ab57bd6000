// Attention micro-benchmarks at the Qwen2.5-0.5B shape (14 query heads, 2 KV heads, head
// dim 64, 24 layers). A decode step at depth D attends one token to D cached positions in
// each layer; the benchmark cycles through 24 layers' caches (48 MiB at D = 2048, F32) so
// the keys and values come from DRAM as in a real forward pass (the caches get huge-page
// advice, as KVCache's do). Reported: the fastest call (on a shared machine the least
// disturbed one) as µs per token (all 24 layers; one with TRELLIS_BENCH_HOT=1) and GB/s of
// K/V read. Prefill: 512 tokens at depth 0 in one layer. Every ISA the CPU has is run.
// TRELLIS_BENCH_THREADS overrides the thread count (default: all usable cores).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "bench_util.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/cpu_features.h"

using namespace trellis;

namespace {

constexpr int64_t kHeads = 14, kKvHeads = 2, kHeadDim = 64, kLayers = 24;
constexpr int64_t kKvDim = kKvHeads * kHeadDim, kQDim = kHeads * kHeadDim;

using bench::min_of;
using bench::pool;

// Anonymous memory with huge-page advice, as KVCache allocates the real cache (with 4 KiB
// pages the page walks, not DRAM, would set the decode speed).
template <typename T>
struct HugeBuffer {
  T* ptr = nullptr;
  size_t bytes = 0;
  explicit HugeBuffer(size_t n) : bytes(n * sizeof(T)) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    madvise(p, bytes, MADV_HUGEPAGE);
    ptr = static_cast<T*>(p);
  }
  ~HugeBuffer() { munmap(ptr, bytes); }
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
};

// kLayers caches of n_ctx positions: K and V, F32 or F16 (each layer's K then V, head-major
// as KVCache lays them out; TRELLIS_BENCH_ROW_LAYOUT=1: one row of both heads per position,
// the layout before 2026-12-07, for comparison).
struct Caches {
  DType type;
  int64_t n_ctx;
  HugeBuffer<uint8_t> data;
  bool row_layout = std::getenv("TRELLIS_BENCH_ROW_LAYOUT") != nullptr;
  size_t layer_elems() const { return static_cast<size_t>(2 * n_ctx * kKvDim); }
  size_t esize() const { return type == DType::F16 ? 2 : 4; }
  Caches(DType t, int64_t n) : type(t), n_ctx(n), data(layer_elems() * kLayers * esize()) {}
  KVLayerView view(int64_t layer) const {
    const size_t off = layer_elems() * static_cast<size_t>(layer) * esize();
    const size_t v_off = off + static_cast<size_t>(n_ctx * kKvDim) * esize();
    if (row_layout) return {data.ptr + off, data.ptr + v_off, kKvDim, type};
    return {data.ptr + off, data.ptr + v_off, kHeadDim, type, n_ctx * kHeadDim};
  }
};

void fill_caches(Caches& c) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.f, 1.f);
  const size_t n = c.layer_elems() * kLayers;
  if (c.type == DType::F16) {
    auto* p = reinterpret_cast<uint16_t*>(c.data.ptr);
    for (size_t i = 0; i < n; ++i) p[i] = fp32_to_fp16(g(rng));
  } else {
    auto* p = reinterpret_cast<float*>(c.data.ptr);
    for (size_t i = 0; i < n; ++i) p[i] = g(rng);
  }
}

void run(benchmark::State& state, Isa isa, DType type, int64_t depth, int64_t n_tokens) {
  Caches c(type, depth + n_tokens);
  fill_caches(c);
  std::mt19937 rng(2);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> q(static_cast<size_t>(n_tokens * kQDim)), out(q.size());
  for (auto& x : q) x = g(rng);
  const AttentionShape shape{kHeads, kKvHeads, kHeadDim, 0.125f};
  const AttentionOptions opt{isa, 0};
  // Decode cycles through the layers; prefill stays in one (as a real prefill does per layer).
  // TRELLIS_BENCH_HOT=1: one layer for decode too (cache-resident), to see compute limits.
  const int64_t layers = n_tokens == 1 && std::getenv("TRELLIS_BENCH_HOT") == nullptr ? kLayers : 1;
  auto step = [&] {
    for (int64_t l = 0; l < layers; ++l) {
      std::vector<AttentionQuery> qs;
      for (int64_t t = 0; t < n_tokens; ++t) {
        qs.push_back({q.data() + t * kQDim, c.view(l), depth + t + 1, out.data() + t * kQDim});
      }
      attention(qs, shape, pool(), opt);
    }
  };
  step();  // warm-up: scratch buffers
  double best = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    benchmark::DoNotOptimize(out.data());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double kv_bytes = static_cast<double>(layers * 2 * (depth + 1) * kKvDim) * (type == DType::F16 ? 2 : 4);
  state.counters["best_us"] = best * 1e6;
  if (n_tokens == 1) state.counters["best_GB/s"] = kv_bytes / best / 1e9;
}

void register_all() {
  std::vector<Isa> isas{Isa::Scalar};
  if (detected_isa() >= Isa::Avx2) isas.push_back(Isa::Avx2);
  if (detected_isa() >= Isa::Avx512) isas.push_back(Isa::Avx512);
  for (Isa isa : isas) {
    for (DType type : {DType::F32, DType::F16}) {
      for (int64_t depth : {64, 512, 2048}) {
        const std::string name = std::string("decode24/") + isa_name(isa) + "/" + dtype_name(type) + "/d" + std::to_string(depth);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run(st, isa, type, depth, 1); })
            ->UseRealTime()->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", min_of);
      }
      const std::string name = std::string("prefill512/") + isa_name(isa) + "/" + dtype_name(type);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run(st, isa, type, 0, 512); })
          ->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", min_of);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << "trellis attention: detected " << isa_name(detected_isa()) << ", threads " << pool().size() << "\n";
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
