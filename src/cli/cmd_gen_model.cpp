// `trellis gen-model`: a random-weight GGUF at a real model's shape, for benchmarks and tests.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "model/random_model.h"

namespace trellis::cli {
namespace {

struct ShapeFlags {
  std::optional<int64_t> dim, layers, heads, kv_heads, ff, vocab, head_dim, ctx;
  bool tied = false, untied = false;
};

// Preset values, overridden by any explicit flag; `custom` needs the core sizes given.
Hparams resolve_shape(const std::string& shape, const ShapeFlags& f) {
  Hparams hp;
  if (shape == "custom") {
    if (!f.dim || !f.layers || !f.heads || !f.ff || !f.vocab) {
      fail("--shape custom needs --dim, --layers, --heads, --ff and --vocab (or --byte-vocab)");
    }
    hp.n_ctx_train = 4096;
    hp.tied_embeddings = true;
  } else {
    hp = shape_preset(shape).hp;
  }
  const bool heads_changed = f.dim || f.heads;
  if (f.dim) hp.n_embd = *f.dim;
  if (f.layers) hp.n_layer = *f.layers;
  if (f.heads) hp.n_head = *f.heads;
  hp.n_head_kv = f.kv_heads ? *f.kv_heads : (shape == "custom" ? hp.n_head : hp.n_head_kv);
  if (f.ff) hp.n_ff = *f.ff;
  if (f.vocab) hp.n_vocab = *f.vocab;
  if (f.ctx) hp.n_ctx_train = *f.ctx;
  if (f.head_dim) {
    hp.head_dim = *f.head_dim;
  } else if (heads_changed || shape == "custom") {
    if (hp.n_head <= 0 || hp.n_embd % hp.n_head != 0) fail("--dim ", hp.n_embd, " is not a multiple of --heads ", hp.n_head, " (pass --head-dim)");
    hp.head_dim = hp.n_embd / hp.n_head;
  }
  hp.rope_dim = hp.head_dim;
  if (f.tied) hp.tied_embeddings = true;
  if (f.untied) hp.tied_embeddings = false;
  return hp;
}

int run_gen_model(int argc, char** argv) {
  CLI::App app("Write a GGUF model with random weights at a real model's shape (for benchmarks and tests).\n"
               "Matrices and biases ~ N(0, --std), norm weights ~ 1 + N(0, --std); deterministic for a seed.\n"
               "Shapes: smollm2-135m (llama, dim 576, 30 layers, 9/3 heads, FFN 1536, vocab 49152, tied),\n"
               "qwen2.5-0.5b (qwen2, dim 896, 24 layers, 14/2 heads, FFN 4864, vocab 151936, tied, q/k/v biases),\n"
               "tiny (llama, dim 256, 4 layers, 4/2 heads, FFN 768, vocab 1024, tied), or custom (give the sizes).\n"
               "Size flags override a preset's values.",
               "trellis gen-model");
  std::string arch_name, shape = "tiny", type = "F16", out, tokenizer_from;
  ShapeFlags f;
  uint64_t seed = 0;
  int threads = 0;
  float std_dev = 0.02f;
  bool pure = false;
  app.add_option("--arch", arch_name, "llama, qwen2 or qwen3 (default: the shape's own)");
  app.add_option("--shape", shape, "smollm2-135m, qwen2.5-0.5b, tiny or custom (default tiny)");
  app.add_option("--dim", f.dim, "model width (embedding length)");
  app.add_option("--layers", f.layers, "number of layers");
  app.add_option("--heads", f.heads, "attention heads");
  app.add_option("--kv-heads", f.kv_heads, "key/value heads (default: the shape's, or --heads for custom)");
  app.add_option("--ff", f.ff, "feed-forward length");
  app.add_option("--vocab", f.vocab, "vocabulary size");
  app.add_option("--head-dim", f.head_dim, "head dimension (default dim / heads)");
  app.add_option("--ctx", f.ctx, "training context length written to the metadata");
  auto* tied = app.add_flag("--tied", f.tied, "output projection shares token_embd (no output.weight)");
  app.add_flag("--untied", f.untied, "separate output.weight")->excludes(tied);
  app.add_option("--type", type, "tensor type / mix as for `trellis quantize` (default F16)");
  app.add_flag("--pure", pure, "every matrix in --type (no llama.cpp per-tensor rules)");
  app.add_option("--seed", seed, "random seed (default 0)");
  app.add_option("--std", std_dev, "standard deviation of the weights (default 0.02)");
  app.add_option("--tokenizer-from", tokenizer_from, "copy the tokenizer.* keys of this GGUF (e.g. a vocab-only file)");
  bool byte_vocab = false;
  app.add_flag("--byte-vocab", byte_vocab,
               "write a self-contained byte-level vocabulary (256 byte tokens + <unk>, <s>, </s>) and a chat template");
  app.add_option("-t,--threads", threads, "worker threads (default: all cores)");
  app.add_option("-o,--output", out, "GGUF file to write")->required();
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  if (!(std_dev > 0.0f) || std_dev > 10.0f) fail("--std must be in (0, 10]");
  RandomModelSpec spec;
  spec.byte_vocab = byte_vocab;
  if (byte_vocab && !f.vocab && shape == "custom") f.vocab = 3 + 256;  // exactly the byte vocabulary
  spec.hp = resolve_shape(shape, f);
  if (arch_name.empty()) arch_name = shape == "custom" ? "llama" : shape_preset(shape).arch;
  spec.arch = find_arch_by_gguf_name(arch_name);
  if (!spec.arch) fail("unknown --arch '", arch_name, "' (llama, qwen2, qwen3)");
  spec.scheme = parse_quant_scheme(type);
  spec.scheme.pure = pure;
  spec.seed = seed;
  spec.weight_std = std_dev;
  spec.name = cat("random ", shape, " ", arch_name, " (seed ", seed, ")");
  std::unique_ptr<GgufFile> tok;
  if (!tokenizer_from.empty()) {
    tok = GgufFile::open(tokenizer_from);
    if (!tok->has("tokenizer.ggml.model")) fail(tokenizer_from, ": no tokenizer in this file (tokenizer.ggml.model missing)");
    spec.tokenizer_from = tok.get();
  }
  const auto start = std::chrono::steady_clock::now();
  const ConvertPlan plan = plan_random_model(spec);
  ThreadPool pool(resolve_threads(threads));
  {
    ProgressBar bar("writing " + out);
    write_plan(plan, out, pool, [&](size_t done, size_t total) { bar.update(total ? double(done) / double(total) : 1.0); });
  }
  const Hparams& hp = spec.hp;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: %s, dim %lld, %lld layers, %lld/%lld heads, head dim %lld, FFN %lld, vocab %lld, %s; "
              "%zu tensors (%s), %.2f MB in %.2f s\n",
              out.c_str(), arch_name.c_str(), (long long)hp.n_embd, (long long)hp.n_layer, (long long)hp.n_head,
              (long long)hp.n_head_kv, (long long)hp.head_dim, (long long)hp.n_ff, (long long)hp.n_vocab,
              hp.tied_embeddings ? "tied" : "untied", plan.tensors.size(), type_counts(plan).c_str(),
              static_cast<double>(std::filesystem::file_size(out)) / 1e6, secs);
  return 0;
}

const CommandRegistrar reg({"gen-model", "write a random-weight model at a real shape (benchmarks, tests)", run_gen_model, 62});

}  // namespace
}  // namespace trellis::cli
