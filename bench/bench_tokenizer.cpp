// Tokenizer throughput on one thread: 1 MB of deterministic English-like text through the
// GPT-2 (byte-level BPE), Qwen2 (Llama-3-style byte-level BPE with NFC) and Llama SPM vocabs,
// plus long single-character runs (10 KB vs 100 KB) to show encoding stays linear.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

using namespace trellis;

namespace {

std::string shared(const std::string& rel) { return std::string(TRELLIS_SOURCE_DIR) + "/../shared/" + rel; }

// Words drawn with a Zipf-like skew, with punctuation, digits and newlines, seeded: the same
// megabyte every run.
std::string english_text(size_t bytes) {
  static const char* const kWords[] = {
      "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
      "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
      "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
      "so", "no", "model", "language", "token", "sequence", "attention", "transformer", "learning", "training",
      "inference", "memory", "performance", "benchmark", "throughput", "vocabulary", "encoding", "decoding",
      "international", "responsibility", "characteristics", "understanding", "implementation", "Llama", "Qwen",
      "GPT", "Hugging", "Face", "don't", "it's", "we'll", "they're", "1998", "2024", "3.14", "42", "100,000"};
  std::mt19937 rng(42);
  std::vector<double> weights;
  for (size_t i = 0; i < std::size(kWords); ++i) weights.push_back(1.0 / (1.0 + 0.3 * static_cast<double>(i)));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::string s;
  s.reserve(bytes + 32);
  size_t in_sentence = 0;
  while (s.size() < bytes) {
    std::string w = kWords[pick(rng)];
    if (in_sentence == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
    s += w;
    ++in_sentence;
    const unsigned r = rng() % 100;
    if (in_sentence > 8 && r < 12) {
      s += r < 2 ? ".\n\n" : r < 10 ? ". " : "? ";
      in_sentence = 0;
    } else {
      s += r < 6 ? ", " : " ";
    }
  }
  s.resize(bytes);
  return s;
}

std::unique_ptr<Tokenizer> load(const std::string& which) {
  const std::string path = which == "qwen2" ? shared("vocab/qwen2") : shared("vocab/ggml-vocab-" + which + ".gguf");
  if (!std::filesystem::exists(path)) return nullptr;
  return Tokenizer::load(path);
}

void encode_bench(benchmark::State& state, const std::string& vocab, const std::string& text) {
  auto tok = load(vocab);
  if (!tok) {
    state.SkipWithError("missing ../shared/vocab");
    return;
  }
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok->encode(text, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / std::max<size_t>(1, n_tokens);
}

void BM_Encode1MB(benchmark::State& state, const char* vocab) {
  static const std::string text = english_text(1 << 20);
  encode_bench(state, vocab, text);
}
BENCHMARK_CAPTURE(BM_Encode1MB, gpt2, "gpt-2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode1MB, qwen2, "qwen2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode1MB, llama_spm, "llama-spm")->Unit(benchmark::kMillisecond);

// One character repeated: a single pre-token (BPE) or one SPM input. Compare the 10 KB and
// 100 KB rows: time per byte should stay roughly flat.
void BM_EncodeRun(benchmark::State& state, const char* vocab) {
  const std::string text(static_cast<size_t>(state.range(0)), 'a');
  encode_bench(state, vocab, text);
}
BENCHMARK_CAPTURE(BM_EncodeRun, gpt2, "gpt-2")->Arg(10 << 10)->Arg(100 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeRun, llama_spm, "llama-spm")->Arg(10 << 10)->Arg(100 << 10)->Unit(benchmark::kMillisecond);

void BM_Decode1MB(benchmark::State& state, const char* vocab) {
  static const std::string text = english_text(1 << 20);
  auto tok = load(vocab);
  if (!tok) {
    state.SkipWithError("missing ../shared/vocab");
    return;
  }
  const auto ids = tok->encode(text, false, false);
  for (auto _ : state) benchmark::DoNotOptimize(tok->decode(ids));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(BM_Decode1MB, gpt2, "gpt-2")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
