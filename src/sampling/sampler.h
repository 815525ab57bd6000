// Turning logits into the next token: penalties, top-k, top-p, min-p, temperature, and a
// seeded generator so runs are reproducible. Buffers are sized once per vocabulary.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace trellis {

struct SamplerParams {
  float temperature = 0.8f;      // <= 0: greedy
  int32_t top_k = 40;            // <= 0: off
  float top_p = 0.95f;           // >= 1: off
  float min_p = 0.05f;           // <= 0: off
  float repeat_penalty = 1.0f;   // 1: off; divides positive logits, multiplies negative ones
  float presence_penalty = 0.0f; // subtracted once from every token seen in the window
  float frequency_penalty = 0.0f;// subtracted per occurrence in the window
  int32_t penalty_last_n = 64;   // window of recent tokens the penalties look at (-1: all)
  uint64_t seed = 0;

  // Throws Error naming the option when a value is out of range.
  void validate() const;
};

class Sampler {
 public:
  Sampler(const SamplerParams& params, int64_t n_vocab);

  // Picks the next token from logits[n_vocab] given the tokens so far (for penalties).
  int32_t sample(const float* logits, std::span<const int32_t> history);
  void reseed(uint64_t seed) { rng_.seed(seed); }
  const SamplerParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  void apply_penalties(std::span<const int32_t> history);
  void keep_top_k(size_t k);
  void sort_candidates();
  void apply_top_p_min_p();
  int32_t draw();

  SamplerParams params_;
  int64_t n_vocab_;
  std::vector<Candidate> cand_;
  size_t n_cand_ = 0;
  bool sorted_ = false;
  std::vector<float> probs_;
  std::vector<int32_t> counts_;
  std::mt19937_64 rng_;
};

int32_t argmax(const float* logits, int64_t n);

}  // namespace trellis
