#include "model/model.h"

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/fp16.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "model/decode_weights.h"
#include "tokenizer/tokenizer.h"

namespace trellis {
namespace fs = std::filesystem;

const char* projection_name(Projection p) {
  static const char* names[] = {"q", "k", "v", "o", "gate", "up", "down"};
  return names[static_cast<int>(p)];
}

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, const std::string& tokenizer_path,
                                   const Progress& progress, const ModelLoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  if (!fs::exists(path)) fail(path, ": no such file or directory");
  if (progress) progress(0.0);
  if (fs::is_directory(path)) {
    m->load_hf(path);
  } else {
    m->load_gguf(path);
  }
  m->check_shapes();
  m->own_small_vectors_as_f32(options.decode_copies);
  m->rope_inv_freq_ = m->rope_inv_freq_.empty() ? rope_inv_freqs(m->hp_) : m->rope_inv_freq_;
  if (options.decode_copies) m->copy_weights_for_decode();
  if (progress) progress(0.8);
  m->load_tokenizer(tokenizer_path);
  if (progress) progress(1.0);
  return m;
}

void Model::load_tokenizer(const std::string& tokenizer_path) {
  if (!tokenizer_path.empty()) {
    tokenizer_ = Tokenizer::load(tokenizer_path);
  } else if (gguf_) {
    if (gguf_->has("tokenizer.ggml.model")) tokenizer_ = Tokenizer::from_gguf(*gguf_);
  } else if (fs::exists(fs::path(hf_dir_) / "tokenizer.json") || fs::exists(fs::path(hf_dir_) / "vocab.json")) {
    tokenizer_ = Tokenizer::from_hf_dir(hf_dir_);
  }
  if (tokenizer_ && tokenizer_->n_vocab() > hp_.n_vocab) {
    fail(tokenizer_path.empty() ? path_ : tokenizer_path, ": tokenizer has ", tokenizer_->n_vocab(),
         " tokens but the model's vocabulary is ", hp_.n_vocab);
  }
}

const Tokenizer& Model::require_tokenizer() const {
  if (!tokenizer_) {
    fail(path_, ": the model has no tokenizer; pass --tokenizer with a GGUF or a tokenizer directory");
  }
  return *tokenizer_;
}

const TensorView& Model::projection(int64_t layer, Projection p) const {
  const LayerWeights& l = layers_[static_cast<size_t>(layer)];
  switch (p) {
    case Projection::Q: return l.wq;
    case Projection::K: return l.wk;
    case Projection::V: return l.wv;
    case Projection::O: return l.wo;
    case Projection::Gate: return l.w_gate;
    case Projection::Up: return l.w_up;
    case Projection::Down: return l.w_down;
  }
  return l.wq;
}

std::vector<const TensorView*> Model::all_tensors() const {
  std::vector<const TensorView*> out{&tok_embd_, &output_norm_};
  if (output_.data != tok_embd_.data) out.push_back(&output_);
  for (const auto& l : layers_) {
    for (const TensorView* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv, &l.q_norm,
                                &l.k_norm, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down}) {
      if (t->valid()) out.push_back(t);
    }
  }
  return out;
}

void Model::copy_weights_for_decode() {
  std::vector<TensorView*> matrices{&tok_embd_, &output_};
  for (auto& l : layers_) {
    for (TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) matrices.push_back(t);
  }
  decode_weights_ = std::make_unique<DecodeWeights>(matrices, active_isa());
}

size_t Model::decode_copy_bytes() const { return decode_weights_ ? decode_weights_->bytes() : 0; }
size_t Model::interleaved_bytes() const { return decode_weights_ ? decode_weights_->interleaved_bytes() : 0; }

int64_t Model::n_params() const {
  int64_t n = 0;
  for (const TensorView* t : all_tensors()) n += t->n_elements();
  return n;
}

size_t Model::weight_bytes() const {
  size_t n = 0;
  for (const TensorView* t : all_tensors()) n += t->nbytes;
  return n;
}

std::string Model::name() const {
  if (gguf_) {
    const std::string n = gguf_->get_string("general.name", "");
    if (!n.empty()) return n;
  }
  return fs::path(path_).filename().string();
}

void Model::own_small_vectors_as_f32(bool copy_f32) {
  auto convert = [&](TensorView& t) {
    if (!t.valid() || (t.type == DType::F32 && !copy_f32)) return;
    std::vector<float> v(static_cast<size_t>(t.n_elements()));
    if (t.type == DType::F32) std::memcpy(v.data(), t.data, v.size() * sizeof(float));
    for (size_t i = 0; t.type != DType::F32 && i < v.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      v[i] = t.type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
    }
    owned_f32_.push_back(std::move(v));
    t.type = DType::F32;
    t.data = reinterpret_cast<const uint8_t*>(owned_f32_.back().data());
    t.nbytes = owned_f32_.back().size() * sizeof(float);
  };
  owned_f32_.reserve(layers_.size() * 7 + 1);
  for (TensorView* t : {&output_norm_}) {
    if (t->type != DType::F32 && t->type != DType::F16 && t->type != DType::BF16) {
      fail(path_, ": tensor '", t->name, "' must be F32, F16 or BF16");
    }
    convert(*t);
  }
  for (auto& l : layers_) {
    for (TensorView* t : {&l.attn_norm, &l.ffn_norm, &l.q_norm, &l.k_norm, &l.bq, &l.bk, &l.bv}) {
      if (t->valid() && t->type != DType::F32 && t->type != DType::F16 && t->type != DType::BF16) {
        fail(path_, ": tensor '", t->name, "' must be F32, F16 or BF16");
      }
      convert(*t);
    }
  }
}

namespace {

void expect_shape(const std::string& label, const TensorView& t, int64_t ne0, int64_t ne1) {
  if (!t.valid()) fail(label, ": missing tensor for ", t.name);
  if (t.ne[0] != ne0 || t.ne[1] != ne1 || t.ne[2] != 1 || t.ne[3] != 1) {
    fail(label, ": tensor '", t.name, "' has shape ", t.shape_string(), ", expected [", ne0,
         ne1 > 1 ? cat(", ", ne1) : std::string(), "]");
  }
  const DTypeInfo& info = dtype_info(t.type);
  if (!info.supported) fail(label, ": tensor '", t.name, "' has type ", info.name, ", which Trellis cannot compute with");
}

}  // namespace

void Model::check_shapes() const {
  const Hparams& h = hp_;
  expect_shape(path_, tok_embd_, h.n_embd, h.n_vocab);
  expect_shape(path_, output_norm_, h.n_embd, 1);
  expect_shape(path_, output_, h.n_embd, h.n_vocab);
  for (const auto& l : layers_) {
    expect_shape(path_, l.attn_norm, h.n_embd, 1);
    expect_shape(path_, l.wq, h.n_embd, h.q_dim());
    expect_shape(path_, l.wk, h.n_embd, h.kv_dim());
    expect_shape(path_, l.wv, h.n_embd, h.kv_dim());
    expect_shape(path_, l.wo, h.q_dim(), h.n_embd);
    if (arch_->qkv_bias) {
      expect_shape(path_, l.bq, h.q_dim(), 1);
      expect_shape(path_, l.bk, h.kv_dim(), 1);
      expect_shape(path_, l.bv, h.kv_dim(), 1);
    }
    if (arch_->qk_norm) {
      expect_shape(path_, l.q_norm, h.head_dim, 1);
      expect_shape(path_, l.k_norm, h.head_dim, 1);
    }
    expect_shape(path_, l.ffn_norm, h.n_embd, 1);
    expect_shape(path_, l.w_gate, h.n_embd, h.n_ff);
    expect_shape(path_, l.w_up, h.n_embd, h.n_ff);
    expect_shape(path_, l.w_down, h.n_ff, h.n_embd);
  }
}

}  // namespace trellis
