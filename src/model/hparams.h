// Hyper-parameters of a decoder-only transformer, read from GGUF metadata or config.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace trellis {

struct RopeScaling {
  enum class Kind { None, Linear, Llama3 };
  Kind kind = Kind::None;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_context = 8192;
};

struct Hparams {
  int64_t n_vocab = 0;
  int64_t n_embd = 0;      // model width
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;    // may differ from n_embd / n_head (qwen3)
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  int64_t rope_dim = 0;    // rotated dimensions per head (= head_dim for these families)
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  bool tied_embeddings = false;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  // Throws Error(label: ...) when values are missing, non-positive or inconsistent.
  void validate(const std::string& label) const;
};

// Per-pair inverse frequencies (rope_dim / 2 values) with the scaling applied.
std::vector<float> rope_inv_freqs(const Hparams& hp);

}  // namespace trellis
