// The memory a training run will need, planned before it starts: weights (memory-mapped,
// counted as resident), F32 copies of quantized matrices while they are used, LoRA values,
// gradients and AdamW moments (or, for full training, F32 copies of all weights with theirs),
// activations with or without gradient checkpointing, and
// backward scratch. Checkpointing is chosen automatically when the activations alone would
// exceed 1 GiB or the limit; a plan that cannot fit the limit is refused.
#pragma once
#include "core/process_stats.h"
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/model.h"
#include "train/lora_params.h"

namespace trellis {

struct MemoryPlanInput {
  const Model* model = nullptr;
  LoraSpec lora;
  int64_t tokens = 512;      // tokens per micro-batch
  int checkpointing = -1;    // -1 automatic, 0 off, 1 on
  double max_memory_gib = 0; // 0: no limit
  bool full = false;         // all weights trainable (F32 values, gradients, AdamW m and v)
};

struct MemoryPlan {
  size_t weights = 0, dequant = 0, lora = 0, activations = 0, scratch = 0, total = 0;
  bool checkpointing = false;
  std::string summary;
};

// Throws Error when the plan exceeds max_memory_gib even with checkpointing.
MemoryPlan plan_memory(const MemoryPlanInput& in);


}  // namespace trellis
