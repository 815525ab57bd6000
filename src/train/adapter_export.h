// Trained LoRA parameters leave the trainer through the lora/ library: converted once into a
// LoraAdapter (q/k B rows in the base's own row layout, as trained), then written by
// lora/adapter_writer as a PEFT directory (q/k rows in Hugging Face order) and, on request,
// as a GGUF-LoRA file (q/k rows in the architecture's GGUF order) — the same writers
// `trellis lora convert` uses, so every adapter the project writes has one layout.
#pragma once
#include <string>

#include "lora/adapter.h"
#include "model/model.h"
#include "train/lora_params.h"

namespace trellis {

// The GGUF-LoRA file written next to the PEFT files when asked for.
inline constexpr const char* kGgufLoraFileName = "adapter.gguf";

// A LoraAdapter holding copies of `params` (F32, alpha and scale of the spec, architecture and
// name of `base`); `path` names it in messages and in the GGUF general.name.
LoraAdapter to_lora_adapter(const LoraParams& params, const Model& base, const std::string& path);

// Writes the PEFT adapter (adapter_config.json + adapter_model.safetensors) into `dir` and,
// when `gguf_lora`, also dir/adapter.gguf. Each file is written atomically; the PEFT config
// goes after its weights.
void write_trained_adapter(const LoraParams& params, const Model& base, const std::string& dir, bool gguf_lora);

}  // namespace trellis
