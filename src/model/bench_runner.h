// Prompt-processing (pp) and text-generation (tg) benchmarks on a Model, in the manner of
// llama-bench: pp feeds P random tokens into an empty (or depth-filled) cache, tg decodes N
// single tokens; each test has a short untimed warm-up, then `repetitions` timed runs. Also the
// per-token work (weight bytes streamed, multiply-adds) that turns tokens/s into GB/s and
// GOPS against the machine's ceilings (kernels/ceilings.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/process_stats.h"

#include "core/dtype.h"
#include "model/model.h"

namespace trellis {

class ThreadPool;
class KVCache;
class Forward;

struct BenchTest {
  int64_t n_prompt = 0;  // pp: tokens in one prompt (0 for a tg test)
  int64_t n_gen = 0;     // tg: single-token decodes (0 for a pp test)
  int64_t depth = 0;     // tokens already in the cache (filled untimed)

  bool is_prompt() const { return n_prompt > 0; }
  int64_t n_tokens() const { return is_prompt() ? n_prompt : n_gen; }
  int64_t n_ctx() const { return depth + n_tokens(); }
  std::string name() const;  // "pp512", "tg128", "tg128@d2048"
};

// How the untimed context of a test at depth D is made.
enum class DepthFill {
  Model,   // D random tokens run through the model (as llama-bench does)
  Random,  // random K/V values written into the cache: same attention work, no fill time
};

struct BenchConfig {
  int repetitions = 5;
  DType kv_type = DType::F32;
  int64_t n_batch = 512;  // prompt tokens per forward call (llama-bench's ubatch)
  uint64_t seed = 1234;   // for the random token ids
  DepthFill depth_fill = DepthFill::Model;
};

struct BenchTiming {
  BenchTest test;
  std::vector<double> seconds;  // one per timed repetition
  double mean_tps = 0.0, stdev_tps = 0.0;  // over the repetitions' tokens/s
};

// Throws Error when the test is empty or does not fit the model's training context.
void check_bench_test(const Model& model, const BenchTest& test);

// One test made ready to time: its cache, forward buffers and random tokens, the context of
// its depth filled and one untimed warm-up run done (checked as above). Each run_timed()
// truncates the cache back to the depth and times one run (the prompt, or n_gen decodes).
class BenchSession {
 public:
  BenchSession(const Model& model, ThreadPool& pool, const BenchTest& test, const BenchConfig& cfg);
  ~BenchSession();
  BenchSession(const BenchSession&) = delete;
  BenchSession& operator=(const BenchSession&) = delete;

  void run_timed();
  BenchTiming timing() const;  // every run so far

 private:
  std::span<const int32_t> timed_tokens() const;

  BenchTest test_;
  std::unique_ptr<KVCache> cache_;
  std::unique_ptr<Forward> fwd_;
  std::vector<int32_t> tokens_;
  std::vector<double> seconds_;  // one per timed run
};

// Runs one test: cfg.repetitions timed runs after its warm-up.
BenchTiming run_bench_test(const Model& model, ThreadPool& pool, const BenchTest& test, const BenchConfig& cfg);
// Runs the tests in rounds: every test is made ready first (all their caches alive at once),
// then each round times one run of every test in order, cfg.repetitions rounds. A drift of the
// machine's speed during the runs (another tenant, a frequency change) then reaches every test
// alike, so their ratios (tg at depth over tg at depth 0) compare like with like.
std::vector<BenchTiming> run_bench_tests_interleaved(const Model& model, ThreadPool& pool,
                                                     std::span<const BenchTest> tests, const BenchConfig& cfg);

// Mean and sample standard deviation (0 for fewer than two values).
double mean_of(const std::vector<double>& v);
double stdev_of(const std::vector<double>& v);

// Weight bytes one decode step streams: every layer matrix, the norms and the output
// projection (the whole table when tied); the token embedding is a one-row lookup.
size_t decode_weight_bytes(const Model& model);
// KV-cache bytes attention reads per token, averaged over the test's positions
// (each token reads K and V of every earlier position in every layer).
double kv_read_bytes_per_token(const Hparams& hp, DType kv_type, const BenchTest& test);
// Weights multiplied per prompt token: the layer matrices. Excludes the embedding table (a
// lookup) and the output projection (pp computes logits for the last token only).
int64_t prompt_matmul_params(const Model& model);
// True when the layer matrices are mostly integer-quantized (int8 compute ceiling applies);
// false for F32/F16/BF16 weights (FP32 FMA ceiling).
bool integer_weights(const Model& model);
// "Q4_K_M", "F16", ...: general.file_type when the GGUF has a known one, else the type
// holding most weight bytes.
std::string model_type_label(const Model& model);

// Bytes of the model on disk: the file, or the safetensors files of a directory.
size_t model_file_bytes(const std::string& path);
// The KV cache plus forward-pass buffers a test allocates.
size_t bench_state_bytes(const Hparams& hp, const BenchTest& test, const BenchConfig& cfg);
// KV cache alone.
size_t kv_cache_bytes(const Hparams& hp, int64_t n_ctx, DType kv_type);


}  // namespace trellis
