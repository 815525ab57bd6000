// Binding a GGUF file's metadata and tensors to a Model.
#include <cmath>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/model.h"

namespace trellis {

namespace {

RopeScaling read_gguf_rope_scaling(const GgufFile& f, const std::string& p) {
  RopeScaling rs;
  const std::string type = f.get_string(p + ".rope.scaling.type", "");
  const double factor = f.get_float(p + ".rope.scaling.factor", f.get_float(p + ".rope.scale_linear", 0.0));
  if (type == "linear" || (type.empty() && factor > 0.0 && factor != 1.0)) {
    rs.kind = RopeScaling::Kind::Linear;
    rs.factor = static_cast<float>(factor);
  } else if (!type.empty() && type != "none") {
    fail(f.path(), ": RoPE scaling type '", type, "' is not supported (linear, or llama3 via rope_freqs)");
  }
  return rs;
}

}  // namespace

void Model::load_gguf(const std::string& path) {
  format_ = ModelFormat::Gguf;
  gguf_ = GgufFile::open(path);
  const GgufFile& f = *gguf_;
  const std::string general_type = f.get_string("general.type", "model");
  if (general_type == "adapter") fail(path, ": this is a LoRA adapter, not a model (use --lora)");
  if (!f.has("general.architecture")) fail(path, ": missing general.architecture (is it a vocab-only file?)");
  const std::string arch = f.get_string("general.architecture");
  arch_ = find_arch_by_gguf_name(arch);
  if (!arch_) fail(path, ": architecture '", arch, "' is not supported");
  rope_style_ = arch_->gguf_rope_style;

  const std::string& p = arch;
  if (const GgufValue* v = f.find(p + ".attention.head_count"); v && v->type == GgufType::ARRAY) {
    fail(path, ": per-layer head counts are not supported");
  }
  hp_.n_embd = f.get_int(p + ".embedding_length");
  hp_.n_layer = f.get_int(p + ".block_count");
  hp_.n_head = f.get_int(p + ".attention.head_count");
  hp_.n_head_kv = f.get_int(p + ".attention.head_count_kv", hp_.n_head);
  hp_.n_ff = f.get_int(p + ".feed_forward_length");
  hp_.n_ctx_train = f.get_int(p + ".context_length", 2048);
  hp_.head_dim = f.get_int(p + ".attention.key_length", hp_.n_head > 0 ? hp_.n_embd / hp_.n_head : 0);
  hp_.rope_dim = f.get_int(p + ".rope.dimension_count", hp_.head_dim);
  hp_.rms_eps = static_cast<float>(f.get_float(p + ".attention.layer_norm_rms_epsilon", 1e-5));
  hp_.rope_theta = static_cast<float>(f.get_float(p + ".rope.freq_base", 10000.0));
  hp_.rope_scaling = read_gguf_rope_scaling(f, p);
  const TensorView* emb = f.find_tensor("token_embd.weight");
  if (!emb) fail(path, ": missing tensor 'token_embd.weight'");
  hp_.n_vocab = f.get_int(p + ".vocab_size", emb->ne[1]);
  hp_.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  hp_.validate(path);
  bind_gguf_tensors();
}

void Model::bind_gguf_tensors() {
  const GgufFile& f = *gguf_;
  auto get = [&](const std::string& name, bool required) {
    const TensorView* t = f.find_tensor(name);
    if (!t && required) fail(f.path(), ": missing tensor '", name, "'");
    TensorView v = t ? *t : TensorView{};
    if (!t) v.name = name;
    return v;
  };
  tok_embd_ = get("token_embd.weight", true);
  output_norm_ = get("output_norm.weight", true);
  output_ = hp_.tied_embeddings ? tok_embd_ : get("output.weight", true);
  layers_.resize(static_cast<size_t>(hp_.n_layer));
  for (int64_t i = 0; i < hp_.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    LayerWeights& l = layers_[static_cast<size_t>(i)];
    l.attn_norm = get(b + "attn_norm.weight", true);
    l.wq = get(b + "attn_q.weight", true);
    l.wk = get(b + "attn_k.weight", true);
    l.wv = get(b + "attn_v.weight", true);
    l.wo = get(b + "attn_output.weight", true);
    l.bq = get(b + "attn_q.bias", arch_->qkv_bias);
    l.bk = get(b + "attn_k.bias", arch_->qkv_bias);
    l.bv = get(b + "attn_v.bias", arch_->qkv_bias);
    l.q_norm = get(b + "attn_q_norm.weight", arch_->qk_norm);
    l.k_norm = get(b + "attn_k_norm.weight", arch_->qk_norm);
    l.ffn_norm = get(b + "ffn_norm.weight", true);
    l.w_gate = get(b + "ffn_gate.weight", true);
    l.w_up = get(b + "ffn_up.weight", true);
    l.w_down = get(b + "ffn_down.weight", true);
  }
  // Llama 3.1 stores its RoPE frequency adjustment as divisors of the base frequencies.
  if (const TensorView* rf = f.find_tensor("rope_freqs.weight")) {
    if (rf->type != DType::F32 || rf->ne[0] != hp_.rope_dim / 2 || rf->n_elements() != rf->ne[0]) {
      fail(f.path(), ": rope_freqs.weight must be F32 with ", hp_.rope_dim / 2, " elements");
    }
    Hparams plain = hp_;
    plain.rope_scaling = RopeScaling{};
    rope_inv_freq_ = rope_inv_freqs(plain);
    const float* div = reinterpret_cast<const float*>(rf->data);
    for (size_t i = 0; i < rope_inv_freq_.size(); ++i) {
      if (!(div[i] > 0.0f) || !std::isfinite(div[i])) fail(f.path(), ": rope_freqs.weight holds a non-positive value");
      rope_inv_freq_[i] /= div[i];
    }
  }
}

}  // namespace trellis
