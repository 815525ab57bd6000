// Training checkpoints: one safetensors file (written atomically) holding the trained values
// (LoRA matrices, or all weights in full training, as one flat array),
// AdamW moments and, as JSON metadata, the trainer state (step, optimizer step count,
// best eval, early-stopping counter, the metrics so far) and the settings that must not
// change on --resume. The data position and the dropout RNG are functions of the step, so
// the step number restores them exactly.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include <vector>

#include "train/optimizer.h"

namespace trellis {

struct TrainState {
  int64_t step = 0;  // optimizer steps completed
  double best_eval = 0.0;
  int64_t best_step = -1;
  int64_t evals_without_improvement = 0;
  nlohmann::json metrics = nlohmann::json::array();  // one object per logged event
};

// `settings` identifies the run (model, data, LoRA and optimizer settings); load refuses a
// checkpoint whose settings differ.
void save_checkpoint(const std::string& path, const std::vector<float>& values, AdamW& opt, const TrainState& state,
                     const nlohmann::json& settings);
TrainState load_checkpoint(const std::string& path, std::vector<float>& values, AdamW& opt, const nlohmann::json& settings);

}  // namespace trellis
