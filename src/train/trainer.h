// `trellis train` as a library object: loads and packs the data, runs the optimisation loop
// (gradient accumulation, clipping, AdamW, schedule), evaluates, logs, checkpoints, resumes,
// stops early, and writes the adapter(s) (or, with full training, the model), metrics.jsonl and the loss plot into the output
// directory. The CLI (cli/cmd_train.cpp) only parses options into a TrainerConfig.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "model/model.h"
#include "train/dataset.h"
#include "train/lora_params.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace trellis {

class ThreadPool;

struct TrainerConfig {
  std::string data_path, eval_path, out_dir;
  double eval_split = 0.0;  // fraction of the examples held out when no eval file is given
  DatasetOptions data;
  bool packing = true;
  LoraSpec lora;
  bool full = false;              // train every weight (writes model.gguf instead of an adapter)
  std::string save_type = "F32";  // full: tensor type of the written model (as for quantize)
  std::string model_name;         // full: general.name of the written model ("" keeps the base's)
  AdamWConfig adam{0.9, 0.999, 1e-8, 0.0};
  double lr = 2e-4, min_lr_ratio = 0.0, clip = 1.0;
  int64_t warmup = 0;
  ScheduleKind schedule = ScheduleKind::Cosine;
  int64_t epochs = 1, steps = 0;  // steps > 0 overrides epochs
  int64_t micro_batch = 1;        // windows per forward/backward
  int64_t grad_accum = 1;         // micro-batches per optimizer step
  uint64_t seed = 42;
  int64_t eval_every = 0;         // 0: only at the end (when there is eval data)
  int64_t save_every = 0;         // 0: only on interrupt and at the end
  int64_t early_stopping = 0;     // evals without improvement before stopping; 0: off
  int64_t log_every = 1;
  int checkpointing = -1;         // -1: automatic, 0: off, 1: on
  double max_memory_gib = 0.0;    // 0: no limit
  bool resume = false;
  bool plot = true;
  bool dry_run = false;
  bool gguf_lora = false;         // also write the adapter as GGUF-LoRA: <dir>/adapter.gguf
  int64_t stop_after = 0;         // testing: behave as if interrupted after this many steps
};

struct TrainResult {
  int64_t steps = 0;
  double last_loss = 0.0, best_eval = 0.0;
  bool interrupted = false, early_stopped = false;
  std::string message;
};

class Trainer {
 public:
  using Log = std::function<void(const std::string&)>;
  Trainer(const Model& model, const TrainerConfig& cfg, ThreadPool& pool, Log log);
  // Throws Error on bad input and when the loss becomes NaN (the last good checkpoint is
  // kept). `interrupt` (Ctrl-C) makes it checkpoint and return with interrupted = true.
  TrainResult run(const std::atomic<bool>* interrupt = nullptr);

 private:
  const Model& model_;
  TrainerConfig cfg_;
  ThreadPool& pool_;
  Log log_;
};

}  // namespace trellis
