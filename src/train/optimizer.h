// AdamW over one flat parameter array (torch.optim.AdamW semantics: decoupled weight decay
// p -= lr·wd·p, then the bias-corrected Adam update), plus global-norm gradient clipping
// (torch.nn.utils.clip_grad_norm_ semantics).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace trellis {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  AdamW(size_t n_params, const AdamWConfig& cfg);

  // One update of params with grads at learning rate lr; increments step().
  void step(std::vector<float>& params, const std::vector<float>& grads, double lr);

  int64_t step_count() const { return t_; }
  const AdamWConfig& config() const { return cfg_; }
  // State for checkpoints (restored bit for bit).
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  void set_step_count(int64_t t) { t_ = t; }

 private:
  AdamWConfig cfg_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

// L2 norm of all gradients (double accumulation).
double global_grad_norm(const std::vector<float>& grads);
// Scales grads by max_norm / (norm + 1e-6) when that is below 1; returns the norm before clipping.
// max_norm <= 0 disables clipping.
double clip_grad_norm(std::vector<float>& grads, double max_norm);

}  // namespace trellis
