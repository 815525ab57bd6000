#include "model/bench_runner.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <span>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/forward.h"
#include "model/kv_cache.h"

namespace trellis {

namespace fs = std::filesystem;

std::string BenchTest::name() const {
  std::string s = is_prompt() ? cat("pp", n_prompt) : cat("tg", n_gen);
  if (depth > 0) s += cat("@d", depth);
  return s;
}

namespace {

using Clock = std::chrono::steady_clock;

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab - 1));
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = pick(rng);
  return t;
}

// Appends `tokens` to the cache, at most `fwd.max_tokens()` per forward call.
void feed(Forward& fwd, KVCache& cache, std::span<const int32_t> tokens) {
  const auto step = static_cast<size_t>(fwd.max_tokens());
  for (size_t start = 0; start < tokens.size(); start += step) {
    const SequenceInput in{&cache, tokens.subspan(start, std::min(step, tokens.size() - start)), false, nullptr};
    fwd.run(std::span<const SequenceInput>(&in, 1));
  }
}

// The timed part: the whole prompt, or one decode step per token.
void run_once(Forward& fwd, KVCache& cache, const BenchTest& test, std::span<const int32_t> tokens) {
  if (test.is_prompt()) {
    feed(fwd, cache, tokens);
    return;
  }
  for (size_t i = 0; i < tokens.size(); ++i) feed(fwd, cache, tokens.subspan(i, 1));
}

// The untimed context before a test: run through the model, or (DepthFill::Random) K/V rows
// of random values written straight into the cache. Attention does the same work over
// either; the random fill costs nothing where a model fill of 2048 tokens takes minutes.
void fill_context(const Hparams& hp, Forward& fwd, KVCache& cache, std::span<const int32_t> context,
                  const BenchConfig& cfg) {
  if (context.empty()) return;
  if (cfg.depth_fill == DepthFill::Model) {
    feed(fwd, cache, context);
    return;
  }
  std::mt19937_64 rng(cfg.seed ^ 0x9e3779b97f4a7c15ull);
  std::normal_distribution<float> val(0.0f, 1.0f);
  std::vector<float> k(static_cast<size_t>(cache.kv_dim())), v(k.size());
  const auto n = static_cast<int64_t>(context.size());
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    for (int64_t p = 0; p < n; ++p) {
      for (size_t i = 0; i < k.size(); ++i) k[i] = val(rng), v[i] = val(rng);
      cache.store(l, p, k.data(), v.data());
    }
  }
  cache.set_length(n);
}

int64_t forward_batch(const BenchTest& test, const BenchConfig& cfg) {
  return std::clamp<int64_t>(std::max(test.is_prompt() ? test.n_prompt : 1, test.depth), 1,
                             std::max<int64_t>(1, cfg.n_batch));
}

// llama_ftype values (general.file_type) and their names.
const char* ftype_name(int64_t ftype) {
  static const std::map<int64_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {25, "IQ4_NL"}, {30, "IQ4_XS"},
      {32, "BF16"}};
  const auto it = names.find(ftype);
  return it == names.end() ? nullptr : it->second;
}

// Bytes per type over the layer matrices (what the matmuls stream).
std::map<DType, size_t> layer_matrix_bytes_by_type(const Model& model) {
  std::map<DType, size_t> bytes;
  for (int64_t l = 0; l < model.hparams().n_layer; ++l) {
    for (int p = 0; p < kNumProjections; ++p) {
      const TensorView& t = model.projection(l, static_cast<Projection>(p));
      bytes[t.type] += t.nbytes;
    }
  }
  return bytes;
}

DType dominant_type(const Model& model) {
  const auto bytes = layer_matrix_bytes_by_type(model);
  return std::max_element(bytes.begin(), bytes.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

}  // namespace

void check_bench_test(const Model& model, const BenchTest& test) {
  if (test.n_tokens() <= 0 || test.depth < 0 || (test.n_prompt > 0 && test.n_gen > 0)) {
    fail("a benchmark test is either a prompt or a generation of at least one token, at a depth >= 0");
  }
  const int64_t ctx = model.hparams().n_ctx_train;
  if (test.n_ctx() > ctx) {
    fail(test.name(), " needs ", test.n_ctx(), " positions (depth ", test.depth, " + ", test.n_tokens(),
         " tokens) but the model's context is ", ctx);
  }
}

BenchSession::BenchSession(const Model& model, ThreadPool& pool, const BenchTest& test, const BenchConfig& cfg)
    : test_(test) {
  check_bench_test(model, test);
  const Hparams& hp = model.hparams();
  cache_ = std::make_unique<KVCache>(hp, test.n_ctx(), cfg.kv_type);
  fwd_ = std::make_unique<Forward>(model, pool, forward_batch(test, cfg), 1);
  tokens_ = random_tokens(test.n_ctx(), hp.n_vocab, cfg.seed);
  const auto context = std::span<const int32_t>(tokens_).first(static_cast<size_t>(test.depth));
  fill_context(hp, *fwd_, *cache_, context, cfg);  // once; each run truncates back to it
  // Untimed warm-up, as llama-bench does it: a short prompt (up to 32 tokens) or one decode
  // step pages the weights in and wakes the pool without costing a whole run.
  const auto timed = timed_tokens();
  run_once(*fwd_, *cache_, test, timed.first(std::min<size_t>(timed.size(), test.is_prompt() ? 32 : 1)));
}

BenchSession::~BenchSession() = default;

std::span<const int32_t> BenchSession::timed_tokens() const {
  return std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(test_.depth));
}

void BenchSession::run_timed() {
  cache_->truncate(test_.depth);
  const auto t0 = Clock::now();
  run_once(*fwd_, *cache_, test_, timed_tokens());
  seconds_.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
}

BenchTiming BenchSession::timing() const {
  BenchTiming r;
  r.test = test_;
  r.seconds = seconds_;
  std::vector<double> tps;
  for (double s : r.seconds) tps.push_back(static_cast<double>(test_.n_tokens()) / s);
  r.mean_tps = mean_of(tps);
  r.stdev_tps = stdev_of(tps);
  return r;
}

BenchTiming run_bench_test(const Model& model, ThreadPool& pool, const BenchTest& test, const BenchConfig& cfg) {
  BenchSession session(model, pool, test, cfg);
  for (int rep = 0; rep < std::max(1, cfg.repetitions); ++rep) session.run_timed();
  return session.timing();
}

std::vector<BenchTiming> run_bench_tests_interleaved(const Model& model, ThreadPool& pool,
                                                     std::span<const BenchTest> tests, const BenchConfig& cfg) {
  std::vector<std::unique_ptr<BenchSession>> sessions;
  for (const BenchTest& t : tests) sessions.push_back(std::make_unique<BenchSession>(model, pool, t, cfg));
  for (int rep = 0; rep < std::max(1, cfg.repetitions); ++rep) {
    for (auto& s : sessions) s->run_timed();
  }
  std::vector<BenchTiming> out;
  for (const auto& s : sessions) out.push_back(s->timing());
  return out;
}

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double stdev_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean_of(v);
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

size_t decode_weight_bytes(const Model& model) {
  size_t bytes = 0;
  for (const TensorView* t : model.all_tensors()) {
    if (t->data != model.tok_embd().data) bytes += t->nbytes;
  }
  // The output projection reads the whole table (tied or not); the embedding one row.
  return bytes + model.output().nbytes * (model.output().data == model.tok_embd().data) +
         model.tok_embd().row_stride();
}

double kv_read_bytes_per_token(const Hparams& hp, DType kv_type, const BenchTest& test) {
  // Token i of the test (at position depth + i) reads depth + i + 1 positions; the mean of
  // that over the test is depth + (n + 1) / 2.
  const double positions = static_cast<double>(test.depth) + static_cast<double>(test.n_tokens() + 1) / 2.0;
  const double elem = kv_type == DType::F16 ? 2.0 : 4.0;
  return positions * 2.0 * static_cast<double>(hp.n_layer) * static_cast<double>(hp.kv_dim()) * elem;
}

int64_t prompt_matmul_params(const Model& model) {
  int64_t n = 0;
  for (int64_t l = 0; l < model.hparams().n_layer; ++l) {
    for (int p = 0; p < kNumProjections; ++p) n += model.projection(l, static_cast<Projection>(p)).n_elements();
  }
  return n;
}

bool integer_weights(const Model& model) { return is_quantized(dominant_type(model)); }

std::string model_type_label(const Model& model) {
  if (const GgufFile* g = model.gguf(); g && g->has("general.file_type")) {
    if (const char* n = ftype_name(g->get_int("general.file_type", -1))) return n;
  }
  return dtype_name(dominant_type(model));
}

size_t model_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    const auto size = fs::file_size(path, ec);
    if (ec) fail(path, ": cannot read the file size (", ec.message(), ")");
    return static_cast<size_t>(size);
  }
  size_t total = 0;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (e.is_regular_file(ec) && e.path().extension() == ".safetensors") total += static_cast<size_t>(e.file_size(ec));
  }
  return total;
}

size_t kv_cache_bytes(const Hparams& hp, int64_t n_ctx, DType kv_type) {
  return static_cast<size_t>(2 * hp.n_layer * n_ctx * hp.kv_dim()) * (kv_type == DType::F16 ? 2 : 4);
}

size_t bench_state_bytes(const Hparams& hp, const BenchTest& test, const BenchConfig& cfg) {
  // Mirrors Forward's buffers (per token: residual, norms, q/k/v, attention out, two FFN
  // rows) and its one row of logits.
  const int64_t per_token = hp.n_embd + std::max(hp.n_embd, hp.q_dim()) + 2 * hp.q_dim() + 2 * hp.kv_dim() + 2 * hp.n_ff;
  const int64_t scratch = forward_batch(test, cfg) * per_token + hp.n_vocab + hp.n_embd;
  return kv_cache_bytes(hp, test.n_ctx(), cfg.kv_type) + static_cast<size_t>(scratch) * sizeof(float);
}

}  // namespace trellis
