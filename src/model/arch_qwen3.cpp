// Dense Qwen3: per-head RMSNorm on q and k before RoPE; head_dim may differ from dim/heads.
#include "model/arch.h"

namespace trellis {
const ArchSpec& qwen3_arch() {
  static const ArchSpec spec{
    .gguf_name = "qwen3",
    .hf_architectures = {"Qwen3ForCausalLM"},
    .hf_model_types = {"qwen3"},
    .qkv_bias = false,
    .qk_norm = true,
    .gguf_rope_style = RopeStyle::RotateHalf,
    .gguf_permutes_qk = false,
};
  return spec;
}
}  // namespace trellis
