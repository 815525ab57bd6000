// Llama 2/3/3.1/3.2, TinyLlama, SmolLM/SmolLM2, Mistral 7B (without sliding window).
#include "model/arch.h"

namespace trellis {
const ArchSpec& llama_arch() {
  static const ArchSpec spec{
    .gguf_name = "llama",
    .hf_architectures = {"LlamaForCausalLM", "MistralForCausalLM"},
    .hf_model_types = {"llama", "mistral"},
    .qkv_bias = false,
    .qk_norm = false,
    .gguf_rope_style = RopeStyle::Interleaved,
    .gguf_permutes_qk = true,
};
  return spec;
}
}  // namespace trellis
