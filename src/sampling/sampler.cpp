#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace trellis {

void SamplerParams::validate() const {
  if (!std::isfinite(temperature)) fail("--temp must be a finite number");
  if (!(top_p > 0.0f) || top_p > 1.0f) fail("--top-p must be in (0, 1], got ", top_p);
  if (min_p < 0.0f || min_p > 1.0f) fail("--min-p must be in [0, 1], got ", min_p);
  if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty)) fail("--repeat-penalty must be positive");
  if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty)) fail("penalties must be finite");
  if (penalty_last_n < -1) fail("--repeat-last-n must be -1 or more");
}

int32_t argmax(const float* logits, int64_t n) {
  return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

Sampler::Sampler(const SamplerParams& params, int64_t n_vocab)
    : params_(params), n_vocab_(n_vocab), cand_(static_cast<size_t>(n_vocab)), probs_(static_cast<size_t>(n_vocab)),
      counts_(static_cast<size_t>(n_vocab), 0), rng_(params.seed) {
  params_.validate();
}

void Sampler::apply_penalties(std::span<const int32_t> history) {
  const bool any = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f;
  if (!any || params_.penalty_last_n == 0 || history.empty()) return;
  const size_t n = params_.penalty_last_n < 0 ? history.size()
                                              : std::min(history.size(), static_cast<size_t>(params_.penalty_last_n));
  const auto window = history.subspan(history.size() - n);
  for (int32_t t : window) {
    if (t >= 0 && t < n_vocab_) ++counts_[static_cast<size_t>(t)];
  }
  for (int32_t t : window) {
    if (t < 0 || t >= n_vocab_ || counts_[static_cast<size_t>(t)] == 0) continue;
    const int32_t c = counts_[static_cast<size_t>(t)];
    float& l = cand_[static_cast<size_t>(t)].logit;
    l = l > 0.0f ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    l -= static_cast<float>(c) * params_.frequency_penalty + params_.presence_penalty;
    counts_[static_cast<size_t>(t)] = 0;  // each distinct token penalised once
  }
}

void Sampler::keep_top_k(size_t k) {
  if (k >= n_cand_) return;
  auto by_logit = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
  std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k),
                    cand_.begin() + static_cast<std::ptrdiff_t>(n_cand_), by_logit);
  n_cand_ = k;
  sorted_ = true;
}

void Sampler::sort_candidates() {
  if (sorted_) return;
  std::sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(n_cand_),
            [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); });
  sorted_ = true;
}

// Converts the (sorted) candidates to probabilities at the sampling temperature, then keeps
// the smallest prefix reaching top_p and drops those below min_p × the best probability.
void Sampler::apply_top_p_min_p() {
  const float inv_t = 1.0f / params_.temperature;
  const float mx = cand_[0].logit;
  double sum = 0.0;
  for (size_t i = 0; i < n_cand_; ++i) sum += (probs_[i] = std::exp((cand_[i].logit - mx) * inv_t));
  size_t keep = n_cand_;
  if (params_.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < n_cand_; ++i) {
      cum += probs_[i] / sum;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    const float floor = params_.min_p * probs_[0];
    size_t k = 1;
    while (k < keep && probs_[k] >= floor) ++k;
    keep = k;
  }
  n_cand_ = keep;
}

int32_t Sampler::draw() {
  double sum = 0.0;
  for (size_t i = 0; i < n_cand_; ++i) sum += probs_[i];
  std::uniform_real_distribution<double> uni(0.0, sum);
  double r = uni(rng_);
  for (size_t i = 0; i < n_cand_; ++i) {
    r -= probs_[i];
    if (r <= 0.0) return cand_[i].id;
  }
  return cand_[n_cand_ - 1].id;
}

int32_t Sampler::sample(const float* logits, std::span<const int32_t> history) {
  for (int64_t i = 0; i < n_vocab_; ++i) cand_[static_cast<size_t>(i)] = {static_cast<int32_t>(i), logits[i]};
  n_cand_ = static_cast<size_t>(n_vocab_);
  sorted_ = false;
  apply_penalties(history);
  if (params_.temperature <= 0.0f) {
    return std::max_element(cand_.begin(), cand_.end(), [](const Candidate& a, const Candidate& b) {
             return a.logit < b.logit;
           })->id;
  }
  if (params_.top_k > 0) keep_top_k(static_cast<size_t>(params_.top_k));
  sort_candidates();
  apply_top_p_min_p();
  return draw();
}

}  // namespace trellis
