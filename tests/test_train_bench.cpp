// Training throughput benchmark (disabled by default: run with
//   ./build/trellis_tests --gtest_also_run_disabled_tests --gtest_filter='*TrainBench*'
// ). LoRA r=16 on all seven projections, one window of 512 tokens, on a randomly initialised
// model of the SmolLM-135M shape (hidden 576, 30 layers, 9 heads / 3 KV heads, FFN 1536,
// vocab 49152, tied embeddings), base in F32 and in Q8_0. Reports tokens/s and MFU against
// the measured FP32 FMA peak, and the planned vs measured memory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "core/quant.h"
#include "core/thread_pool.h"
#include "formats/gguf_writer.h"
#include "model/model.h"
#include "train/memory_plan.h"
#include "train/peak_flops.h"
#include "train/train_model.h"

namespace trellis {
namespace {

std::vector<uint8_t> random_tensor(DType type, int64_t in, int64_t out, float scale, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> row(static_cast<size_t>(in));
  std::vector<uint8_t> bytes(row_bytes(type, in) * static_cast<size_t>(out));
  for (int64_t r = 0; r < out; ++r) {
    for (auto& x : row) x = d(rng);
    quantize_row(type, row.data(), bytes.data() + static_cast<size_t>(r) * row_bytes(type, in), in);
  }
  return bytes;
}

void write_135m(const std::string& path, DType type) {
  const int64_t C = 576, F = 1536, L = 30, V = 49152, H = 9, KV = 3, hd = 64;
  std::mt19937 rng(1);
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "bench-135m-shape");
  w.set_u32("llama.embedding_length", C);
  w.set_u32("llama.block_count", L);
  w.set_u32("llama.attention.head_count", H);
  w.set_u32("llama.attention.head_count_kv", KV);
  w.set_u32("llama.feed_forward_length", F);
  w.set_u32("llama.context_length", 2048);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  auto mat = [&](const std::string& name, DType t, int64_t in, int64_t out) {
    w.add_tensor_owned(name, t, {in, out, 1, 1}, 2, random_tensor(t, in, out, 0.02f, rng));
  };
  auto norm = [&](const std::string& name) {
    std::vector<float> ones(static_cast<size_t>(C), 1.0f);
    const auto* b = reinterpret_cast<const uint8_t*>(ones.data());
    w.add_tensor_owned(name, DType::F32, {C, 1, 1, 1}, 1, std::vector<uint8_t>(b, b + C * 4));
  };
  mat("token_embd.weight", type, C, V);
  norm("output_norm.weight");
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight");
    norm(p + "ffn_norm.weight");
    mat(p + "attn_q.weight", type, C, H * hd);
    mat(p + "attn_k.weight", type, C, KV * hd);
    mat(p + "attn_v.weight", type, C, KV * hd);
    mat(p + "attn_output.weight", type, H * hd, C);
    mat(p + "ffn_gate.weight", type, C, F);
    mat(p + "ffn_up.weight", type, C, F);
    mat(p + "ffn_down.weight", type, F, C);
  }
  w.write(path);
}

void bench(DType type) {
  const std::string path = (std::filesystem::temp_directory_path() / ("trellis_bench_135m_" + std::to_string(::getpid()) + ".gguf")).string();
  write_135m(path, type);
  {
    const auto model = Model::load(path);
    const int threads = std::getenv("TRELLIS_BENCH_THREADS") ? std::atoi(std::getenv("TRELLIS_BENCH_THREADS")) : 2;
    ThreadPool pool(threads);
    LoraSpec spec;
    spec.rank = 16;
    spec.alpha = 32;
    const MemoryPlan plan = plan_memory({model.get(), spec, 512, -1, 0});
    std::printf("%s\n", plan.summary.c_str());
    LoraParams params(*model, spec);
    params.init(1);
    TrainModel tm(*model, params, pool, {512, plan.checkpointing});
    TrainBatch b;
    std::vector<int32_t> toks(512);
    std::mt19937 rng(2);
    for (auto& t : toks) t = static_cast<int32_t>(rng() % 49152);
    b.add_segment(toks, std::vector<uint8_t>(512, 1));
    const double peak = measure_fp32_peak(pool, 0.5);
    // Model FLOPs per token: 4 x frozen matmul parameters (forward + input gradient),
    // 6·r·(in+out) per LoRA target, attention 12·hd·heads·layers per (query, key) pair.
    double base = 49152.0 * 576, lora = 0;
    for (int p = 0; p < kNumProjections; ++p) {
      const TensorView& w = model->projection(0, static_cast<Projection>(p));
      base += 30.0 * w.ne[0] * w.ne[1];
      lora += 30.0 * 6 * 16 * (w.ne[0] + w.ne[1]);
    }
    const double flops = 512 * (4 * base + lora) + 12.0 * (512.0 * 513 / 2) * 64 * 9 * 30;
    tm.forward_backward(b, 1.0f / 511, 0);  // warm-up
    const int reps = 3;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) tm.forward_backward(b, 1.0f / 511, 0);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    std::printf("135M shape, %s base, LoRA r=16 all projections, seq 512, %d threads: %.0f tokens/s, %.2f s/step, "
                "MFU %.1f%% of %.1f GFLOP/s; peak RSS %.2f GiB (planned %.2f)\n",
                dtype_name(type), threads, 512 / dt, dt, 100 * flops / dt / peak, peak / 1e9,
                static_cast<double>(peak_rss_bytes()) / (1 << 30), static_cast<double>(plan.total) / (1 << 30));
  }
  std::filesystem::remove(path);
}

TEST(TrainBench, DISABLED_Lora135mF32) { bench(DType::F32); }
TEST(TrainBench, DISABLED_Lora135mQ8_0) { bench(DType::Q8_0); }

}  // namespace
}  // namespace trellis
