#include "model/convert.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "model/gguf_tokenizer.h"
#include "model/model.h"

namespace trellis {

namespace {

struct SchemeEntry {
  const char* name;
  DType base;
  QuantScheme::Mix mix;
  uint32_t file_type;  // llama_ftype
};

// llama_ftype ids: plain Q4_K / Q5_K are recorded as llama.cpp's "mostly Q4_K/Q5_K" (_S) ids.
constexpr SchemeEntry kSchemes[] = {
    {"F32", DType::F32, QuantScheme::Mix::None, 0},       {"F16", DType::F16, QuantScheme::Mix::None, 1},
    {"BF16", DType::BF16, QuantScheme::Mix::None, 32},    {"Q8_0", DType::Q8_0, QuantScheme::Mix::None, 7},
    {"Q4_0", DType::Q4_0, QuantScheme::Mix::None, 2},     {"Q4_1", DType::Q4_1, QuantScheme::Mix::None, 3},
    {"Q5_0", DType::Q5_0, QuantScheme::Mix::None, 8},     {"Q5_1", DType::Q5_1, QuantScheme::Mix::None, 9},
    {"Q4_K", DType::Q4_K, QuantScheme::Mix::None, 14},    {"Q5_K", DType::Q5_K, QuantScheme::Mix::None, 16},
    {"Q6_K", DType::Q6_K, QuantScheme::Mix::None, 18},    {"IQ4_NL", DType::IQ4_NL, QuantScheme::Mix::None, 25},
    {"Q4_K_M", DType::Q4_K, QuantScheme::Mix::K_M, 15},   {"Q5_K_M", DType::Q5_K, QuantScheme::Mix::K_M, 17},
};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Layer number of a "blk.N.xxx" name, or -1.
int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  const size_t end = name.find('.', 4);
  if (end == std::string::npos) return -1;
  try {
    return std::stoll(name.substr(4, end - 4));
  } catch (const std::exception&) {
    return -1;
  }
}

int64_t block_elems(DType t) { return dtype_info(t).block_elems; }

// Rule-chosen type before the block-size fallback (see llama.cpp llama_tensor_get_type).
DType rule_type(const QuantScheme& s, const std::string& name, int64_t row_len, const ModelTraits& m) {
  const DType base = s.base;
  if (s.pure || !is_quantized(base)) return base;
  const int64_t layer = layer_of(name);
  const bool k_m = s.mix == QuantScheme::Mix::K_M;
  // The output projection (or the embedding that doubles as it) is the most sensitive
  // matrix: llama.cpp keeps it at Q6_K, or Q8_0 when rows do not fit the base blocks.
  if (name == "output.weight" || (!m.has_output && name == "token_embd.weight")) {
    if (row_len % block_elems(base) != 0) return DType::Q8_0;
    return base == DType::Q8_0 ? base : DType::Q6_K;
  }
  if (contains(name, "attn_v.weight")) {
    if (base == DType::IQ4_NL && m.n_gqa >= 4) return DType::Q5_K;
    if (k_m && use_more_bits(layer, m.n_layer)) return DType::Q6_K;
    return base;
  }
  if (contains(name, "ffn_down")) {
    if (k_m && use_more_bits(layer, m.n_layer)) return DType::Q6_K;
    if (base == DType::IQ4_NL && layer < m.n_layer / 8) return DType::Q5_K;
    return base;
  }
  return base;
}

// Splits `rows` into chunks of about 64K elements, with enough chunks to keep the pool busy.
int64_t rows_per_chunk(int64_t rows, int64_t row_len, int threads) {
  const int64_t by_size = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, row_len));
  const int64_t by_balance = std::max<int64_t>(1, (rows + 4 * threads - 1) / (4 * threads));
  return std::min(by_size, by_balance);
}

void quantize_tensor(const TensorPlan& t, uint8_t* dst, size_t nbytes, ThreadPool& pool) {
  const int64_t ne0 = t.ne[0], rows = t.n_rows();
  const size_t rb = row_bytes(t.choice.type, ne0);
  if (rb * static_cast<size_t>(rows) != nbytes) fail(t.name, ": internal size mismatch");
  const int64_t per = rows_per_chunk(rows, ne0, pool.size());
  const int64_t chunks = (rows + per - 1) / per;
  pool.parallel_for(chunks, [&](int64_t c, int) {
    std::vector<float> buf(static_cast<size_t>(ne0));
    for (int64_t r = c * per; r < std::min(rows, (c + 1) * per); ++r) {
      t.rows(r, buf.data());
      quantize_row(t.choice.type, buf.data(), dst + static_cast<size_t>(r) * rb, ne0);
    }
  });
}

// Rows of a stored tensor as floats; with permute_heads > 0, HF Q/K rows reordered for
// interleaved RoPE.
RowSource view_rows(const TensorView& v, int64_t permute_heads) {
  if (!can_dequantize(v.type)) fail(v.name, ": tensor type ", dtype_name(v.type), " cannot be converted");
  const int64_t rows = v.rows();
  if (permute_heads > 0 && (rows % permute_heads != 0 || (rows / permute_heads) % 2 != 0)) {
    fail(v.name, ": ", rows, " rows do not split into ", permute_heads, " heads of even size");
  }
  return [v, permute_heads, rows](int64_t r, float* dst) {
    const int64_t src = permute_heads > 0 ? hf_row_for_interleaved(r, rows, permute_heads) : r;
    dequantize_row(v.type, v.row(src), dst, v.ne[0]);
  };
}

// A 1-D tensor's values (stored as one row), e.g. rope_freqs.
RowSource constant_rows(std::vector<float> values) {
  return [values = std::move(values)](int64_t, float* dst) { std::copy(values.begin(), values.end(), dst); };
}

class PlanBuilder {
 public:
  PlanBuilder(ConvertPlan& plan, const QuantScheme& s, const ModelTraits& m, const TensorSubstitute& sub)
      : plan_(plan), scheme_(s), traits_(m), substitute_(sub) {}

  void add(const std::string& name, const std::array<int64_t, 4>& ne, int n_dims, RowSource rows) {
    TensorPlan t;
    t.name = name;
    t.ne = ne;
    t.n_dims = std::max(1, n_dims);
    t.choice = choose_tensor_type(scheme_, name, ne, t.n_dims, traits_);
    t.rows = std::move(rows);
    plan_.tensors.push_back(std::move(t));
  }
  void add_view(const std::string& name, const TensorView& v, int64_t permute_heads = 0) {
    if (!v.valid()) return;
    const TensorView& src = substitute_ ? substitute_(v) : v;
    if (src.ne != v.ne) fail(name, ": substitute tensor has shape ", src.shape_string(), ", not ", v.shape_string());
    add(name, v.ne, v.n_dims, view_rows(src, permute_heads));
  }

 private:
  ConvertPlan& plan_;
  const QuantScheme& scheme_;
  ModelTraits traits_;
  const TensorSubstitute& substitute_;
};

ModelTraits traits_of(const Hparams& hp, bool has_output) {
  return ModelTraits{hp.n_layer, hp.n_head_kv > 0 ? hp.n_head / hp.n_head_kv : 1, has_output};
}

ConvertPlan plan_from_hf(const Model& model, const QuantScheme& scheme, const TensorSubstitute& sub) {
  const Hparams& hp = model.hparams();
  const ArchSpec& arch = model.arch();
  ConvertPlan plan;
  // "dir/" has an empty file name: name the model after the directory itself.
  std::string name = model.name();
  if (name.empty()) name = std::filesystem::path(model.path()).parent_path().filename().string();
  set_model_metadata(plan.metadata, arch, hp, name, scheme);
  if (auto warning = add_tokenizer_metadata(plan.metadata, model)) plan.warnings.push_back(*warning);
  PlanBuilder b(plan, scheme, traits_of(hp, !hp.tied_embeddings), sub);
  if (hp.rope_scaling.kind == RopeScaling::Kind::Llama3) {
    std::vector<float> div = llama3_rope_freq_divisors(hp);
    const int64_t n = static_cast<int64_t>(div.size());
    b.add("rope_freqs.weight", {n, 1, 1, 1}, 1, constant_rows(std::move(div)));
  }
  b.add_view("token_embd.weight", model.tok_embd());
  b.add_view("output_norm.weight", model.output_norm());
  if (!hp.tied_embeddings) b.add_view("output.weight", model.output());
  const int64_t q_perm = arch.gguf_permutes_qk ? hp.n_head : 0;
  const int64_t k_perm = arch.gguf_permutes_qk ? hp.n_head_kv : 0;
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const LayerWeights& l = model.layer(i);
    const std::string p = "blk." + std::to_string(i) + ".";
    b.add_view(p + "attn_norm.weight", l.attn_norm);
    b.add_view(p + "attn_q.weight", l.wq, q_perm);
    b.add_view(p + "attn_k.weight", l.wk, k_perm);
    b.add_view(p + "attn_v.weight", l.wv);
    b.add_view(p + "attn_output.weight", l.wo);
    b.add_view(p + "attn_q.bias", l.bq, q_perm);
    b.add_view(p + "attn_k.bias", l.bk, k_perm);
    b.add_view(p + "attn_v.bias", l.bv);
    b.add_view(p + "attn_q_norm.weight", l.q_norm);
    b.add_view(p + "attn_k_norm.weight", l.k_norm);
    b.add_view(p + "ffn_norm.weight", l.ffn_norm);
    b.add_view(p + "ffn_gate.weight", l.w_gate);
    b.add_view(p + "ffn_up.weight", l.w_up);
    b.add_view(p + "ffn_down.weight", l.w_down);
  }
  return plan;
}

ConvertPlan plan_from_gguf(const Model& model, const QuantScheme& scheme, const TensorSubstitute& sub) {
  const GgufFile& f = *model.gguf();
  ConvertPlan plan;
  for (const std::string& key : f.key_order()) plan.metadata.set_value(key, f.metadata().at(key));
  plan.metadata.set_u32("general.file_type", scheme.file_type);
  plan.metadata.set_u32("general.quantization_version", 2);
  if (!f.has("tokenizer.ggml.model") && model.tokenizer()) {
    if (auto warning = add_tokenizer_metadata(plan.metadata, model)) plan.warnings.push_back(*warning);
  }
  PlanBuilder b(plan, scheme, traits_of(model.hparams(), f.find_tensor("output.weight") != nullptr), sub);
  for (const GgufTensorInfo& t : f.tensors()) b.add_view(t.view.name, t.view);
  return plan;
}

}  // namespace

QuantScheme parse_quant_scheme(const std::string& name) {
  const std::string u = upper(name);
  for (const SchemeEntry& e : kSchemes) {
    if (u == e.name) return QuantScheme{e.name, e.base, e.mix, e.file_type, false};
  }
  std::string list;
  for (const std::string& n : quant_scheme_names()) list += (list.empty() ? "" : ", ") + n;
  fail("unknown quantization type '", name, "' (one of: ", list, ")");
}

std::vector<std::string> quant_scheme_names() {
  std::vector<std::string> names;
  for (const SchemeEntry& e : kSchemes) names.emplace_back(e.name);
  return names;
}

bool use_more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

DType fallback_type(DType wanted, int64_t row_len) {
  if (row_len % block_elems(wanted) == 0) return wanted;
  DType alt = DType::F16;
  switch (wanted) {
    case DType::Q4_K: alt = DType::Q5_0; break;
    case DType::Q5_K: alt = DType::Q5_1; break;
    case DType::Q6_K: alt = DType::Q8_0; break;
    case DType::IQ4_NL: alt = DType::Q5_0; break;
    default: break;
  }
  return row_len % block_elems(alt) == 0 ? alt : DType::F16;
}

TypeChoice choose_tensor_type(const QuantScheme& s, const std::string& name, const std::array<int64_t, 4>& ne,
                              int n_dims, const ModelTraits& traits) {
  // Vectors (norms, biases, rope_freqs) are tiny and precision-critical: always F32.
  if (n_dims < 2 || ends_with(name, "_norm.weight")) return {DType::F32, DType::F32};
  const DType wanted = rule_type(s, name, ne[0], traits);
  return {wanted, fallback_type(wanted, ne[0])};
}

int64_t hf_row_for_interleaved(int64_t dst_row, int64_t n_rows, int64_t n_head) {
  const int64_t head_dim = n_rows / n_head, half = head_dim / 2;
  const int64_t h = dst_row / head_dim, w = dst_row % head_dim;
  // GGUF row (h, i, j) with w = 2i + j holds HF row (h, j, i): pair partners become adjacent.
  return h * head_dim + (w % 2) * half + w / 2;
}

std::vector<float> llama3_rope_freq_divisors(const Hparams& hp) {
  const RopeScaling& rs = hp.rope_scaling;
  const double low_wavelen = rs.original_context / rs.low_freq_factor;
  const double high_wavelen = rs.original_context / rs.high_freq_factor;
  std::vector<float> div;
  for (int64_t i = 0; i < hp.rope_dim; i += 2) {
    const float freq = 1.0f / std::pow(hp.rope_theta, static_cast<float>(i) / static_cast<float>(hp.rope_dim));
    const double wavelen = 2.0 * M_PI / freq;
    if (wavelen < high_wavelen) {
      div.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      div.push_back(rs.factor);
    } else {
      const double smooth = (rs.original_context / wavelen - rs.low_freq_factor) /
                            (rs.high_freq_factor - rs.low_freq_factor);
      div.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / rs.factor + smooth)));
    }
  }
  return div;
}

void set_model_metadata(GgufWriter& w, const ArchSpec& arch, const Hparams& hp, const std::string& name,
                        const QuantScheme& scheme) {
  const std::string p = arch.gguf_name;
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.set_string("general.architecture", p);
  w.set_string("general.name", name);
  w.set_u32("general.file_type", scheme.file_type);
  w.set_u32("general.quantization_version", 2);
  w.set_u32(p + ".vocab_size", u32(hp.n_vocab));
  w.set_u32(p + ".context_length", u32(hp.n_ctx_train));
  w.set_u32(p + ".embedding_length", u32(hp.n_embd));
  w.set_u32(p + ".feed_forward_length", u32(hp.n_ff));
  w.set_u32(p + ".block_count", u32(hp.n_layer));
  w.set_u32(p + ".attention.head_count", u32(hp.n_head));
  w.set_u32(p + ".attention.head_count_kv", u32(hp.n_head_kv));
  w.set_f32(p + ".attention.layer_norm_rms_epsilon", hp.rms_eps);
  w.set_f32(p + ".rope.freq_base", hp.rope_theta);
  w.set_u32(p + ".rope.dimension_count", u32(hp.rope_dim));
  if (hp.n_embd % hp.n_head != 0 || hp.head_dim != hp.n_embd / hp.n_head) {
    w.set_u32(p + ".attention.key_length", u32(hp.head_dim));
    w.set_u32(p + ".attention.value_length", u32(hp.head_dim));
  }
  if (hp.rope_scaling.kind == RopeScaling::Kind::Linear) {
    w.set_string(p + ".rope.scaling.type", "linear");
    w.set_f32(p + ".rope.scaling.factor", hp.rope_scaling.factor);
  }
  // Llama 3 scaling travels as the rope_freqs.weight tensor instead (as llama.cpp does).
}

ConvertPlan plan_conversion(const Model& model, const QuantScheme& scheme, const TensorSubstitute& substitute) {
  return model.format() == ModelFormat::Gguf ? plan_from_gguf(model, scheme, substitute)
                                             : plan_from_hf(model, scheme, substitute);
}

std::vector<FallbackSummary> summarize_fallbacks(const ConvertPlan& plan) {
  std::vector<FallbackSummary> out;
  for (const TensorPlan& t : plan.tensors) {
    if (!t.choice.fallback()) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const FallbackSummary& f) { return f.wanted == t.choice.wanted && f.type == t.choice.type; });
    if (it == out.end()) {
      FallbackSummary f{t.choice.wanted, t.choice.type, 0, {}, {}};
      it = out.insert(out.end(), std::move(f));
    }
    ++it->count;
    if (std::find(it->row_lengths.begin(), it->row_lengths.end(), t.ne[0]) == it->row_lengths.end()) {
      it->row_lengths.push_back(t.ne[0]);
    }
    if (it->examples.size() < 3) it->examples.push_back(t.name);
  }
  return out;
}

std::string type_counts(const ConvertPlan& plan) {
  std::map<uint32_t, int> counts;
  for (const TensorPlan& t : plan.tensors) ++counts[static_cast<uint32_t>(t.choice.type)];
  std::string s;
  for (const auto& [id, n] : counts) s += cat(s.empty() ? "" : ", ", dtype_name(static_cast<DType>(id)), " ", n);
  return s;
}

void write_plan(const ConvertPlan& plan, const std::string& path, ThreadPool& pool,
                const GgufWriter::Progress& progress) {
  GgufWriter w = plan.metadata;
  for (const TensorPlan& t : plan.tensors) {
    w.add_tensor_generated(t.name, t.choice.type, t.ne, t.n_dims,
                           [&t, &pool](uint8_t* dst, size_t nbytes) { quantize_tensor(t, dst, nbytes, pool); });
  }
  w.write(path, progress);
}

}  // namespace trellis
