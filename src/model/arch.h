// Model families described as data: how to read hyper-parameters, which optional tensors
// exist, and how RoPE pairs dimensions. Adding a family is one small arch_<name>.cpp file
// returning an ArchSpec, plus one line in arch.cpp's list.
#pragma once
#include <string>
#include <vector>

namespace trellis {

// Which dimensions RoPE rotates together within a head of size d.
enum class RopeStyle {
  Interleaved,  // pairs (2i, 2i+1): llama-architecture GGUF files (Q/K rows are stored permuted)
  RotateHalf,   // pairs (i, i + d/2): Hugging Face checkpoints, and qwen2/qwen3 GGUF files
};

struct ArchSpec {
  std::string gguf_name;                    // general.architecture value, also the key prefix
  std::vector<std::string> hf_architectures;  // config.json "architectures" entries
  std::vector<std::string> hf_model_types;    // config.json "model_type" values
  bool qkv_bias = false;                    // q/k/v projections carry biases (qwen2)
  bool qk_norm = false;                     // per-head RMSNorm on q and k before RoPE (qwen3)
  RopeStyle gguf_rope_style = RopeStyle::RotateHalf;
  // GGUF files of this family store Q/K rows permuted for interleaved RoPE; converting from
  // a Hugging Face checkpoint must apply the same permutation (and LoRA B rows of q/k too).
  bool gguf_permutes_qk = false;
};

// Registry lookups; return nullptr when unknown.
const ArchSpec* find_arch_by_gguf_name(const std::string& name);
const ArchSpec* find_arch_by_hf(const std::string& architecture, const std::string& model_type);
std::vector<std::string> known_arch_names();

// One function per family, each in its own arch_<name>.cpp; arch.cpp lists them.
const ArchSpec& llama_arch();
const ArchSpec& qwen2_arch();
const ArchSpec& qwen3_arch();

}  // namespace trellis
