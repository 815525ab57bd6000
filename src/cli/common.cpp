#include "cli/common.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/thread_pool.h"

namespace trellis::cli {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see %s --help)\n", e.what(), app.get_name().c_str());
    return 2;
  }
  return -1;
}

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), start_(now_seconds()) {
  const char* env = std::getenv("TRELLIS_PROGRESS");
  enabled_ = env ? std::string(env) == "1" : isatty(STDERR_FILENO) != 0;
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(double fraction) {
  if (!enabled_) return;
  if (!shown_ && now_seconds() - start_ < 0.3) return;  // only when it takes more than a moment
  const int percent = static_cast<int>(fraction * 100.0 + 0.5);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  shown_ = true;
  const int width = 30, filled = percent * width / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), filled, "##############################",
               width - filled, "", percent);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (shown_) {
    std::fprintf(stderr, "\n");
    shown_ = false;
  }
}

void ModelOptions::add_to(CLI::App& app, bool required) {
  auto* opt = app.add_option("-m,--model", model_path, "model: a GGUF file or a Hugging Face directory");
  if (required) opt->required();
  app.add_option("--tokenizer", tokenizer_path,
                 "use the tokenizer of another file (a GGUF, vocab-only or not, or a tokenizer directory)");
}

std::unique_ptr<Model> ModelOptions::load(const ModelLoadOptions& options) const {
  ProgressBar bar("loading " + model_path);
  auto m = Model::load(model_path, tokenizer_path, [&](double f) { bar.update(f); }, options);
  bar.finish();
  return m;
}

void SamplingOptions::add_to(CLI::App& app) {
  app.add_option("--temp", params.temperature, "sampling temperature; 0 = greedy")->capture_default_str();
  app.add_option("--top-k", params.top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  app.add_option("--top-p", params.top_p, "keep the smallest set reaching probability p (1 = off)")->capture_default_str();
  app.add_option("--min-p", params.min_p, "drop tokens below p x the best one's probability (0 = off)")->capture_default_str();
  app.add_option("--repeat-penalty", params.repeat_penalty, "penalise recently seen tokens (1 = off)")->capture_default_str();
  app.add_option("--presence-penalty", params.presence_penalty, "subtract once per seen token")->capture_default_str();
  app.add_option("--frequency-penalty", params.frequency_penalty, "subtract per occurrence")->capture_default_str();
  app.add_option("--repeat-last-n", params.penalty_last_n, "tokens the penalties look back over (-1 = all)")->capture_default_str();
  app.add_option_function<uint64_t>("--seed", [this](uint64_t s) { params.seed = s; seed_given = true; },
                                    "random seed: the same seed, model, prompt and threads give the same output");
}

SamplerParams SamplingOptions::resolve() const {
  SamplerParams p = params;
  if (!seed_given) p.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  p.validate();
  return p;
}

void RuntimeOptions::add_to(CLI::App& app, int64_t default_ctx_hint) {
  if (default_ctx_hint > 0) ctx = default_ctx_hint;
  app.add_option("-c,--ctx", ctx, "context size in tokens (0 = the model's, at most 4096)")->capture_default_str();
  app.add_option("--kv-type", kv_type, "KV cache element type: f16 (half the memory of f32, as llama.cpp) or f32")->capture_default_str();
  app.add_option("-t,--threads", threads, "threads (0 = all available cores)")->capture_default_str();
}

DType RuntimeOptions::kv_dtype() const {
  if (kv_type == "f32" || kv_type == "F32") return DType::F32;
  if (kv_type == "f16" || kv_type == "F16") return DType::F16;
  fail("--kv-type must be f32 or f16, got '", kv_type, "'");
}

int resolve_threads(int requested) {
  const int cores = available_cores();
  if (requested <= 0) return cores;
  if (requested > cores) fail("--threads ", requested, " is more than the ", cores, " available cores");
  return requested;
}

}  // namespace trellis::cli
