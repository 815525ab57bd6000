// The trainable LoRA parameters of a training run: for each targeted projection (layer,
// q/k/v/o/gate/up/down) A [rank, in] and B [out, rank], stored back to back in one flat F32
// vector (with a same-shaped gradient vector) so the optimizer, gradient clipping and
// checkpoints treat them as one array. B rows of q/k follow the base's row layout (GGUF
// llama files: interleaved); export converts them to Hugging Face order.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace trellis {

struct LoraSpec {
  int64_t rank = 8;
  float alpha = 16.0f;
  bool rslora = false;
  float dropout = 0.0f;
  std::array<bool, kNumProjections> targets{true, true, true, true, true, true, true};

  float scale() const;  // alpha / rank, or alpha / sqrt(rank) with rsLoRA
  // Parses "q,k,v,o,gate,up,down" (any subset; "all"); throws Error on an unknown name.
  static std::array<bool, kNumProjections> parse_targets(const std::string& list);
  std::string targets_string() const;
};

struct LoraSlot {
  int64_t layer = 0;
  Projection proj = Projection::Q;
  int64_t in = 0, out = 0;
  int64_t a_offset = 0;  // A [rank, in] at values[a_offset]
  int64_t b_offset = 0;  // B [out, rank] at values[b_offset]
};

class LoraParams {
 public:
  LoraParams(const Model& model, const LoraSpec& spec);

  // PEFT's initialisation: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a=sqrt(5)),
  // B = 0, so training starts exactly at the base model. Deterministic in `seed`.
  void init(uint64_t seed);
  void zero_grads();

  const LoraSpec& spec() const { return spec_; }
  float scale() const { return spec_.scale(); }
  const std::vector<LoraSlot>& slots() const { return slots_; }
  // nullptr when (layer, proj) is not a target.
  const LoraSlot* slot(int64_t layer, Projection p) const;

  std::vector<float> values;
  std::vector<float> grads;

 private:
  LoraSpec spec_;
  std::vector<LoraSlot> slots_;
  std::vector<int32_t> index_;  // layer * kNumProjections + proj -> slot or -1
};

}  // namespace trellis
