// LoraAdapter::load_peft: a PEFT directory (adapter_config.json + adapter_model.safetensors,
// or its shards with adapter_model.safetensors.index.json).
#include <filesystem>
#include <map>

#include "core/error.h"
#include "formats/safetensors.h"
#include "lora/adapter.h"
#include "lora/peft_config.h"
#include "lora/tensor_f32.h"

namespace trellis {
namespace fs = std::filesystem;

namespace {

struct PeftPair {
  const TensorView* a = nullptr;
  const TensorView* b = nullptr;
  std::string file;
};

// Splits "<prefix><module>.lora_A.weight" into module and which half; fails on anything
// that is not a LoRA matrix of a supported projection.
ProjectionRef classify(const std::string& file, const std::string& tensor, bool& is_a, std::string& module) {
  std::string n = tensor;
  if (n.rfind("base_model.model.", 0) == 0) n = n.substr(17);
  static const std::string kA = ".lora_A.weight", kB = ".lora_B.weight";
  auto ends = [&](const std::string& s) { return n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0; };
  if (n.find("lora_magnitude_vector") != std::string::npos) fail(file, ": tensor '", tensor, "' is a DoRA magnitude; DoRA is not supported");
  if (n.find("lora_embedding_") != std::string::npos) fail(file, ": tensor '", tensor, "' adapts an embedding, which is not supported");
  if (!ends(kA) && !ends(kB)) fail(file, ": unexpected tensor '", tensor, "' (not a lora_A / lora_B weight)");
  is_a = ends(kA);
  module = n.substr(0, n.size() - kA.size());
  const auto ref = parse_hf_module_name(module);
  if (!ref) fail(file, ": tensor '", tensor, "' adapts module '", module, "'; only the q/k/v/o/gate/up/down projections of model.layers.N can be adapted");
  return *ref;
}

std::string file_of(const SafetensorsCheckpoint& ck, const TensorView* t) {
  for (const auto& f : ck.files()) {
    if (f->find_tensor(t->name) == t) return f->path();
  }
  return "";
}

LoraTarget make_target(const PeftConfig& cfg, const std::string& module, ProjectionRef ref, const PeftPair& p) {
  const TensorView& a = *p.a;
  const TensorView& b = *p.b;
  if (a.n_dims != 2 || b.n_dims != 2) fail(p.file, ": ", module, ": lora_A and lora_B must be 2-D");
  LoraTarget t;
  t.ref = ref;
  t.rank = a.ne[1];
  t.in = a.ne[0];
  t.out = b.ne[1];
  if (b.ne[0] != t.rank) {
    fail(p.file, ": ", module, ": lora_A has rank ", t.rank, " but lora_B has ", b.ne[0], " columns");
  }
  if (t.rank == 0) fail(p.file, ": ", module, ": rank 0");
  const int64_t want = cfg.rank_for(module);
  if (t.rank != want) fail(p.file, ": ", module, ": tensors have rank ", t.rank, " but ", cfg.path, " says ", want, " (r / rank_pattern)");
  for (const TensorView* v : {&a, &b}) {
    if (v->type != DType::F32 && v->type != DType::F16 && v->type != DType::BF16) {
      fail(p.file, ": tensor '", v->name, "' has type ", dtype_name(v->type), "; expected F32, F16 or BF16");
    }
  }
  t.stored_type = a.type == b.type ? a.type : DType::F32;
  t.alpha = static_cast<float>(cfg.alpha_for(module));
  t.scale = lora_scale(t.alpha, t.rank, cfg.use_rslora);
  t.a = tensor_to_f32(a, p.file);
  t.b = tensor_to_f32(b, p.file);
  return t;
}

std::string arch_from_class(const std::string& cls) {
  const ArchSpec* a = cls.empty() ? nullptr : find_arch_by_hf(cls, "");
  return a ? a->gguf_name : std::string();
}

}  // namespace

std::unique_ptr<LoraAdapter> LoraAdapter::load_peft(const std::string& dir) {
  const std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
  if (!fs::exists(cfg_path)) fail(dir, ": not a PEFT adapter directory (no adapter_config.json)");
  const PeftConfig cfg = PeftConfig::read(cfg_path);
  const bool has_st = fs::exists(fs::path(dir) / "adapter_model.safetensors") ||
                      fs::exists(fs::path(dir) / "adapter_model.safetensors.index.json");
  if (!has_st && fs::exists(fs::path(dir) / "adapter_model.bin")) {
    fail(dir, ": adapter_model.bin (pickle) is not supported; save the adapter as safetensors");
  }
  const auto ck = SafetensorsCheckpoint::open_dir(dir, "adapter_model");

  std::map<std::pair<int64_t, int>, PeftPair> pairs;
  std::map<std::pair<int64_t, int>, std::string> modules;
  for (const TensorView* t : ck->tensors()) {
    const std::string file = file_of(*ck, t);
    bool is_a = false;
    std::string module;
    const ProjectionRef ref = classify(file, t->name, is_a, module);
    if (cfg.has_target_declaration() && !cfg.targets(module)) {
      fail(file, ": tensor '", t->name, "' adapts ", module, ", which target_modules in ", cfg_path, " does not select");
    }
    PeftPair& p = pairs[{ref.layer, static_cast<int>(ref.proj)}];
    (is_a ? p.a : p.b) = t;
    p.file = file;
    modules[{ref.layer, static_cast<int>(ref.proj)}] = module;
  }
  std::vector<LoraTarget> targets;
  for (const auto& [key, p] : pairs) {
    const std::string& module = modules[key];
    if (!p.a || !p.b) fail(p.file, ": ", module, " has lora_", p.a ? "A" : "B", " but no lora_", p.a ? "B" : "A");
    targets.push_back(make_target(cfg, module, ProjectionRef{key.first, static_cast<Projection>(key.second)}, p));
  }
  AdapterMeta meta;
  meta.path = dir;
  meta.format = AdapterFormat::Peft;
  meta.arch = arch_from_class(cfg.base_model_class);
  meta.base_model = cfg.base_model;
  meta.rslora = cfg.use_rslora;
  meta.qk_layout = RopeStyle::RotateHalf;
  meta.warnings = cfg.warnings;
  Selector selector;
  if (cfg.has_target_declaration()) {
    selector = [cfg](ProjectionRef r) { return cfg.targets(hf_module_name(r)); };
  }
  auto adapter = std::make_unique<LoraAdapter>(std::move(meta), std::move(targets), selector);
  // Without a base the layer count is unknown; every layer up to the last one present must
  // still hold what the config selects.
  if (selector) {
    for (int64_t l = 0; l <= adapter->max_layer(); ++l) {
      for (int p = 0; p < kNumProjections; ++p) {
        const ProjectionRef r{l, static_cast<Projection>(p)};
        if (selector(r) && !adapter->find(l, r.proj)) {
          fail(dir, ": missing lora_A/lora_B tensors for ", hf_module_name(r), " (target_modules selects it)");
        }
      }
    }
  }
  return adapter;
}

}  // namespace trellis
