// Per-conversation state over a shared Model: KV cache, token history, sampler and the
// adapter set in use. Many sessions can share one Model (which is never modified).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace trellis {

class ThreadPool;
class AdapterSet;

struct SessionOptions {
  int64_t n_ctx = 0;               // 0: min(model's training context, 4096)
  DType kv_type = DType::F32;
  int64_t max_batch = 256;         // prompt tokens per forward call
  SamplerParams sampling;
};

class Session {
 public:
  Session(const Model& model, ThreadPool& pool, const SessionOptions& opt = {});

  // Uses `set` (may be null) for the next calls. `key` identifies the set and its scales; a
  // cache built under another key is discarded, never reused.
  void set_adapters(const AdapterSet* set, const std::string& key);

  // Appends tokens and returns the logits after the last one. Throws Error when the context
  // would overflow (the message says how much room is left).
  const float* feed(std::span<const int32_t> tokens);
  // Samples the next token from the last logits (penalties see the history).
  int32_t sample();
  const float* last_logits() const { return last_logits_.data(); }

  void reset();                    // empty history and cache (keeps the adapter set)
  // Keeps the first n tokens (a prefix shared with the next prompt) and drops the rest.
  void rewind(int64_t n);
  // Length of the longest common prefix of the history and `tokens`.
  int64_t common_prefix(std::span<const int32_t> tokens) const;
  int64_t position() const { return cache_.length(); }
  int64_t n_ctx() const { return cache_.n_ctx(); }
  int64_t room() const { return cache_.n_ctx() - cache_.length(); }
  const std::vector<int32_t>& history() const { return history_; }
  const Model& model() const { return model_; }
  Sampler& sampler() { return sampler_; }

 private:
  const Model& model_;
  ThreadPool& pool_;
  KVCache cache_;
  Forward forward_;
  Sampler sampler_;
  const AdapterSet* adapters_ = nullptr;
  std::vector<int32_t> history_;
  std::vector<float> last_logits_;
};

}  // namespace trellis
