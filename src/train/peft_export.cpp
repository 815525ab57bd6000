#include "train/peft_export.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/safetensors_writer.h"

namespace trellis {

namespace {

const char* hf_suffix(Projection p) {
  static const char* names[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return names[static_cast<int>(p)];
}

// B rows [out, r] from interleaved (GGUF llama) to rotate-half order within each head:
// rotate-half row j*half + i sits at interleaved row 2i + j.
std::vector<float> b_rows_to_hf(const float* b, int64_t out, int64_t rank, int64_t head_dim) {
  std::vector<float> dst(static_cast<size_t>(out * rank));
  const int64_t half = head_dim / 2;
  for (int64_t row = 0; row < out; ++row) {
    const int64_t head = row / head_dim, r = row % head_dim;
    const int64_t src = head * head_dim + 2 * (r % half) + r / half;
    std::copy(b + src * rank, b + (src + 1) * rank, dst.begin() + row * rank);
  }
  return dst;
}

std::vector<uint8_t> bytes_of(const float* p, int64_t n) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n * static_cast<int64_t>(sizeof(float)));
}

}  // namespace

std::string peft_module_name(int64_t layer, Projection p) {
  const bool attn = p == Projection::Q || p == Projection::K || p == Projection::V || p == Projection::O;
  return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + hf_suffix(p);
}

void write_peft_adapter(const LoraParams& params, const Model& base, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create the adapter directory (", ec.message(), ")");
  const LoraSpec& spec = params.spec();
  const bool permuted = base.format() == ModelFormat::Gguf && base.rope_style() == RopeStyle::Interleaved;
  SafetensorsWriter st;
  st.set_metadata("format", "pt");
  for (const LoraSlot& s : params.slots()) {
    const std::string prefix = "base_model.model." + peft_module_name(s.layer, s.proj);
    const float* a = params.values.data() + s.a_offset;
    const float* b = params.values.data() + s.b_offset;
    st.add_tensor_owned(prefix + ".lora_A.weight", DType::F32, SafetensorsShape::row_major({spec.rank, s.in}),
                        bytes_of(a, spec.rank * s.in));
    std::vector<float> bh(b, b + s.out * spec.rank);
    if (permuted && (s.proj == Projection::Q || s.proj == Projection::K)) {
      bh = b_rows_to_hf(b, s.out, spec.rank, base.hparams().head_dim);
    }
    st.add_tensor_owned(prefix + ".lora_B.weight", DType::F32, SafetensorsShape::row_major({s.out, spec.rank}),
                        bytes_of(bh.data(), s.out * spec.rank));
  }
  st.write(dir + "/adapter_model.safetensors");
  nlohmann::ordered_json cfg;
  cfg["peft_type"] = "LORA";
  cfg["task_type"] = "CAUSAL_LM";
  cfg["base_model_name_or_path"] = base.name();
  cfg["r"] = spec.rank;
  cfg["lora_alpha"] = spec.alpha;
  cfg["lora_dropout"] = spec.dropout;
  cfg["use_rslora"] = spec.rslora;
  nlohmann::ordered_json targets = nlohmann::ordered_json::array();
  for (int p = 0; p < kNumProjections; ++p) {
    if (spec.targets[p]) targets.push_back(hf_suffix(static_cast<Projection>(p)));
  }
  cfg["target_modules"] = targets;
  cfg["bias"] = "none";
  cfg["fan_in_fan_out"] = false;
  cfg["inference_mode"] = true;
  cfg["init_lora_weights"] = true;
  cfg["modules_to_save"] = nullptr;
  const std::string text = cfg.dump(2) + "\n";
  write_file_atomic(dir + "/adapter_config.json", text.data(), text.size());
}

}  // namespace trellis
