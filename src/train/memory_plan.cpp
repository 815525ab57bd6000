#include "train/memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/error.h"
#include "train/train_model.h"

namespace trellis {

namespace {

double gib(size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }
double mib(size_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

MemoryPlan plan_with(const MemoryPlanInput& in, bool ckpt) {
  const Model& m = *in.model;
  const Hparams& h = m.hparams();
  const auto N = static_cast<size_t>(in.tokens);
  MemoryPlan p;
  p.checkpointing = ckpt;
  p.weights = m.weight_bytes();
  size_t max_mat = 0, lora_params = 0;
  bool quantized = false;
  for (int q = 0; q < kNumProjections; ++q) {
    const TensorView& w = m.projection(0, static_cast<Projection>(q));
    max_mat = std::max(max_mat, static_cast<size_t>(w.ne[0] * w.ne[1]) * sizeof(float));
    quantized |= w.type != DType::F32;
    if (in.lora.targets[q]) lora_params += static_cast<size_t>(in.lora.rank * (w.ne[0] + w.ne[1]) * h.n_layer);
  }
  const size_t out_mat = static_cast<size_t>(h.n_vocab * h.n_embd) * sizeof(float);
  if (in.full) {
    // Trained F32 copies of every weight, read directly (the gemm reads transposed operands
    // in place, packing only small slices).
    p.dequant = 0;
    p.lora = static_cast<size_t>(m.n_params()) * 4 * sizeof(float);  // values, gradients, AdamW m and v
  } else {
    // The dequantized copy of the matrix in use and of the output matrix (none for F32).
    p.dequant = (quantized ? max_mat : 0) + (m.output().type != DType::F32 ? out_mat : 0);
    p.lora = lora_params * 4 * sizeof(float);  // values, gradients, AdamW m and v
  }
  const ActivationBytes a = TrainModel::activation_bytes(m, in.full ? nullptr : &in.lora, in.tokens);
  const auto L = static_cast<size_t>(h.n_layer);
  p.activations = (ckpt ? a.per_layer : L * a.per_layer) + (L + 1) * a.layer_input + a.head;
  // Backward temporaries of one layer: FFN gradients, attention gradients; the blocked
  // attention's head-major copies (forward and backward) and per-thread 64-row blocks.
  p.scratch = N * sizeof(float) * static_cast<size_t>(3 * h.n_ff + h.n_embd + 2 * h.q_dim() + 2 * h.kv_dim() +
                                                      3 * h.q_dim() + 4 * h.kv_dim() + 2 * h.n_head + 4 * 64);
  p.total = p.weights + p.dequant + p.lora + p.activations + p.scratch;
  return p;
}

}  // namespace

MemoryPlan plan_memory(const MemoryPlanInput& in) {
  const double limit = in.max_memory_gib;
  MemoryPlan p;
  if (in.checkpointing >= 0) {
    p = plan_with(in, in.checkpointing == 1);
  } else {
    p = plan_with(in, false);
    const bool too_big = gib(p.activations) > 1.0 || (limit > 0 && gib(p.total) > limit);
    if (too_big) p = plan_with(in, true);
  }
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "memory plan: weights %.0f MiB (mapped) + dequantized weights %.0f MiB + %s state %.1f MiB"
                " + activations %.0f MiB (%s) + scratch %.0f MiB = %.2f GiB peak%s",
                mib(p.weights), mib(p.dequant), in.full ? "trained-weight" : "LoRA", mib(p.lora), mib(p.activations),
                p.checkpointing ? "gradient checkpointing" : "all layers kept", mib(p.scratch), gib(p.total),
                limit > 0 ? (" (limit " + std::to_string(limit).substr(0, 5) + " GiB)").c_str() : "");
  p.summary = buf;
  if (limit > 0 && gib(p.total) > limit) {
    fail(p.summary, ": does not fit --max-memory; lower --ctx or --micro-batch",
         p.checkpointing ? "" : ", or allow gradient checkpointing");
  }
  return p;
}

}  // namespace trellis
