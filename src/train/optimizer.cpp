#include "train/optimizer.h"

#include <cmath>

namespace trellis {

AdamW::AdamW(size_t n, const AdamWConfig& cfg) : cfg_(cfg), m_(n, 0.0f), v_(n, 0.0f) {}

void AdamW::step(std::vector<float>& p, const std::vector<float>& g, double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
  const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2);
  const float decay = static_cast<float>(1.0 - lr * cfg_.weight_decay);
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float eps = static_cast<float>(cfg_.eps);
  for (size_t i = 0; i < p.size(); ++i) {
    m_[i] = b1 * m_[i] + (1.0f - b1) * g[i];
    v_[i] = b2 * v_[i] + (1.0f - b2) * g[i] * g[i];
    // torch: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps), after p *= 1 - lr·wd.
    p[i] = p[i] * decay - step_size * m_[i] / (std::sqrt(v_[i]) * inv_sqrt_bc2 + eps);
  }
}

double global_grad_norm(const std::vector<float>& grads) {
  double s = 0.0;
  for (float g : grads) s += static_cast<double>(g) * g;
  return std::sqrt(s);
}

double clip_grad_norm(std::vector<float>& grads, double max_norm) {
  const double norm = global_grad_norm(grads);
  if (max_norm <= 0.0 || !std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    const auto c = static_cast<float>(coef);
    for (float& g : grads) g *= c;
  }
  return norm;
}

}  // namespace trellis
