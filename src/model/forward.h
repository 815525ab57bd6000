// The transformer forward pass over a batch that may mix several independent sequences.
// Each sequence brings its own KV cache; all tokens of the batch share every weight matmul
// (the base matmul runs once for the whole batch). Buffers are sized once at construction:
// nothing is allocated per token.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/attention.h"
#include "lora/lora_apply.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace trellis {

class ThreadPool;
class AdapterSet;

struct SequenceInput {
  KVCache* cache = nullptr;          // new tokens are appended at cache->length()
  std::span<const int32_t> tokens;
  bool all_logits = false;           // logits for every token, else only for the last one
  const AdapterSet* adapters = nullptr;  // LoRA adapters for this sequence (nullptr: base only)
};

class Forward {
 public:
  // max_tokens: the most tokens one run() may carry; max_logit_rows: the most logit rows.
  Forward(const Model& model, ThreadPool& pool, int64_t max_tokens, int64_t max_logit_rows);

  // Runs all sequences; afterwards logits(i) are the rows asked for, in sequence order
  // (for each sequence: every token if all_logits, else its last token). Throws Error if a
  // token id is out of range, a cache would overflow, or the batch exceeds the sizes above.
  void run(std::span<const SequenceInput> seqs);

  int64_t n_logit_rows() const { return n_logit_rows_; }
  const float* logits(int64_t row) const { return logits_.data() + row * model_.hparams().n_vocab; }
  int64_t vocab_size() const { return model_.hparams().n_vocab; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t max_logit_rows() const { return max_logit_rows_; }

 private:
  struct TokenSlot {
    int32_t seq;
    int64_t pos;
  };
  void check_batch(std::span<const SequenceInput> seqs);
  void embed(std::span<const SequenceInput> seqs);
  void attention_block(int64_t layer, std::span<const SequenceInput> seqs);
  void ffn_block(int64_t layer);
  void project_qkv(int64_t layer);
  void write_kv(int64_t layer, std::span<const SequenceInput> seqs);
  void attend(int64_t layer, std::span<const SequenceInput> seqs);
  void compute_logits(std::span<const SequenceInput> seqs);
  // LoRA: groups the batch's tokens by adapter once per run, then adds s·B(A·x) after each
  // projection's base matmul for the tokens whose sequence uses an adapter.
  void plan_lora(std::span<const SequenceInput> seqs);
  void apply_lora(int64_t layer, Projection p, const float* x, float* y) {
    if (lora_.active()) lora_.apply(layer, p, x, y, pool_);
  }

  const Model& model_;
  ThreadPool& pool_;
  int64_t max_tokens_, max_logit_rows_;
  int64_t n_tokens_ = 0, n_logit_rows_ = 0;
  std::vector<TokenSlot> slots_;
  std::vector<AttentionQuery> att_queries_;
  LoraBatch lora_;
  std::vector<float> x_, xn_, q_, k_, v_, att_, ff_gate_, ff_up_, logits_, out_rows_;
  std::vector<float> rope_cs_;  // [T, rope_dim]: each token's RoPE cosines then sines
};

}  // namespace trellis
