#include "lora/merge.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/quant.h"
#include "formats/gguf.h"
#include "kernels/matmul.h"
#include "lora/qk_permute.h"
#include "model/gguf_tokenizer.h"

namespace trellis {
namespace {

// One output tensor: where its rows come from, and what is added to them.
struct TensorPlan {
  std::string name;
  const TensorView* src = nullptr;
  std::optional<ProjectionRef> proj;  // set for the seven adaptable projections
  RopeStyle from = RopeStyle::RotateHalf, to = RopeStyle::RotateHalf;  // row reordering (q/k)
  int64_t head_dim = 0;
};

struct Delta {
  const LoraTarget* t;
  float scale;  // user scale · adapter scale
};

DType choose_type(const TensorView& src, bool changed, const MergeOptions& opt, std::vector<std::string>& notes) {
  if (src.n_dims < 2) return src.type;  // norms, biases: untouched
  DType want = opt.type.value_or(src.type);
  if (!opt.type && !changed) return src.type;
  const DTypeInfo& info = dtype_info(want);
  if (!can_quantize(want) || src.ne[0] % info.block_elems != 0) {
    const DType fallback = src.type == DType::F32 || src.type == DType::BF16 ? src.type : DType::F16;
    notes.push_back(cat(src.name, ": rows of ", src.ne[0], " do not fit ", info.name, "; written as ", dtype_name(fallback)));
    want = fallback;
  }
  return want;
}

void merged_row(const TensorPlan& p, const std::vector<Delta>& deltas, int64_t dst_row, float* row) {
  const int64_t src_row = qk_source_row(dst_row, p.head_dim > 0 ? p.head_dim : 1, p.from, p.to);
  dequantize_tensor_row(*p.src, src_row, row);
  const int64_t in = p.src->ne[0];
  for (const Delta& d : deltas) {
    const float* b = d.t->b_row(src_row);
    for (int64_t j = 0; j < d.t->rank; ++j) {
      const float c = d.scale * b[j];
      const float* a = d.t->a_row(j);
      for (int64_t i = 0; i < in; ++i) row[i] += c * a[i];
    }
  }
}

void add_planned(const TensorPlan& p, const AdapterSet& set, const MergeOptions& opt, GgufWriter& out,
                 std::vector<std::string>& notes) {
  std::vector<Delta> deltas;
  if (p.proj) {
    for (const AdapterSet::Entry& e : set.entries()) {
      if (const LoraTarget* t = e.adapter->find(p.proj->layer, p.proj->proj); t && e.scale != 0.0f) {
        deltas.push_back({t, e.scale * t->scale});
      }
    }
  }
  const bool permuted = p.from != p.to;
  const DType type = choose_type(*p.src, !deltas.empty() || permuted, opt, notes);
  if (deltas.empty() && !permuted && type == p.src->type) {
    out.add_tensor(p.name, p.src->type, p.src->ne, p.src->n_dims, p.src->data);
    return;
  }
  const TensorView* src = p.src;
  out.add_tensor_generated(p.name, type, src->ne, src->n_dims, [p, deltas, type](uint8_t* dst, size_t) {
    const int64_t in = p.src->ne[0];
    const size_t rb = row_bytes(type, in);
    std::vector<float> row(static_cast<size_t>(in));
    for (int64_t r = 0; r < p.src->rows(); ++r) {
      merged_row(p, deltas, r, row.data());
      quantize_row(type, row.data(), dst + static_cast<size_t>(r) * rb, in);
    }
  });
}

void copy_gguf_metadata(const GgufFile& f, GgufWriter& out) {
  for (const std::string& k : f.key_order()) {
    if (k == "general.alignment" || k == "general.file_type") continue;  // the writer's own / no longer true
    out.set_value(k, *f.find(k));
  }
}

std::vector<TensorPlan> plan_gguf(const Model& base) {
  std::vector<TensorPlan> plans;
  for (const GgufTensorInfo& ti : base.gguf()->tensors()) {
    TensorPlan p;
    p.name = ti.view.name;
    p.src = &ti.view;
    p.proj = parse_gguf_tensor_name(p.name);
    plans.push_back(p);
  }
  return plans;
}

void hf_metadata(const Model& base, GgufWriter& out, std::vector<float>& rope_freqs) {
  const Hparams& h = base.hparams();
  const std::string a = base.arch().gguf_name;
  out.set_string("general.architecture", a);
  out.set_string("general.name", base.name());
  out.set_u32(a + ".vocab_size", static_cast<uint32_t>(h.n_vocab));
  out.set_u32(a + ".context_length", static_cast<uint32_t>(h.n_ctx_train));
  out.set_u32(a + ".embedding_length", static_cast<uint32_t>(h.n_embd));
  out.set_u32(a + ".block_count", static_cast<uint32_t>(h.n_layer));
  out.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(h.n_ff));
  out.set_u32(a + ".attention.head_count", static_cast<uint32_t>(h.n_head));
  out.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(h.n_head_kv));
  out.set_u32(a + ".attention.key_length", static_cast<uint32_t>(h.head_dim));
  out.set_u32(a + ".attention.value_length", static_cast<uint32_t>(h.head_dim));
  out.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(h.rope_dim));
  out.set_f32(a + ".rope.freq_base", h.rope_theta);
  out.set_f32(a + ".attention.layer_norm_rms_epsilon", h.rms_eps);
  if (h.rope_scaling.kind == RopeScaling::Kind::Linear) {
    out.set_string(a + ".rope.scaling.type", "linear");
    out.set_f32(a + ".rope.scaling.factor", h.rope_scaling.factor);
  } else if (h.rope_scaling.kind == RopeScaling::Kind::Llama3) {
    // GGUF carries Llama 3 scaling as per-frequency divisors of the plain frequencies.
    Hparams plain = h;
    plain.rope_scaling = RopeScaling{};
    const std::vector<float> f0 = rope_inv_freqs(plain);
    rope_freqs.resize(f0.size());
    for (size_t i = 0; i < f0.size(); ++i) rope_freqs[i] = f0[i] / base.rope_inv_freq()[i];
  }
}

std::vector<TensorPlan> plan_hf(const Model& base) {
  std::vector<TensorPlan> plans;
  const Hparams& h = base.hparams();
  const bool permute = base.arch().gguf_permutes_qk;
  auto add = [&](const std::string& name, const TensorView& v, std::optional<ProjectionRef> ref = {}) {
    if (!v.valid()) return;
    TensorPlan p;
    p.name = name;
    p.src = &v;
    p.proj = ref;
    if (permute && ref && (ref->proj == Projection::Q || ref->proj == Projection::K)) {
      p.to = RopeStyle::Interleaved;
      p.head_dim = h.head_dim;
    }
    plans.push_back(p);
  };
  add("token_embd.weight", base.tok_embd());
  add("output_norm.weight", base.output_norm());
  if (!h.tied_embeddings) add("output.weight", base.output());
  for (int64_t l = 0; l < h.n_layer; ++l) {
    const LayerWeights& w = base.layer(l);
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", w.attn_norm);
    for (int p = 0; p < 4; ++p) {
      const ProjectionRef r{l, static_cast<Projection>(p)};
      add(gguf_tensor_name(r), base.projection(l, r.proj), r);
    }
    add(b + "attn_q.bias", w.bq);
    add(b + "attn_k.bias", w.bk);
    add(b + "attn_v.bias", w.bv);
    add(b + "attn_q_norm.weight", w.q_norm);
    add(b + "attn_k_norm.weight", w.k_norm);
    add(b + "ffn_norm.weight", w.ffn_norm);
    for (int p = 4; p < kNumProjections; ++p) {
      const ProjectionRef r{l, static_cast<Projection>(p)};
      add(gguf_tensor_name(r), base.projection(l, r.proj), r);
    }
  }
  return plans;
}

void check_set(const Model& base, const AdapterSet& set) {
  for (const AdapterSet::Entry& e : set.entries()) {
    if (e.adapter->meta().qk_layout != base.rope_style()) {
      fail(e.adapter->meta().path, ": adapter was not loaded for this base (q/k layout differs); use LoraAdapter::load_for");
    }
    (void)e.adapter->validate_against(base);  // throws on a mismatch; warnings were shown at load
  }
}

}  // namespace

std::vector<std::string> build_merged_gguf(const Model& base, const AdapterSet& set, const MergeOptions& opt,
                                           GgufWriter& out) {
  check_set(base, set);
  std::vector<std::string> notes;
  std::vector<TensorPlan> plans;
  if (base.gguf()) {
    copy_gguf_metadata(*base.gguf(), out);
    plans = plan_gguf(base);
  } else {
    std::vector<float> freqs;
    hf_metadata(base, out, freqs);
    if (!freqs.empty()) {
      std::vector<uint8_t> bytes(freqs.size() * sizeof(float));
      std::memcpy(bytes.data(), freqs.data(), bytes.size());
      out.add_tensor_owned("rope_freqs.weight", DType::F32, {static_cast<int64_t>(freqs.size()), 1, 1, 1}, 1, std::move(bytes));
    }
    if (auto warning = add_tokenizer_metadata(out, base)) notes.push_back(*warning);
    plans = plan_hf(base);
  }
  std::vector<std::string> merged;
  for (const AdapterSet::Entry& e : set.entries()) merged.push_back(cat(e.adapter->meta().path, "@", e.scale));
  if (!merged.empty()) out.set_array_string("trellis.merged_adapters", merged);
  for (const TensorPlan& p : plans) add_planned(p, set, opt, out, notes);
  return notes;
}

std::vector<std::string> write_merged_gguf(const Model& base, const AdapterSet& set, const std::string& path,
                                           const MergeOptions& opt, GgufWriter::Progress progress) {
  GgufWriter w;
  auto notes = build_merged_gguf(base, set, opt, w);
  w.write(path, std::move(progress));
  return notes;
}

}  // namespace trellis
