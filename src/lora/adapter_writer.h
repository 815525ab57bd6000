// Writing adapters: PEFT directories and GGUF-LoRA files (as llama.cpp reads them).
// Both keep each target's stored element type where the format allows, so PEFT → GGUF-LoRA →
// PEFT reproduces the tensors bit for bit. Q/K B rows are written in the layout the format
// expects (Hugging Face order for PEFT, the architecture's GGUF order for GGUF-LoRA); changing
// layout needs the base's head counts.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "lora/adapter.h"

namespace trellis {

struct HeadLayout {
  int64_t n_head = 0, n_head_kv = 0, head_dim = 0;
};

struct AdapterWriteOptions {
  std::optional<HeadLayout> heads;  // from the base; needed when q/k rows must be reordered
  std::string arch;                 // GGUF architecture when the adapter does not know its own
  double lora_dropout = 0.0;        // recorded in adapter_config.json (training metadata only)
};

// adapter_config.json + adapter_model.safetensors in `dir` (created if needed).
// Returns notes (e.g. what was inferred).
std::vector<std::string> write_peft(const LoraAdapter& adapter, const std::string& dir, const AdapterWriteOptions& opt = {});

// A GGUF-LoRA file. GGUF-LoRA has one alpha and scale = alpha/rank per tensor: a target whose
// scale differs (alpha_pattern, rsLoRA) gets the difference folded into its B (stored F32).
std::vector<std::string> write_gguf_lora(const LoraAdapter& adapter, const std::string& path,
                                         const AdapterWriteOptions& opt = {});

}  // namespace trellis
