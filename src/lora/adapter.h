// A LoRA adapter: for each adapted projection (layer, q/k/v/o/gate/up/down) the matrices
// A [rank, in] and B [out, rank] in F32 and the scale applied to B·A, so that the adapted
// layer computes y = W·x + scale·B·(A·x). Loaded whole or not at all (PEFT directories and
// GGUF-LoRA files), immutable afterwards, shareable between sessions.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "lora/module_names.h"
#include "model/arch.h"
#include "model/model.h"

namespace trellis {

enum class AdapterFormat { Peft, GgufLora };

struct LoraTarget {
  ProjectionRef ref;
  int64_t rank = 0, in = 0, out = 0;
  float alpha = 0.0f;          // this target's alpha (after alpha_pattern)
  float scale = 0.0f;          // alpha / rank, or alpha / sqrt(rank) with rsLoRA
  DType stored_type = DType::F32;  // element type in the source file (kept by converters)
  std::vector<float> a;        // [rank, in]: rank rows of `in` values
  std::vector<float> b;        // [out, rank]: out rows of `rank` values

  const float* a_row(int64_t j) const { return a.data() + j * in; }
  const float* b_row(int64_t o) const { return b.data() + o * rank; }
};

struct AdapterMeta {
  std::string path;
  AdapterFormat format = AdapterFormat::Peft;
  std::string arch;             // GGUF architecture name ("llama", ...); empty when the file does not say
  std::string base_model;       // base_model_name_or_path / general.base_model.0.name; may be empty
  bool rslora = false;
  // Layout of q/k B rows: RotateHalf (Hugging Face order) or Interleaved (llama GGUF order).
  RopeStyle qk_layout = RopeStyle::RotateHalf;
  std::vector<std::string> warnings;  // non-fatal findings (ignored fan_in_fan_out, ...)
};

class LoraAdapter {
 public:
  // Which projections the adapter's config says must be adapted (PEFT target_modules and
  // layers_to_transform); empty for formats that carry no such declaration.
  using Selector = std::function<bool(ProjectionRef)>;

  // Detects the format: a directory is PEFT (adapter_config.json + safetensors), a file is
  // GGUF-LoRA. Throws Error naming the file and the tensor/key at fault; never returns a
  // partly loaded adapter.
  static std::unique_ptr<LoraAdapter> load(const std::string& path);
  static std::unique_ptr<LoraAdapter> load_peft(const std::string& dir);
  static std::unique_ptr<LoraAdapter> load_gguf(const std::string& path);
  // Loads, validates against `base` (warnings appended to `warnings` when given) and brings
  // q/k rows into the base's layout: the adapter is then ready to apply to `base`.
  static std::unique_ptr<LoraAdapter> load_for(const std::string& path, const Model& base,
                                               std::vector<std::string>* warnings = nullptr);
  // Builds an adapter from parts (used by loaders, converters and tests). Sorts the targets,
  // checks shapes, finite values, ranks and scales.
  LoraAdapter(AdapterMeta meta, std::vector<LoraTarget> targets, Selector selector = {});

  // Throws Error when the adapter does not fit `base`: architecture, a target the base
  // lacks, shapes, targets the config selects but the file lacks. Returns warnings (e.g. a
  // different base model name with matching shapes).
  std::vector<std::string> validate_against(const Model& base) const;
  // Reorders q/k B rows into `layout` (needs the base's head counts).
  void convert_qk_layout(RopeStyle layout, int64_t n_head, int64_t n_head_kv, int64_t head_dim);

  const AdapterMeta& meta() const { return meta_; }
  const std::vector<LoraTarget>& targets() const { return targets_; }
  // nullptr when (layer, proj) is not adapted.
  const LoraTarget* find(int64_t layer, Projection p) const;
  // A content hash (targets, shapes, scales, values): identifies the adapter in KV-cache keys.
  uint64_t fingerprint() const { return fingerprint_; }
  int64_t n_params() const;
  int64_t max_layer() const;  // -1 when empty

 private:
  void check_target(const LoraTarget& t) const;
  void build_index();

  AdapterMeta meta_;
  std::vector<LoraTarget> targets_;
  Selector selector_;
  std::vector<int32_t> index_;  // layer * kNumProjections + proj -> position in targets_, or -1
  uint64_t fingerprint_ = 0;
};

// Scale of B·A for a PEFT-style (alpha, rank): alpha / rank, or alpha / sqrt(rank) with rsLoRA.
float lora_scale(float alpha, int64_t rank, bool rslora);

}  // namespace trellis
