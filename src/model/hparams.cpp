#include "model/hparams.h"

#include <cmath>

#include "core/error.h"

namespace trellis {

void Hparams::validate(const std::string& label) const {
  auto positive = [&](const char* name, int64_t v, int64_t max) {
    if (v <= 0 || v > max) fail(label, ": ", name, " = ", v, " is out of range (1..", max, ")");
  };
  positive("vocabulary size", n_vocab, int64_t(1) << 24);
  positive("embedding length", n_embd, int64_t(1) << 16);
  positive("block count", n_layer, 1024);
  positive("head count", n_head, 1024);
  positive("kv head count", n_head_kv, 1024);
  positive("head dimension", head_dim, 4096);
  positive("feed-forward length", n_ff, int64_t(1) << 18);
  positive("context length", n_ctx_train, int64_t(1) << 24);
  if (n_head % n_head_kv != 0) fail(label, ": head count ", n_head, " is not a multiple of kv head count ", n_head_kv);
  if (rope_dim <= 0 || rope_dim > head_dim || rope_dim % 2 != 0) fail(label, ": rope dimension ", rope_dim, " is invalid for head dimension ", head_dim);
  if (!(rms_eps > 0.0f) || !std::isfinite(rms_eps)) fail(label, ": RMS norm epsilon must be positive");
  if (!(rope_theta > 0.0f) || !std::isfinite(rope_theta)) fail(label, ": RoPE base must be positive");
  if (!(rope_scaling.factor > 0.0f) || !std::isfinite(rope_scaling.factor)) fail(label, ": RoPE scaling factor must be positive");
}

std::vector<float> rope_inv_freqs(const Hparams& hp) {
  const int64_t half = hp.rope_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  const RopeScaling& rs = hp.rope_scaling;
  for (int64_t i = 0; i < half; ++i) {
    double f = 1.0 / std::pow(static_cast<double>(hp.rope_theta), 2.0 * i / static_cast<double>(hp.rope_dim));
    if (rs.kind == RopeScaling::Kind::Linear) {
      f /= rs.factor;
    } else if (rs.kind == RopeScaling::Kind::Llama3) {
      // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, a smooth ramp between.
      const double low_wavelen = rs.original_context / rs.low_freq_factor;
      const double high_wavelen = rs.original_context / rs.high_freq_factor;
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= rs.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (rs.original_context / wavelen - rs.low_freq_factor) /
                              (rs.high_freq_factor - rs.low_freq_factor);
        f = (1.0 - smooth) * f / rs.factor + smooth * f;
      }
    }
    inv[static_cast<size_t>(i)] = static_cast<float>(f);
  }
  return inv;
}

}  // namespace trellis
