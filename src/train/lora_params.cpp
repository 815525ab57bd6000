#include "train/lora_params.h"

#include <cmath>
#include <random>
#include <sstream>

#include "core/error.h"

namespace trellis {

float LoraSpec::scale() const {
  const double r = static_cast<double>(rank);
  return static_cast<float>(alpha / (rslora ? std::sqrt(r) : r));
}

std::array<bool, kNumProjections> LoraSpec::parse_targets(const std::string& list) {
  std::array<bool, kNumProjections> out{};
  std::stringstream ss(list);
  std::string item;
  bool any = false;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (item == "all") {
      out.fill(true);
      any = true;
      continue;
    }
    // Accept both the short names and the PEFT module names (q_proj, gate_proj, ...).
    if (item.size() > 5 && item.substr(item.size() - 5) == "_proj") item.resize(item.size() - 5);
    bool found = false;
    for (int p = 0; p < kNumProjections; ++p) {
      if (item == projection_name(static_cast<Projection>(p))) out[p] = found = true;
    }
    if (!found) fail("--targets: unknown projection '", item, "' (expected any of q,k,v,o,gate,up,down)");
    any = true;
  }
  if (!any) fail("--targets: no projection given");
  return out;
}

std::string LoraSpec::targets_string() const {
  std::string s;
  for (int p = 0; p < kNumProjections; ++p) {
    if (!targets[p]) continue;
    if (!s.empty()) s += ",";
    s += projection_name(static_cast<Projection>(p));
  }
  return s;
}

LoraParams::LoraParams(const Model& model, const LoraSpec& spec) : spec_(spec) {
  if (spec.rank <= 0) fail("--rank must be positive, got ", spec.rank);
  if (!(spec.alpha > 0.0f) || !std::isfinite(spec.alpha)) fail("--alpha must be a positive number");
  if (!(spec.dropout >= 0.0f && spec.dropout < 1.0f)) fail("--dropout must be in [0, 1)");
  const int64_t L = model.hparams().n_layer;
  index_.assign(static_cast<size_t>(L * kNumProjections), -1);
  int64_t offset = 0;
  for (int64_t l = 0; l < L; ++l) {
    for (int p = 0; p < kNumProjections; ++p) {
      if (!spec.targets[p]) continue;
      const TensorView& w = model.projection(l, static_cast<Projection>(p));
      LoraSlot s{l, static_cast<Projection>(p), w.ne[0], w.ne[1], offset, offset + spec.rank * w.ne[0]};
      offset = s.b_offset + s.out * spec.rank;
      index_[l * kNumProjections + p] = static_cast<int32_t>(slots_.size());
      slots_.push_back(s);
    }
  }
  values.assign(static_cast<size_t>(offset), 0.0f);
  grads.assign(static_cast<size_t>(offset), 0.0f);
}

const LoraSlot* LoraParams::slot(int64_t layer, Projection p) const {
  const int32_t i = index_[layer * kNumProjections + static_cast<int>(p)];
  return i < 0 ? nullptr : &slots_[i];
}

void LoraParams::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (const LoraSlot& s : slots_) {
    const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.in)));
    std::uniform_real_distribution<float> u(-bound, bound);
    for (int64_t i = 0; i < spec_.rank * s.in; ++i) values[s.a_offset + i] = u(rng);
    for (int64_t i = 0; i < s.out * spec_.rank; ++i) values[s.b_offset + i] = 0.0f;
  }
}

void LoraParams::zero_grads() { std::fill(grads.begin(), grads.end(), 0.0f); }

}  // namespace trellis
