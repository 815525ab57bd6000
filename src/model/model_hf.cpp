// Binding a Hugging Face checkpoint directory (config.json + safetensors) to a Model.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/safetensors.h"
#include "model/model.h"

namespace trellis {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON: ", e.what());
  }
}

int64_t int_key(const json& c, const std::string& label, const char* key, int64_t def, bool required) {
  if (!c.contains(key) || c[key].is_null()) {
    if (required) fail(label, ": missing key '", key, "'");
    return def;
  }
  if (!c[key].is_number_integer()) fail(label, ": key '", key, "' must be an integer");
  return c[key].get<int64_t>();
}

double num_key(const json& c, const std::string& label, const char* key, double def) {
  if (!c.contains(key) || c[key].is_null()) return def;
  if (!c[key].is_number()) fail(label, ": key '", key, "' must be a number");
  return c[key].get<double>();
}

RopeScaling read_hf_rope_scaling(const json& c, const std::string& label) {
  RopeScaling rs;
  if (!c.contains("rope_scaling") || c["rope_scaling"].is_null()) return rs;
  const json& r = c["rope_scaling"];
  if (!r.is_object()) fail(label, ": rope_scaling must be an object");
  std::string type;
  if (r.contains("rope_type") && r["rope_type"].is_string()) type = r["rope_type"].get<std::string>();
  else if (r.contains("type") && r["type"].is_string()) type = r["type"].get<std::string>();
  rs.factor = static_cast<float>(num_key(r, label, "factor", 1.0));
  if (type == "default" || type.empty()) {
    rs.kind = RopeScaling::Kind::None;
  } else if (type == "linear") {
    rs.kind = RopeScaling::Kind::Linear;
  } else if (type == "llama3") {
    rs.kind = RopeScaling::Kind::Llama3;
    rs.low_freq_factor = static_cast<float>(num_key(r, label, "low_freq_factor", 1.0));
    rs.high_freq_factor = static_cast<float>(num_key(r, label, "high_freq_factor", 4.0));
    rs.original_context = int_key(r, label, "original_max_position_embeddings", 8192, true);
    if (!(rs.high_freq_factor > rs.low_freq_factor)) fail(label, ": rope_scaling needs high_freq_factor > low_freq_factor");
  } else {
    fail(label, ": rope_scaling type '", type, "' is not supported (linear, llama3)");
  }
  return rs;
}

}  // namespace

void Model::load_hf(const std::string& dir) {
  format_ = ModelFormat::HuggingFace;
  hf_dir_ = dir;
  rope_style_ = RopeStyle::RotateHalf;
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(cfg_path)) fail(dir, ": not a model directory (no config.json)");
  const json c = read_json_file(cfg_path);
  if (!c.is_object()) fail(cfg_path, ": not a JSON object");
  std::string hf_arch, model_type;
  if (c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty() &&
      c["architectures"][0].is_string()) {
    hf_arch = c["architectures"][0].get<std::string>();
  }
  if (c.contains("model_type") && c["model_type"].is_string()) model_type = c["model_type"].get<std::string>();
  arch_ = find_arch_by_hf(hf_arch, model_type);
  if (!arch_) fail(cfg_path, ": architecture '", hf_arch, "' (model_type '", model_type, "') is not supported");

  hp_.n_embd = int_key(c, cfg_path, "hidden_size", 0, true);
  hp_.n_layer = int_key(c, cfg_path, "num_hidden_layers", 0, true);
  hp_.n_head = int_key(c, cfg_path, "num_attention_heads", 0, true);
  hp_.n_head_kv = int_key(c, cfg_path, "num_key_value_heads", hp_.n_head, false);
  hp_.n_ff = int_key(c, cfg_path, "intermediate_size", 0, true);
  hp_.n_vocab = int_key(c, cfg_path, "vocab_size", 0, true);
  hp_.n_ctx_train = int_key(c, cfg_path, "max_position_embeddings", 2048, false);
  hp_.head_dim = int_key(c, cfg_path, "head_dim", hp_.n_head > 0 ? hp_.n_embd / hp_.n_head : 0, false);
  hp_.rope_dim = hp_.head_dim;
  hp_.rms_eps = static_cast<float>(num_key(c, cfg_path, "rms_norm_eps", 1e-6));
  hp_.rope_theta = static_cast<float>(num_key(c, cfg_path, "rope_theta", 10000.0));
  hp_.rope_scaling = read_hf_rope_scaling(c, cfg_path);
  if (c.contains("sliding_window") && c["sliding_window"].is_number_integer() &&
      c.value("use_sliding_window", model_type == "mistral") && c["sliding_window"].get<int64_t>() < hp_.n_ctx_train) {
    fail(cfg_path, ": sliding-window attention is not supported");
  }
  hf_ = SafetensorsCheckpoint::open_dir(dir);
  const bool has_lm_head = hf_->find_tensor("lm_head.weight") != nullptr;
  hp_.tied_embeddings = c.contains("tie_word_embeddings") && c["tie_word_embeddings"].is_boolean()
                            ? c["tie_word_embeddings"].get<bool>() || !has_lm_head
                            : !has_lm_head;
  hp_.validate(cfg_path);
  bind_hf_tensors();
}

void Model::bind_hf_tensors() {
  auto get = [&](const std::string& name, bool required) {
    const TensorView* t = hf_->find_tensor(name);
    if (!t && required) fail(hf_dir_, ": missing tensor '", name, "'");
    TensorView v = t ? *t : TensorView{};
    if (!t) v.name = name;
    return v;
  };
  tok_embd_ = get("model.embed_tokens.weight", true);
  output_norm_ = get("model.norm.weight", true);
  output_ = hp_.tied_embeddings ? tok_embd_ : get("lm_head.weight", true);
  layers_.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t i = 0; i < hp_.n_layer; ++i) {
    const std::string b = "model.layers." + std::to_string(i) + ".";
    LayerWeights& l = layers_[static_cast<size_t>(i)];
    l.attn_norm = get(b + "input_layernorm.weight", true);
    l.wq = get(b + "self_attn.q_proj.weight", true);
    l.wk = get(b + "self_attn.k_proj.weight", true);
    l.wv = get(b + "self_attn.v_proj.weight", true);
    l.wo = get(b + "self_attn.o_proj.weight", true);
    l.bq = get(b + "self_attn.q_proj.bias", arch_->qkv_bias);
    l.bk = get(b + "self_attn.k_proj.bias", arch_->qkv_bias);
    l.bv = get(b + "self_attn.v_proj.bias", arch_->qkv_bias);
    l.q_norm = get(b + "self_attn.q_norm.weight", arch_->qk_norm);
    l.k_norm = get(b + "self_attn.k_norm.weight", arch_->qk_norm);
    l.ffn_norm = get(b + "post_attention_layernorm.weight", true);
    l.w_gate = get(b + "mlp.gate_proj.weight", true);
    l.w_up = get(b + "mlp.up_proj.weight", true);
    l.w_down = get(b + "mlp.down_proj.weight", true);
  }
}

}  // namespace trellis
