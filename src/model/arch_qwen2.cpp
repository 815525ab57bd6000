// Qwen2 / Qwen2.5: biases on the q, k and v projections.
#include "model/arch.h"

namespace trellis {
const ArchSpec& qwen2_arch() {
  static const ArchSpec spec{
    .gguf_name = "qwen2",
    .hf_architectures = {"Qwen2ForCausalLM"},
    .hf_model_types = {"qwen2"},
    .qkv_bias = true,
    .qk_norm = false,
    .gguf_rope_style = RopeStyle::RotateHalf,
    .gguf_permutes_qk = false,
};
  return spec;
}
}  // namespace trellis
