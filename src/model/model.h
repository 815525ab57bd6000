// An immutable, shareable model: hyper-parameters and weight views (memory-mapped; for
// inference also an interleaved copy of the matrices the decode kernels want, which then
// replaces the mapped pages), the architecture it belongs to, and its tokenizer when the
// file carries one.
// Per-sequence state (KV cache, sampler, position) lives in Session, not here.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/arch.h"
#include "model/hparams.h"

namespace trellis {

class GgufFile;
class DecodeWeights;
class SafetensorsCheckpoint;
class Tokenizer;

struct LayerWeights {
  TensorView attn_norm;            // [n_embd]
  TensorView wq, wk, wv, wo;       // [n_embd -> q_dim], [n_embd -> kv_dim] x2, [q_dim -> n_embd]
  TensorView bq, bk, bv;           // biases (qwen2), else invalid
  TensorView q_norm, k_norm;       // [head_dim] (qwen3), else invalid
  TensorView ffn_norm;             // [n_embd]
  TensorView w_gate, w_up, w_down; // [n_embd -> n_ff] x2, [n_ff -> n_embd]
};

enum class ModelFormat { Gguf, HuggingFace };

// The linear projections a LoRA adapter can target, in a fixed order.
enum class Projection { Q = 0, K, V, O, Gate, Up, Down };
constexpr int kNumProjections = 7;
const char* projection_name(Projection p);  // "q", "k", ... as used by --targets

struct ModelLoadOptions {
  // Also copy the weight matrices into huge-page memory, interleaved where the decode kernels
  // of the active instruction set read them faster that way (model/decode_weights.h): for
  // generation, serving and benchmarks; not for tools that only read or rewrite the weights.
  bool decode_copies = false;
};

class Model {
 public:
  using Progress = std::function<void(double fraction)>;

  // Loads a GGUF file or a Hugging Face directory (config.json + safetensors), detected from
  // the path. Throws Error naming the file and the problem. The tokenizer is loaded from the
  // model itself, or from `tokenizer_path` when given (a GGUF or a tokenizer directory).
  static std::unique_ptr<Model> load(const std::string& path, const std::string& tokenizer_path = "",
                                     const Progress& progress = {}, const ModelLoadOptions& options = {});
  ~Model();

  const std::string& path() const { return path_; }
  ModelFormat format() const { return format_; }
  const ArchSpec& arch() const { return *arch_; }
  const Hparams& hparams() const { return hp_; }
  RopeStyle rope_style() const { return rope_style_; }
  const std::vector<float>& rope_inv_freq() const { return rope_inv_freq_; }

  const TensorView& tok_embd() const { return tok_embd_; }
  const TensorView& output_norm() const { return output_norm_; }
  const TensorView& output() const { return output_; }  // tok_embd when tied
  const LayerWeights& layer(int64_t i) const { return layers_[static_cast<size_t>(i)]; }
  const TensorView& projection(int64_t layer, Projection p) const;

  // Null when neither the model nor --tokenizer provides one.
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  const Tokenizer& require_tokenizer() const;
  // Non-null for GGUF models (metadata for inspect, chat template, ...).
  const GgufFile* gguf() const { return gguf_.get(); }
  const std::string& hf_dir() const { return hf_dir_; }

  int64_t n_params() const;       // elements in all weight tensors
  size_t weight_bytes() const;    // bytes of all weight tensors
  std::vector<const TensorView*> all_tensors() const;
  // Bytes of the decode copies (0 unless loaded with `decode_copies`), and of those the
  // interleaved ones.
  size_t decode_copy_bytes() const;
  size_t interleaved_bytes() const;
  std::string name() const;       // general.name, or the directory/file name

 private:
  Model() = default;
  void load_gguf(const std::string& path);
  void load_hf(const std::string& dir);
  void bind_gguf_tensors();
  void bind_hf_tensors();
  void check_shapes() const;
  void load_tokenizer(const std::string& tokenizer_path);
  // Norm weights and biases are used as F32: F16/BF16 ones (HF checkpoints) get a small
  // copy, and with copy_f32 (interleaved loads) F32 ones too, so that decode reads no file
  // page outside the matrices: a 4 KiB norm read can map a whole large folio of the file
  // (2 MiB) and undo the page release of the interleaved weights.
  void own_small_vectors_as_f32(bool copy_f32);
  void copy_weights_for_decode();

  std::vector<std::vector<float>> owned_f32_;
  std::string path_;
  ModelFormat format_ = ModelFormat::Gguf;
  const ArchSpec* arch_ = nullptr;
  Hparams hp_;
  RopeStyle rope_style_ = RopeStyle::RotateHalf;
  std::vector<float> rope_inv_freq_;
  TensorView tok_embd_, output_norm_, output_;
  std::vector<LayerWeights> layers_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<SafetensorsCheckpoint> hf_;
  std::string hf_dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<DecodeWeights> decode_weights_;
};

}  // namespace trellis
