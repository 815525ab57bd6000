// Matmul micro-benchmarks at the Qwen2.5-0.5B shapes (hidden 896, FFN 4864, vocab 151936).
// Decode (one token) is reported as GB/s of weights streamed, prefill as GOPS
// (2·rows·cols·tokens per second), next to the measured ceilings: BM_ReadBandwidth (both
// cores summing a 1 GiB buffer) for decode. ISA: TRELLIS_ISA=scalar|avx2|avx512 (default best).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/quant.h"
#include "bench_util.h"
#include "core/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/interleave.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"

using namespace trellis;

namespace {

using bench::max_of;
using bench::min_of;
using bench::pool;

// A weight matrix of real quantized rows: 64 distinct rows repeated (quantizing 100M+ random
// values would dominate start-up; repetition does not help the kernels, rows are far apart).
// Enough copies to span 256 MB are cycled through, so every call streams its weights from
// DRAM as in a real forward pass (a lone 2-9 MB matrix would sit in the 32 MB L3).
struct Matrix {
  std::vector<uint8_t> bytes;
  TensorView view;
  std::vector<TensorView> copies;
  size_t next = 0;
  const TensorView& take() { return copies[next++ % copies.size()]; }
};

// interleaved: each copy holds the decode layout of kernels/interleave.h instead (the view's
// `data` then points at the one original).
std::shared_ptr<Matrix> make_matrix(DType type, int64_t cols, int64_t rows, bool interleaved) {
  auto m = std::make_shared<Matrix>();
  const size_t rb = row_bytes(type, cols);
  m->bytes.resize(rb * static_cast<size_t>(rows));
  std::mt19937 rng(42);
  std::normal_distribution<float> g(0.f, 0.05f);
  const int64_t distinct = std::min<int64_t>(rows, 64);
  std::vector<float> src(static_cast<size_t>(cols));
  for (int64_t r = 0; r < distinct; ++r) {
    for (auto& v : src) v = g(rng);
    quantize_row(type, src.data(), m->bytes.data() + r * rb, cols);
  }
  for (int64_t r = distinct; r < rows; ++r) std::memcpy(m->bytes.data() + r * rb, m->bytes.data() + (r % distinct) * rb, rb);
  m->view.name = "w";
  m->view.type = type;
  m->view.ne = {cols, rows, 1, 1};
  m->view.n_dims = 2;
  m->view.data = m->bytes.data();
  m->view.nbytes = m->bytes.size();
  // TRELLIS_BENCH_HOT=1: a single copy (cache-resident when small), to see compute limits.
  const bool hot = std::getenv("TRELLIS_BENCH_HOT") != nullptr;
  std::vector<uint8_t> copy;  // the interleaved layout, when asked for
  if (interleaved) {
    const size_t gb = interleaved_group_bytes(type, cols);
    copy.assign(interleaved_bytes(type, rows, cols), 0);
    for (int64_t g = 0; g * kInterleaveRows < rows; ++g) {
      interleave_group(type, m->bytes.data(), rows, cols, g, copy.data() + static_cast<size_t>(g) * gb);
    }
  }
  const std::vector<uint8_t>& layout = interleaved ? copy : m->bytes;
  const size_t n_copies = hot ? 1 : std::max<size_t>(1, (size_t{256} << 20) / layout.size());
  const size_t stride = (layout.size() + 4095) / 4096 * 4096;
  static std::vector<uint8_t> arena;  // one matrix's copies alive at a time
  arena.assign(stride * n_copies, 0);
  for (size_t c = 0; c < n_copies; ++c) {
    std::memcpy(arena.data() + c * stride, layout.data(), layout.size());
    TensorView v = m->view;
    (interleaved ? v.interleaved : v.data) = arena.data() + c * stride;
    m->copies.push_back(v);
  }
  return m;
}

std::vector<float> make_x(int64_t n) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = g(rng);
  return x;
}

void run_matmul(benchmark::State& state, DType type, int64_t cols, int64_t rows, int64_t tokens,
                bool interleaved = false) {
  static std::shared_ptr<Matrix> cached;  // the big matrices are built once per shape/type
  static std::string cached_key;
  const std::string key =
      std::string(dtype_name(type)) + std::to_string(cols) + "x" + std::to_string(rows) + (interleaved ? "i" : "");
  if (cached_key != key) {
    cached.reset();
    cached = make_matrix(type, cols, rows, interleaved);
    cached_key = key;
  }
  const std::vector<float> x = make_x(cols * tokens);
  std::vector<float> y(static_cast<size_t>(rows * tokens));
  matmul(cached->take(), x.data(), tokens, y.data(), pool());  // warm-up: scratch buffers
  double best = 1e30;  // fastest single call: on a shared machine the least disturbed one
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    matmul(cached->take(), x.data(), tokens, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["best_GB/s"] = static_cast<double>(cached->bytes.size()) / best / 1e9;
  state.counters["best_GOPS"] = 2.0 * static_cast<double>(rows * cols * tokens) / best / 1e9;
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(cached->bytes.size()) * iters / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["GOPS"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * tokens) * iters / 1e9,
                                              benchmark::Counter::kIsRate);
}

// The decode ceiling: both cores streaming a buffer far larger than the caches.
void BM_ReadBandwidth(benchmark::State& state) {
  const size_t n = size_t{1} << 28;  // 1 GiB of floats
  static std::vector<float> buf(n, 1.f);
  std::vector<float> partial(static_cast<size_t>(pool().size()));
  const int64_t chunks = 256;
  for (auto _ : state) {
    std::vector<double> sums(static_cast<size_t>(chunks));
    pool().parallel_for(chunks, [&](int64_t c, int) {
      const size_t len = n / chunks;
      sums[static_cast<size_t>(c)] = dot_f32(buf.data() + c * len, buf.data() + c * len, static_cast<int64_t>(len / 2));
    });
    benchmark::DoNotOptimize(sums.data());
  }
  // dot_f32(a, a, len/2) reads len/2 floats (both operands are the same memory).
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(n / 2 * 4) * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

struct Shape {
  const char* name;
  int64_t cols, rows;
};

void register_all() {
  benchmark::RegisterBenchmark("BM_ReadBandwidth", BM_ReadBandwidth)
      ->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
  const Shape decode_shapes[] = {{"ffn_up_896x4864", 896, 4864}, {"ffn_down_4864x896", 4864, 896},
                                 {"attn_q_896x896", 896, 896}, {"output_896x151936", 896, 151936}};
  const DType types[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                         DType::Q5_1, DType::IQ4_NL, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  for (const Shape& s : decode_shapes) {
    for (DType t : types) {
      if (s.rows > 100000 && t == DType::F32) continue;  // 545 MB; F16 covers the float case
      if (s.cols % dtype_info(t).block_elems != 0) continue;  // k-quants need cols % 256 == 0
      const std::string name = std::string("matvec/") + dtype_name(t) + "/" + s.name;
      benchmark::RegisterBenchmark(name.c_str(), [t, s](benchmark::State& st) { run_matmul(st, t, s.cols, s.rows, 1); })
          ->UseRealTime()->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
      if (!interleave_preferred(t, s.cols, active_isa())) continue;
      const std::string x4 = std::string("matvec_interleaved/") + dtype_name(t) + "/" + s.name;
      benchmark::RegisterBenchmark(x4.c_str(), [t, s](benchmark::State& st) { run_matmul(st, t, s.cols, s.rows, 1, true); })
          ->UseRealTime()->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
    }
  }
  const Shape prefill_shapes[] = {{"ffn_up_896x4864", 896, 4864}, {"ffn_down_4864x896", 4864, 896}};
  for (const Shape& s : prefill_shapes) {
    for (DType t : types) {
      if (s.cols % dtype_info(t).block_elems != 0) continue;
      for (int64_t T : {64, 512}) {
        const std::string name = std::string("matmul/") + dtype_name(t) + "/" + s.name + "/T=" + std::to_string(T);
        benchmark::RegisterBenchmark(name.c_str(), [t, s, T](benchmark::State& st) { run_matmul(st, t, s.cols, s.rows, T); })
            ->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << "trellis kernels: isa " << isa_name(active_isa()) << " (detected " << isa_name(detected_isa())
            << "), threads " << pool().size() << "\n";
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
