// LoraAdapter::load_gguf: a GGUF-LoRA file as written by llama.cpp's convert_lora_to_gguf.py:
// general.type = adapter, adapter.type = lora, adapter.lora.alpha, and per adapted weight
// "<base tensor>.lora_a" with ne {in, rank} and "<base tensor>.lora_b" with ne {rank, out}
// (the PEFT A and B, row-major, unchanged), q/k B rows in the base GGUF's layout.
// As in llama.cpp, scale = alpha / rank per tensor, and a missing or zero alpha means 1.
#include <cmath>
#include <map>

#include "core/error.h"
#include "formats/gguf.h"
#include "lora/adapter.h"
#include "lora/tensor_f32.h"

namespace trellis {
namespace {

struct GgufPair {
  const TensorView* a = nullptr;
  const TensorView* b = nullptr;
};

void check_header(const GgufFile& f) {
  const std::string type = f.get_string("general.type", "");
  if (type != "adapter") {
    fail(f.path(), ": not a LoRA adapter (general.type is '", type.empty() ? "missing" : type, "', expected 'adapter')");
  }
  const std::string atype = f.get_string("adapter.type", "");
  if (atype != "lora") fail(f.path(), ": adapter.type is '", atype, "', expected 'lora'");
  if (!f.has("general.architecture")) fail(f.path(), ": missing general.architecture");
}

std::map<std::pair<int64_t, int>, GgufPair> collect_pairs(const GgufFile& f) {
  std::map<std::pair<int64_t, int>, GgufPair> pairs;
  for (const GgufTensorInfo& ti : f.tensors()) {
    const std::string& n = ti.view.name;
    const bool is_a = n.size() > 7 && n.compare(n.size() - 7, 7, ".lora_a") == 0;
    const bool is_b = n.size() > 7 && n.compare(n.size() - 7, 7, ".lora_b") == 0;
    if (!is_a && !is_b) fail(f.path(), ": unexpected tensor '", n, "' (not a .lora_a / .lora_b tensor)");
    const auto ref = parse_gguf_tensor_name(n.substr(0, n.size() - 7));
    if (!ref) fail(f.path(), ": tensor '", n, "' adapts a weight other than blk.N.attn_q/k/v/output or ffn_gate/up/down");
    GgufPair& p = pairs[{ref->layer, static_cast<int>(ref->proj)}];
    (is_a ? p.a : p.b) = &ti.view;
  }
  return pairs;
}

LoraTarget make_target(const GgufFile& f, ProjectionRef ref, const GgufPair& p, double alpha) {
  const std::string base = gguf_tensor_name(ref);
  if (!p.a || !p.b) fail(f.path(), ": ", base, ".lora_", p.a ? "a" : "b", " has no matching .lora_", p.a ? "b" : "a");
  if (p.a->n_dims != 2 || p.b->n_dims != 2) fail(f.path(), ": ", base, ": lora_a and lora_b must be 2-D");
  LoraTarget t;
  t.ref = ref;
  t.in = p.a->ne[0];
  t.rank = p.a->ne[1];
  t.out = p.b->ne[1];
  if (p.b->ne[0] != t.rank) {
    fail(f.path(), ": ", base, ": lora_a has rank ", t.rank, " (ne[1]) but lora_b has ", p.b->ne[0], " (ne[0])");
  }
  if (t.rank == 0) fail(f.path(), ": ", base, ": rank 0");
  t.stored_type = p.a->type == p.b->type ? p.a->type : DType::F32;
  t.alpha = alpha > 0.0 ? static_cast<float>(alpha) : static_cast<float>(t.rank);
  t.scale = lora_scale(t.alpha, t.rank, false);
  t.a = tensor_to_f32(*p.a, f.path());
  t.b = tensor_to_f32(*p.b, f.path());
  return t;
}

}  // namespace

std::unique_ptr<LoraAdapter> LoraAdapter::load_gguf(const std::string& path) {
  const auto f = GgufFile::open(path);
  check_header(*f);
  const double alpha = f->get_float("adapter.lora.alpha", 0.0);
  if (alpha < 0.0 || !std::isfinite(alpha)) fail(path, ": adapter.lora.alpha must be positive (or 0 for none), got ", alpha);
  std::vector<LoraTarget> targets;
  for (const auto& [key, p] : collect_pairs(*f)) {
    targets.push_back(make_target(*f, ProjectionRef{key.first, static_cast<Projection>(key.second)}, p, alpha));
  }
  AdapterMeta meta;
  meta.path = path;
  meta.format = AdapterFormat::GgufLora;
  meta.arch = f->get_string("general.architecture");
  meta.base_model = f->get_string("general.base_model.0.name", "");
  const ArchSpec* arch = find_arch_by_gguf_name(meta.arch);
  if (!arch) fail(path, ": architecture '", meta.arch, "' is not supported");
  meta.qk_layout = arch->gguf_rope_style;
  return std::make_unique<LoraAdapter>(std::move(meta), std::move(targets));
}

}  // namespace trellis
