#include "model/forward.h"

#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "lora/adapter_set.h"

namespace trellis {
namespace {
const float* f32(const TensorView& t) { return reinterpret_cast<const float*>(t.data); }
}  // namespace

Forward::Forward(const Model& model, ThreadPool& pool, int64_t max_tokens, int64_t max_logit_rows)
    : model_(model), pool_(pool), max_tokens_(max_tokens), max_logit_rows_(max_logit_rows) {
  if (max_tokens <= 0 || max_logit_rows <= 0) fail("batch sizes must be positive");
  const Hparams& h = model.hparams();
  const auto n = static_cast<size_t>(max_tokens);
  slots_.resize(n);
  att_queries_.resize(n);
  x_.resize(n * h.n_embd);
  xn_.resize(n * std::max(h.n_embd, h.q_dim()));
  q_.resize(n * h.q_dim());
  k_.resize(n * h.kv_dim());
  v_.resize(n * h.kv_dim());
  rope_cs_.resize(n * static_cast<size_t>(h.rope_dim));
  att_.resize(n * h.q_dim());
  ff_gate_.resize(n * h.n_ff);
  ff_up_.resize(n * h.n_ff);
  logits_.resize(static_cast<size_t>(max_logit_rows) * h.n_vocab);
  out_rows_.resize(static_cast<size_t>(max_logit_rows) * h.n_embd);
}

void Forward::check_batch(std::span<const SequenceInput> seqs) {
  const Hparams& h = model_.hparams();
  n_tokens_ = 0;
  n_logit_rows_ = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const SequenceInput& in = seqs[s];
    if (!in.cache || in.tokens.empty()) fail("sequence ", s, " of the batch has no cache or no tokens");
    const auto n = static_cast<int64_t>(in.tokens.size());
    if (in.cache->length() + n > in.cache->n_ctx()) {
      fail("context full: ", in.cache->length(), " + ", n, " tokens exceed the context size of ",
           in.cache->n_ctx());
    }
    for (int32_t t : in.tokens) {
      if (t < 0 || t >= h.n_vocab) fail("token id ", t, " is outside the vocabulary (", h.n_vocab, " tokens)");
    }
    // A cache holds keys/values computed under one adapter set; continuing it under another
    // would silently mix the two.
    const std::string key = adapter_set_key(in.adapters);
    if (in.cache->length() > 0 && in.cache->adapter_key() != key) {
      fail("sequence ", s, ": its KV cache was filled under another adapter set (or scales); clear it first");
    }
    n_tokens_ += n;
    n_logit_rows_ += in.all_logits ? n : 1;
  }
  if (n_tokens_ > max_tokens_) fail("batch of ", n_tokens_, " tokens exceeds the maximum of ", max_tokens_);
  if (n_logit_rows_ > max_logit_rows_) fail("batch asks for ", n_logit_rows_, " logit rows, more than ", max_logit_rows_);
}

void Forward::embed(std::span<const SequenceInput> seqs) {
  const Hparams& h = model_.hparams();
  const int64_t d = h.n_embd;
  int64_t i = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    for (size_t j = 0; j < seqs[s].tokens.size(); ++j, ++i) {
      slots_[i] = {static_cast<int32_t>(s), seqs[s].cache->length() + static_cast<int64_t>(j)};
      // The position's RoPE angles, shared by every layer.
      rope_angles(h.rope_dim, slots_[i].pos, model_.rope_inv_freq().data(), rope_cs_.data() + i * h.rope_dim);
      dequantize_tensor_row(model_.tok_embd(), seqs[s].tokens[j], x_.data() + i * d);
    }
  }
}

void Forward::run(std::span<const SequenceInput> seqs) {
  check_batch(seqs);
  for (const SequenceInput& in : seqs) in.cache->set_adapter_key(adapter_set_key(in.adapters));
  plan_lora(seqs);
  embed(seqs);
  for (int64_t l = 0; l < model_.hparams().n_layer; ++l) {
    attention_block(l, seqs);
    ffn_block(l);
  }
  for (const SequenceInput& in : seqs) in.cache->set_length(in.cache->length() + static_cast<int64_t>(in.tokens.size()));
  compute_logits(seqs);
}

void Forward::plan_lora(std::span<const SequenceInput> seqs) {
  lora_.begin();
  int64_t t0 = 0;
  for (const SequenceInput& in : seqs) {
    const auto n = static_cast<int64_t>(in.tokens.size());
    lora_.add_sequence(in.adapters, t0, n);
    t0 += n;
  }
}

void Forward::project_qkv(int64_t layer) {
  const Hparams& h = model_.hparams();
  const LayerWeights& w = model_.layer(layer);
  const MatmulOut qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
  matmul_multi(qkv, xn_.data(), n_tokens_, pool_);
  apply_lora(layer, Projection::Q, xn_.data(), q_.data());
  apply_lora(layer, Projection::K, xn_.data(), k_.data());
  apply_lora(layer, Projection::V, xn_.data(), v_.data());
  for (int64_t t = 0; t < n_tokens_; ++t) {
    float* q = q_.data() + t * h.q_dim();
    float* k = k_.data() + t * h.kv_dim();
    float* v = v_.data() + t * h.kv_dim();
    if (w.bq.valid()) {
      add_inplace(q, f32(w.bq), h.q_dim());
      add_inplace(k, f32(w.bk), h.kv_dim());
      add_inplace(v, f32(w.bv), h.kv_dim());
    }
    if (w.q_norm.valid()) {
      for (int64_t hd = 0; hd < h.n_head; ++hd) rmsnorm(q + hd * h.head_dim, f32(w.q_norm), q + hd * h.head_dim, h.head_dim, h.rms_eps);
      for (int64_t hd = 0; hd < h.n_head_kv; ++hd) rmsnorm(k + hd * h.head_dim, f32(w.k_norm), k + hd * h.head_dim, h.head_dim, h.rms_eps);
    }
    const float* cs = rope_cs_.data() + t * h.rope_dim;
    rope_rotate(q, h.n_head, h.head_dim, h.rope_dim, cs, model_.rope_style());
    rope_rotate(k, h.n_head_kv, h.head_dim, h.rope_dim, cs, model_.rope_style());
  }
}

void Forward::write_kv(int64_t layer, std::span<const SequenceInput> seqs) {
  const int64_t kv = model_.hparams().kv_dim();
  for (int64_t t = 0; t < n_tokens_; ++t) {
    KVCache* cache = seqs[slots_[t].seq].cache;
    cache->store(layer, slots_[t].pos, k_.data() + t * kv, v_.data() + t * kv);
  }
}

void Forward::attend(int64_t layer, std::span<const SequenceInput> seqs) {
  const Hparams& h = model_.hparams();
  const AttentionShape shape{h.n_head, h.n_head_kv, h.head_dim, 1.0f / std::sqrt(static_cast<float>(h.head_dim))};
  for (int64_t t = 0; t < n_tokens_; ++t) {
    const KVCache& cache = *seqs[slots_[t].seq].cache;
    att_queries_[t] = {q_.data() + t * h.q_dim(), cache.layer_view(layer), slots_[t].pos + 1, att_.data() + t * h.q_dim()};
  }
  attention(std::span<const AttentionQuery>(att_queries_.data(), static_cast<size_t>(n_tokens_)), shape, pool_);
}

void Forward::attention_block(int64_t layer, std::span<const SequenceInput> seqs) {
  const Hparams& h = model_.hparams();
  const LayerWeights& w = model_.layer(layer);
  for (int64_t t = 0; t < n_tokens_; ++t) {
    rmsnorm(x_.data() + t * h.n_embd, f32(w.attn_norm), xn_.data() + t * h.n_embd, h.n_embd, h.rms_eps);
  }
  project_qkv(layer);
  write_kv(layer, seqs);
  attend(layer, seqs);
  matmul(w.wo, att_.data(), n_tokens_, xn_.data(), pool_);
  apply_lora(layer, Projection::O, att_.data(), xn_.data());
  add_inplace(x_.data(), xn_.data(), n_tokens_ * h.n_embd);
}

void Forward::ffn_block(int64_t layer) {
  const Hparams& h = model_.hparams();
  const LayerWeights& w = model_.layer(layer);
  for (int64_t t = 0; t < n_tokens_; ++t) {
    rmsnorm(x_.data() + t * h.n_embd, f32(w.ffn_norm), xn_.data() + t * h.n_embd, h.n_embd, h.rms_eps);
  }
  const MatmulOut gate_up[] = {{&w.w_gate, ff_gate_.data()}, {&w.w_up, ff_up_.data()}};
  matmul_multi(gate_up, xn_.data(), n_tokens_, pool_);
  apply_lora(layer, Projection::Gate, xn_.data(), ff_gate_.data());
  apply_lora(layer, Projection::Up, xn_.data(), ff_up_.data());
  silu_mul(ff_gate_.data(), ff_up_.data(), n_tokens_ * h.n_ff);
  matmul(w.w_down, ff_gate_.data(), n_tokens_, xn_.data(), pool_);
  apply_lora(layer, Projection::Down, ff_gate_.data(), xn_.data());
  add_inplace(x_.data(), xn_.data(), n_tokens_ * h.n_embd);
}

void Forward::compute_logits(std::span<const SequenceInput> seqs) {
  const Hparams& h = model_.hparams();
  int64_t row = 0, t = 0;
  for (const SequenceInput& in : seqs) {
    const auto n = static_cast<int64_t>(in.tokens.size());
    for (int64_t j = in.all_logits ? 0 : n - 1; j < n; ++j, ++row) {
      rmsnorm(x_.data() + (t + j) * h.n_embd, f32(model_.output_norm()), out_rows_.data() + row * h.n_embd,
              h.n_embd, h.rms_eps);
    }
    t += n;
  }
  matmul(model_.output(), out_rows_.data(), n_logit_rows_, logits_.data(), pool_);
}

}  // namespace trellis
