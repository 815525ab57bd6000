// `trellis quantize IN OUT TYPE`: a GGUF file or Hugging Face directory to a GGUF file.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "model/convert.h"

namespace trellis::cli {
namespace {

std::string join_ints(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += cat(s.empty() ? "" : "/", x);
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// One line per kind of fallback, so the user sees which tensors did not get the type asked for.
void print_fallbacks(const ConvertPlan& plan) {
  for (const FallbackSummary& f : summarize_fallbacks(plan)) {
    std::printf("fallback: %d tensor%s %s -> %s (row length %s not a multiple of %lld), e.g. %s\n", f.count,
                f.count == 1 ? "" : "s", dtype_name(f.wanted), dtype_name(f.type), join_ints(f.row_lengths).c_str(),
                static_cast<long long>(dtype_info(f.wanted).block_elems), join(f.examples).c_str());
  }
}

int run_quantize(int argc, char** argv) {
  CLI::App app("Write a GGUF model of the given tensor type, from a GGUF file (requantized) or a Hugging Face\n"
               "directory (converted: GGUF names and metadata, the tokenizer, llama Q/K permuted for\n"
               "interleaved RoPE; a tokenizer GGUF cannot carry exactly is left out with a warning).\n"
               "Norms and biases stay F32; Q4_K_M/Q5_K_M give attn_v and ffn_down of some layers Q6_K and\n"
               "the output matrix Q6_K, as llama.cpp does. Rows that do not fill whole blocks fall back\n"
               "(Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, IQ4_NL->Q5_0, else F16) and are reported.",
               "trellis quantize");
  std::string in, out, type;
  int threads = 0;
  bool pure = false;
  app.add_option("input", in, "GGUF file or Hugging Face directory")->required();
  app.add_option("output", out, "GGUF file to write (atomically)")->required();
  app.add_option("type", type, "F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K IQ4_NL Q4_K_M Q5_K_M")->required();
  app.add_option("-t,--threads", threads, "worker threads (default: all cores)");
  app.add_flag("--pure", pure, "no per-tensor rules: every matrix in TYPE (fallbacks still apply)");
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  QuantScheme scheme = parse_quant_scheme(type);
  scheme.pure = pure;
  ThreadPool pool(resolve_threads(threads));
  const auto start = std::chrono::steady_clock::now();
  ModelOptions mo;
  mo.model_path = in;
  auto model = mo.load();
  ConvertPlan plan = plan_conversion(*model, scheme);
  std::printf("quantizing %s (%s, %s) to %s%s\n", in.c_str(), model->arch().gguf_name.c_str(),
              model->format() == ModelFormat::Gguf ? "GGUF" : "Hugging Face", scheme.name.c_str(),
              pure ? " (pure)" : "");
  for (const std::string& w : plan.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  print_fallbacks(plan);
  {
    ProgressBar bar("writing " + out);
    write_plan(plan, out, pool, [&](size_t done, size_t total) { bar.update(total ? double(done) / double(total) : 1.0); });
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: %zu tensors (%s), %.2f MB in %.2f s\n", out.c_str(), plan.tensors.size(),
              type_counts(plan).c_str(), static_cast<double>(std::filesystem::file_size(out)) / 1e6, secs);
  return 0;
}

const CommandRegistrar reg({"quantize", "convert or requantize a model to a GGUF of a given type", run_quantize, 60});

}  // namespace
}  // namespace trellis::cli
