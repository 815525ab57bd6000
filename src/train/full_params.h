// All weights of a model as trainable F32 tensors, for full fine-tuning and pre-training
// (`trellis train --full`). Every tensor of Model::all_tensors() (embeddings, norms,
// projections, biases, the output matrix when untied) is dequantized once into one flat
// value vector with a same-shaped gradient vector, so the optimizer, clipping and
// checkpoints treat them as one array, exactly as they do LoRA parameters. The model itself
// stays immutable: the training pass reads the F32 views given by view() instead.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace trellis {

class Model;
class ThreadPool;

class FullParams {
 public:
  FullParams(const Model& model, ThreadPool& pool);
  FullParams(const FullParams&) = delete;
  FullParams& operator=(const FullParams&) = delete;

  // The trainable F32 stand-in for one of the model's tensors (matched by its data, so a
  // tied output matrix and the token embeddings are one parameter). An invalid tensor, or
  // one that is not trained (e.g. rope_freqs), is returned as it is.
  const TensorView& view(const TensorView& model_tensor) const;
  // Gradient buffer of that tensor (same layout as view().data), or nullptr when untrained.
  float* grad(const TensorView& model_tensor);

  void zero_grads();

  // Writes the trained weights as a GGUF model: the base's metadata and tokenizer (a GGUF
  // base) or converted metadata and tokenizer (a Hugging Face base), tensors in `type` (as
  // for `trellis quantize`: F32, F16, Q8_0, ...), general.name set to `name` when not empty.
  // Atomic. Returns warnings for the user (e.g. a tokenizer that could not be written).
  std::vector<std::string> write_gguf(const Model& base, const std::string& path, const std::string& type, const std::string& name,
                  ThreadPool& pool) const;
  int64_t n_params() const { return static_cast<int64_t>(values.size()); }

  std::vector<float> values;
  std::vector<float> grads;

 private:
  struct Entry {
    const TensorView* source = nullptr;  // the model's tensor
    TensorView view;                     // F32, data = values.data() + offset
    int64_t offset = 0;
  };
  const Entry* find(const TensorView& t) const;

  std::vector<Entry> entries_;
  std::unordered_map<const uint8_t*, size_t> by_data_;  // model tensor data -> entry
};

}  // namespace trellis
