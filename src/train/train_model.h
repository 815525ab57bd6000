// The training pass: a forward over a TrainBatch that keeps what the backward needs, and a
// backward that accumulates gradients either of the LoRA A and B matrices only, through the
// frozen base (any weight type: each matrix is dequantized to F32 when used, QLoRA-style),
// or, for full fine-tuning, of every weight (read from FullParams' F32 copies).
// With gradient checkpointing only each layer's input is kept; the backward recomputes
// one layer's activations at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "model/model.h"
#include "train/lora_params.h"
#include "train/train_batch.h"

namespace trellis {

class FullParams;
class ThreadPool;

struct TrainModelOptions {
  int64_t max_tokens = 512;   // most tokens in one micro-batch
  bool checkpointing = false;
};

// Bytes the activations of one micro-batch take (for the memory plan).
struct ActivationBytes {
  size_t per_layer = 0;      // everything one layer keeps
  size_t layer_input = 0;    // just its input (what checkpointing keeps)
  size_t head = 0;           // logits chunk, output gradients, scratch
};

class TrainModel {
 public:
  // LoRA training: gradients of `lora` only.
  TrainModel(const Model& model, LoraParams& lora, ThreadPool& pool, const TrainModelOptions& opt);
  // Full training: gradients of every weight in `full`, which the forward reads instead of
  // the model's own tensors.
  TrainModel(const Model& model, FullParams& full, ThreadPool& pool, const TrainModelOptions& opt);
  ~TrainModel();

  // Forward and backward over `batch`; the loss is loss_weight · Σ NLL of scored tokens and
  // its gradient is ADDED to the parameters' grads. Returns the unweighted Σ NLL (nats).
  // dropout_seed picks the dropout masks (only used when the spec has dropout > 0).
  double forward_backward(const TrainBatch& batch, float loss_weight, uint64_t dropout_seed);
  // Σ NLL of scored tokens, no gradients, no dropout.
  double forward_loss(const TrainBatch& batch);
  // Logits [batch.size(), vocab] of the last forward_logits call (no dropout).
  const std::vector<float>& forward_logits(const TrainBatch& batch);

  // `spec` null: full training (no LoRA activations).
  static ActivationBytes activation_bytes(const Model& model, const LoraSpec* spec, int64_t tokens);

 private:
  struct LayerActs;
  TrainModel(const Model& model, LoraParams* lora, FullParams* full, ThreadPool& pool, const TrainModelOptions& opt);
  // The weight the pass uses for one of the model's tensors (FullParams' copy when training
  // all weights), and its gradient buffer (nullptr when frozen).
  const TensorView& weight(const TensorView& t) const;
  float* weight_grad(const TensorView& t) const;
  const float* weight_f32(const TensorView& t) const;
  void embed_backward(const TrainBatch& b, const float* dx);
  void bias_backward(const TensorView& bias, const float* dy, int64_t N, int64_t n);
  void check(const TrainBatch& batch) const;
  void embed(const TrainBatch& b, float* x) const;
  void layer_forward(int64_t l, const TrainBatch& b, const float* x_in, LayerActs& a, float* x_out, bool train);
  void layer_backward(int64_t l, const TrainBatch& b, const float* x_in, LayerActs& a, float* dx);
  void project(int64_t l, Projection p, const float* x, int64_t N, float* y, float* u, float* xl, bool train);
  void norm_backward(const float* dout, const float* x, const TensorView& w, const float* rstd, float* dx, int64_t N,
                     int64_t C);
  void project_backward(int64_t l, Projection p, const float* dy, const float* x, const float* u, const float* xl,
                        int64_t N, float* dx);
  double head(const TrainBatch& b, const float* x, float loss_weight, float* dx, bool backward);
  const float* dense(const TensorView& w, std::vector<float>& scratch) const;
  LayerActs& acts_for(int64_t layer);

  const Model& model_;
  LoraParams* lora_;  // exactly one of lora_ and full_ is set
  FullParams* full_;
  ThreadPool& pool_;
  TrainModelOptions opt_;
  uint64_t dropout_seed_ = 0;
  std::vector<std::unique_ptr<LayerActs>> acts_;  // one per layer, or one shared (checkpointing)
  std::vector<std::vector<float>> layer_inputs_;  // [L+1][N, C]
  std::vector<float> wscratch_, out_scratch_, dx_, dx2_, logits_, lora_scratch_;
  struct BackwardScratch {
    std::vector<float> d_hidden, d_gate, d_up, d_xn, d_att, dq, dk, dv, dq_pre, dk_pre;
  } scratch_;
};

}  // namespace trellis
