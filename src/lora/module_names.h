// Names of the linear projections a LoRA adapter targets, in the two naming schemes:
// Hugging Face modules ("model.layers.3.self_attn.q_proj") and GGUF tensors
// ("blk.3.attn_q.weight"). The forward pass only knows (layer, Projection).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "model/model.h"

namespace trellis {

struct ProjectionRef {
  int64_t layer = 0;
  Projection proj = Projection::Q;
  bool operator==(const ProjectionRef&) const = default;
};

// "q_proj", "gate_proj", ... (the PEFT target_modules suffix).
const char* hf_projection_suffix(Projection p);
// "model.layers.<L>.self_attn.q_proj" (the PEFT module key, without "base_model.model.").
std::string hf_module_name(ProjectionRef r);
// "blk.<L>.attn_q.weight".
std::string gguf_tensor_name(ProjectionRef r);

// Parses a module name as produced by hf_module_name; nullopt for anything else.
std::optional<ProjectionRef> parse_hf_module_name(const std::string& name);
// Parses "blk.<L>.<attn_q|...>.weight"; nullopt for anything else.
std::optional<ProjectionRef> parse_gguf_tensor_name(const std::string& name);

}  // namespace trellis
