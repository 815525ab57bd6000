// LoRA at decode time on a random-weight base of SmolLM-135M's shape (dim 576, 30 layers,
// 9/3 heads, FFN 1536, vocab 49152; Q8_0 weights, 64 positions of context):
//   - one sequence, base alone vs one r=16 adapter on all seven projections;
//   - 8 sequences in one batch: base alone, all sharing one adapter, 8 different adapters;
//   - adapter load time (PEFT and GGUF-LoRA, validated and bound to the base).
// Counters: tok/s, and weight_GB/s = (base weights + adapter matrices read per step) / time,
// the number to hold against the machine's memory bandwidth.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "formats/gguf_writer.h"
#include "lora/adapter.h"
#include "lora/adapter_set.h"
#include "lora/adapter_writer.h"
#include "model/forward.h"

using namespace trellis;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kContext = 64;
constexpr int64_t kRank = 16;

// A temporary directory removed at exit (the executable's main is shared with other benches).
struct BenchDir {
  fs::path path = fs::temp_directory_path() / ("trellis_bench_lora_" + std::to_string(getpid()));
  BenchDir() { fs::create_directories(path); }
  ~BenchDir() { fs::remove_all(path); }
};

const fs::path& bench_dir() {
  static const BenchDir d;
  return d.path;
}

void random_q8(uint8_t* dst, size_t n) {
  std::mt19937 rng(7);
  for (size_t i = 0; i < n; i += 34) {  // fp16 scale + 32 int8
    const uint16_t d = fp32_to_fp16(0.002f);
    std::memcpy(dst + i, &d, 2);
    for (int j = 0; j < 32; j += 4) {
      const uint32_t r = rng();
      std::memcpy(dst + i + 2 + j, &r, 4);
    }
  }
}

const Model& base() {
  static const std::unique_ptr<Model> m = [] {
    GgufWriter w;
    const std::string a = "llama";
    w.set_string("general.architecture", a);
    w.set_string("general.name", "random-smollm-shape");
    w.set_u32(a + ".context_length", 2048);
    w.set_u32(a + ".embedding_length", 576);
    w.set_u32(a + ".block_count", 30);
    w.set_u32(a + ".feed_forward_length", 1536);
    w.set_u32(a + ".attention.head_count", 9);
    w.set_u32(a + ".attention.head_count_kv", 3);
    auto ones = [](uint8_t* dst, size_t n) {
      const float one = 1.0f;
      for (size_t i = 0; i < n; i += 4) std::memcpy(dst + i, &one, 4);
    };
    auto mat = [&](const std::string& name, int64_t in, int64_t out) {
      w.add_tensor_generated(name, DType::Q8_0, {in, out, 1, 1}, 2, random_q8);
    };
    mat("token_embd.weight", 576, 49152);
    w.add_tensor_generated("output_norm.weight", DType::F32, {576, 1, 1, 1}, 1, ones);
    for (int l = 0; l < 30; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      w.add_tensor_generated(b + "attn_norm.weight", DType::F32, {576, 1, 1, 1}, 1, ones);
      w.add_tensor_generated(b + "ffn_norm.weight", DType::F32, {576, 1, 1, 1}, 1, ones);
      mat(b + "attn_q.weight", 576, 576);
      mat(b + "attn_k.weight", 576, 192);
      mat(b + "attn_v.weight", 576, 192);
      mat(b + "attn_output.weight", 576, 576);
      mat(b + "ffn_gate.weight", 576, 1536);
      mat(b + "ffn_up.weight", 576, 1536);
      mat(b + "ffn_down.weight", 1536, 576);
    }
    const std::string path = (bench_dir() / "base.gguf").string();
    w.write(path);
    return Model::load(path);
  }();
  return *m;
}

// A random r=16 adapter on all seven projections of every layer (HF q/k layout).
std::shared_ptr<const LoraAdapter> random_adapter(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<LoraTarget> targets;
  for (int64_t l = 0; l < base().hparams().n_layer; ++l) {
    for (int p = 0; p < kNumProjections; ++p) {
      const TensorView& w = base().projection(l, static_cast<Projection>(p));
      LoraTarget t;
      t.ref = {l, static_cast<Projection>(p)};
      t.rank = kRank;
      t.in = w.ne[0];
      t.out = w.ne[1];
      t.alpha = 32.0f;
      t.scale = 2.0f;
      t.a.resize(static_cast<size_t>(t.rank * t.in));
      t.b.resize(static_cast<size_t>(t.out * t.rank));
      for (float& x : t.a) x = nd(rng);
      for (float& x : t.b) x = nd(rng);
      targets.push_back(std::move(t));
    }
  }
  AdapterMeta meta;
  meta.path = "random-" + std::to_string(seed);
  meta.arch = "llama";
  return std::make_shared<LoraAdapter>(meta, std::move(targets));
}

double adapter_bytes(const AdapterSet* s) {
  double b = 0;
  if (s) {
    for (const auto& e : s->entries()) b += static_cast<double>(e.adapter->n_params()) * 4;
  }
  return b;
}

// Decode steps for n sequences at kContext positions each; sets[i] may be null.
void decode(benchmark::State& state, const std::vector<const AdapterSet*>& sets, double lora_bytes) {
  const Model& m = base();
  ThreadPool pool(static_cast<int>(state.range(0)));
  const size_t n = sets.size();
  std::vector<std::unique_ptr<KVCache>> caches;
  Forward fwd(m, pool, std::max<int64_t>(kContext, static_cast<int64_t>(n)), static_cast<int64_t>(n));
  std::vector<int32_t> prompt(kContext);
  for (int64_t i = 0; i < kContext; ++i) prompt[static_cast<size_t>(i)] = static_cast<int32_t>(100 + i);
  for (size_t i = 0; i < n; ++i) {
    caches.push_back(std::make_unique<KVCache>(m.hparams(), kContext + 1));
    SequenceInput in{caches.back().get(), prompt, false, sets[i]};
    fwd.run({&in, 1});
  }
  std::vector<int32_t> tok(n, 42);
  std::vector<SequenceInput> batch;
  for (size_t i = 0; i < n; ++i) batch.push_back({caches[i].get(), {&tok[i], 1}, false, sets[i]});
  for (auto _ : state) {
    fwd.run(batch);
    for (auto& c : caches) c->truncate(kContext);
  }
  const double steps = static_cast<double>(state.iterations());
  state.counters["tok/s"] = benchmark::Counter(steps * static_cast<double>(n), benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] =
      benchmark::Counter(steps * (static_cast<double>(m.weight_bytes()) + lora_bytes) / 1e9, benchmark::Counter::kIsRate);
}

void BM_Decode1_Base(benchmark::State& state) { decode(state, {nullptr}, 0); }

void BM_Decode1_Lora(benchmark::State& state) {
  AdapterSet set;
  set.add(random_adapter(1));
  decode(state, {&set}, adapter_bytes(&set));
}

void BM_Decode8_Base(benchmark::State& state) { decode(state, std::vector<const AdapterSet*>(8, nullptr), 0); }

void BM_Decode8_SharedAdapter(benchmark::State& state) {
  AdapterSet set;
  set.add(random_adapter(1));
  decode(state, std::vector<const AdapterSet*>(8, &set), adapter_bytes(&set));
}

void BM_Decode8_DistinctAdapters(benchmark::State& state) {
  std::vector<AdapterSet> sets(8);
  std::vector<const AdapterSet*> ptrs;
  double bytes = 0;
  for (uint32_t i = 0; i < 8; ++i) {
    sets[i].add(random_adapter(i + 1));
    ptrs.push_back(&sets[i]);
    bytes += adapter_bytes(&sets[i]);
  }
  decode(state, ptrs, bytes);
}

void BM_AdapterLoad(benchmark::State& state) {
  const bool gguf = state.range(0) == 1;
  const Model& m = base();
  const std::string path = (bench_dir() / (gguf ? "a.gguf" : "a_peft")).string();
  if (!fs::exists(path)) {
    const AdapterWriteOptions opt{HeadLayout{m.hparams().n_head, m.hparams().n_head_kv, m.hparams().head_dim}, "llama"};
    if (gguf) write_gguf_lora(*random_adapter(1), path, opt);
    else write_peft(*random_adapter(1), path, opt);
  }
  for (auto _ : state) benchmark::DoNotOptimize(LoraAdapter::load_for(path, m));
  state.SetLabel(gguf ? "GGUF-LoRA r=16 x7 x30 layers (19.5 MB)" : "PEFT r=16 x7 x30 layers (19.5 MB)");
}

void thread_args(benchmark::internal::Benchmark* b) {
  const int cores = available_cores();
  b->Arg(1);
  if (cores > 1) b->Arg(cores);
  b->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_Decode1_Base)->Apply(thread_args);
BENCHMARK(BM_Decode1_Lora)->Apply(thread_args);
BENCHMARK(BM_Decode8_Base)->Apply(thread_args);
BENCHMARK(BM_Decode8_SharedAdapter)->Apply(thread_args);
BENCHMARK(BM_Decode8_DistinctAdapters)->Apply(thread_args);
BENCHMARK(BM_AdapterLoad)->Arg(0)->Arg(1)->ArgName("gguf")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();
