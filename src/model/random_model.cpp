#include "model/random_model.h"

#include <cstdio>

#include <cmath>

#include "core/error.h"
#include "formats/gguf.h"

namespace trellis {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Hparams make_hp(int64_t vocab, int64_t embd, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ff,
                int64_t ctx, float eps, float theta, bool tied) {
  Hparams hp;
  hp.n_vocab = vocab;
  hp.n_embd = embd;
  hp.n_layer = layers;
  hp.n_head = heads;
  hp.n_head_kv = kv_heads;
  hp.head_dim = embd / heads;
  hp.rope_dim = hp.head_dim;
  hp.n_ff = ff;
  hp.n_ctx_train = ctx;
  hp.rms_eps = eps;
  hp.rope_theta = theta;
  hp.tied_embeddings = tied;
  return hp;
}

const std::vector<ShapePreset>& presets() {
  static const std::vector<ShapePreset> p = {
      {"smollm2-135m", "llama", make_hp(49152, 576, 30, 9, 3, 1536, 8192, 1e-5f, 100000.0f, true)},
      {"qwen2.5-0.5b", "qwen2", make_hp(151936, 896, 24, 14, 2, 4864, 32768, 1e-6f, 1000000.0f, true)},
      // Small, but every matrix row fills whole 256-element K-quant blocks.
      {"tiny", "llama", make_hp(1024, 256, 4, 4, 2, 768, 2048, 1e-5f, 10000.0f, true)},
  };
  return p;
}

enum class Init { Weight, Norm };

}  // namespace

const ShapePreset& shape_preset(const std::string& name) {
  for (const ShapePreset& p : presets()) {
    if (p.name == name) return p;
  }
  std::string list;
  for (const std::string& n : shape_preset_names()) list += (list.empty() ? "" : ", ") + n;
  fail("unknown shape '", name, "' (one of: ", list, ", custom)");
}

std::vector<std::string> shape_preset_names() {
  std::vector<std::string> names;
  for (const ShapePreset& p : presets()) names.push_back(p.name);
  return names;
}

void fill_gaussian(uint64_t seed, float mean, float std, float* dst, int64_t n) {
  // xoshiro256+ (no multiplications) seeded by splitmix64; the sum of 4 uniforms on [0, 1)
  // has mean 2 and variance 1/3.
  uint64_t s0 = splitmix64(seed), s1 = splitmix64(seed), s2 = splitmix64(seed), s3 = splitmix64(seed);
  const float scale = std * std::sqrt(3.0f) / 65536.0f;
  const float offset = mean - 2.0f * std * std::sqrt(3.0f);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = s0 + s3;
    const uint64_t t = s1 << 17;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 45) | (s3 >> 19);
    const uint32_t sum = static_cast<uint32_t>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
    dst[i] = static_cast<float>(static_cast<int32_t>(sum)) * scale + offset;
  }
}

namespace {

void add_byte_vocab(GgufWriter& w, int64_t n_vocab) {
  constexpr int64_t kTokens = 3 + 256;
  if (n_vocab < kTokens) fail("a byte vocabulary needs a vocabulary size of at least ", kTokens);
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};  // unknown, control, control
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);  // byte
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", tokens);
  w.set_array_f32("tokenizer.ggml.scores", std::vector<float>(tokens.size(), 0.0f));
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_string("tokenizer.chat_template",
               "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
               "{% if add_generation_prompt %}assistant: {% endif %}");
}

}  // namespace

ConvertPlan plan_random_model(const RandomModelSpec& spec) {
  if (!spec.arch) fail("random model: no architecture");
  Hparams hp = spec.hp;
  if (spec.byte_vocab) hp.n_vocab = 3 + 256;  // embedding rows match the vocabulary exactly
  hp.validate("random model");
  ConvertPlan plan;
  set_model_metadata(plan.metadata, *spec.arch, hp, spec.name, spec.scheme);
  if (spec.tokenizer_from) {
    const GgufFile& t = *spec.tokenizer_from;
    for (const std::string& key : t.key_order()) {
      if (key.rfind("tokenizer.", 0) == 0) plan.metadata.set_value(key, t.metadata().at(key));
    }
    if (t.has("tokenizer.ggml.tokens")) {
      const int64_t n = static_cast<int64_t>(t.get_string_array("tokenizer.ggml.tokens").size());
      if (n > hp.n_vocab) fail(t.path(), ": tokenizer has ", n, " tokens, more than the vocabulary of ", hp.n_vocab, " (pass --vocab ", n, ")");
    }
  }
  if (spec.byte_vocab) {
    if (spec.tokenizer_from) fail("--byte-vocab and --tokenizer-from exclude each other");
    add_byte_vocab(plan.metadata, hp.n_vocab);
  }
  const ModelTraits traits{hp.n_layer, hp.n_head / hp.n_head_kv, !hp.tied_embeddings};
  uint64_t tensor_id = 0;
  // Each row gets its own seed from (seed, tensor, row), so rows can be made in any order.
  auto add = [&](const std::string& name, int64_t ne0, int64_t ne1, Init init) {
    TensorPlan t;
    t.name = name;
    t.ne = {ne0, ne1, 1, 1};
    t.n_dims = ne1 > 1 ? 2 : 1;
    t.choice = choose_tensor_type(spec.scheme, name, t.ne, t.n_dims, traits);
    uint64_t s = spec.seed ^ (++tensor_id * 0xD1B54A32D192ED03ull);
    const uint64_t base = splitmix64(s);
    const float mean = init == Init::Norm ? 1.0f : 0.0f, std = spec.weight_std;
    t.rows = [base, mean, std, ne0](int64_t row, float* dst) {
      uint64_t rs = base + static_cast<uint64_t>(row) * 0x9E3779B97F4A7C15ull;
      fill_gaussian(splitmix64(rs), mean, std, dst, ne0);
    };
    plan.tensors.push_back(std::move(t));
  };
  add("token_embd.weight", hp.n_embd, hp.n_vocab, Init::Weight);
  add("output_norm.weight", hp.n_embd, 1, Init::Norm);
  if (!hp.tied_embeddings) add("output.weight", hp.n_embd, hp.n_vocab, Init::Weight);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", hp.n_embd, 1, Init::Norm);
    add(p + "attn_q.weight", hp.n_embd, hp.q_dim(), Init::Weight);
    add(p + "attn_k.weight", hp.n_embd, hp.kv_dim(), Init::Weight);
    add(p + "attn_v.weight", hp.n_embd, hp.kv_dim(), Init::Weight);
    add(p + "attn_output.weight", hp.q_dim(), hp.n_embd, Init::Weight);
    if (spec.arch->qkv_bias) {
      add(p + "attn_q.bias", hp.q_dim(), 1, Init::Weight);
      add(p + "attn_k.bias", hp.kv_dim(), 1, Init::Weight);
      add(p + "attn_v.bias", hp.kv_dim(), 1, Init::Weight);
    }
    if (spec.arch->qk_norm) {
      add(p + "attn_q_norm.weight", hp.head_dim, 1, Init::Norm);
      add(p + "attn_k_norm.weight", hp.head_dim, 1, Init::Norm);
    }
    add(p + "ffn_norm.weight", hp.n_embd, 1, Init::Norm);
    add(p + "ffn_gate.weight", hp.n_embd, hp.n_ff, Init::Weight);
    add(p + "ffn_up.weight", hp.n_embd, hp.n_ff, Init::Weight);
    add(p + "ffn_down.weight", hp.n_ff, hp.n_embd, Init::Weight);
  }
  return plan;
}

}  // namespace trellis
