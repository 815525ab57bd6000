// Writes trained LoRA parameters as a PEFT adapter directory: adapter_config.json and
// adapter_model.safetensors with tensors
//   base_model.model.model.layers.N.<self_attn|mlp>.<proj>.lora_A.weight  [r, in]
//   base_model.model.model.layers.N.<self_attn|mlp>.<proj>.lora_B.weight  [out, r]
// q/k B rows are converted to Hugging Face (rotate-half) order when the base stores them
// permuted (llama GGUF files). Each file is written atomically; the config goes last, so a
// directory with a config always has its matching weights.
#pragma once
#include <string>

#include "model/model.h"
#include "train/lora_params.h"

namespace trellis {

void write_peft_adapter(const LoraParams& params, const Model& base, const std::string& dir);

// HF module name of a projection: "model.layers.3.self_attn.q_proj".
std::string peft_module_name(int64_t layer, Projection p);

}  // namespace trellis
