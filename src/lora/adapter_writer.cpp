#include "lora/adapter_writer.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/quant.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors_writer.h"

namespace trellis {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// A copy of the adapter with q/k rows in `layout`.
LoraAdapter in_layout(const LoraAdapter& a, RopeStyle layout, const AdapterWriteOptions& opt) {
  LoraAdapter copy = a;
  if (a.meta().qk_layout == layout) return copy;
  bool has_qk = false;
  for (const LoraTarget& t : a.targets()) has_qk |= t.ref.proj == Projection::Q || t.ref.proj == Projection::K;
  if (has_qk && !opt.heads) {
    fail(a.meta().path, ": q/k rows must be reordered for the target format, which needs the base model's head counts (pass -m BASE)");
  }
  const HeadLayout h = opt.heads.value_or(HeadLayout{1, 1, 2});
  copy.convert_qk_layout(layout, h.n_head, h.n_head_kv, h.head_dim);
  return copy;
}

std::vector<uint8_t> encode(const std::vector<float>& v, DType type, int64_t row_len) {
  std::vector<uint8_t> out(row_bytes(type, row_len) * (v.size() / static_cast<size_t>(row_len)));
  const size_t rb = row_bytes(type, row_len);
  for (size_t r = 0; r * static_cast<size_t>(row_len) < v.size(); ++r) {
    quantize_row(type, v.data() + r * static_cast<size_t>(row_len), out.data() + r * rb, row_len);
  }
  return out;
}

template <class T>
T mode_of(const std::vector<T>& v) {
  std::map<T, int> count;
  for (const T& x : v) ++count[x];
  T best = v.front();
  for (const auto& [x, n] : count) {
    if (n > count[best]) best = x;
  }
  return best;
}

std::string escape_dots(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '.') out += '\\';
    out += c;
  }
  return out;
}

// rank_pattern / alpha_pattern entries for the targets whose value differs from `def`:
// a projection suffix key when all its targets agree, else one full module name per target.
template <class T, class Get>
ojson pattern(const LoraAdapter& a, T def, Get get) {
  ojson out = ojson::object();
  for (int p = 0; p < kNumProjections; ++p) {
    std::vector<const LoraTarget*> ts;
    for (const LoraTarget& t : a.targets()) {
      if (static_cast<int>(t.ref.proj) == p) ts.push_back(&t);
    }
    if (ts.empty()) continue;
    bool uniform = true;
    for (const LoraTarget* t : ts) uniform &= get(*t) == get(*ts.front());
    if (uniform) {
      if (get(*ts.front()) != def) out[hf_projection_suffix(static_cast<Projection>(p))] = get(*ts.front());
      continue;
    }
    for (const LoraTarget* t : ts) {
      if (get(*t) != def) out[hf_module_name(t->ref)] = get(*t);
    }
  }
  return out;
}

// target_modules (+ layers_to_transform): a suffix list when the targets form a full
// projections × layers grid, else a regex naming each module.
void write_targets(const LoraAdapter& a, ojson& c) {
  std::set<int> projs;
  std::set<int64_t> layers;
  for (const LoraTarget& t : a.targets()) {
    projs.insert(static_cast<int>(t.ref.proj));
    layers.insert(t.ref.layer);
  }
  if (projs.size() * layers.size() == a.targets().size()) {
    ojson list = ojson::array();
    for (int p : projs) list.push_back(hf_projection_suffix(static_cast<Projection>(p)));
    c["target_modules"] = list;
    const bool from_zero = *layers.begin() == 0 && *layers.rbegin() == static_cast<int64_t>(layers.size()) - 1;
    c["layers_to_transform"] = from_zero ? ojson() : ojson(std::vector<int64_t>(layers.begin(), layers.end()));
    return;
  }
  std::string re;
  for (const LoraTarget& t : a.targets()) re += (re.empty() ? "" : "|") + escape_dots(hf_module_name(t.ref));
  c["target_modules"] = "(" + re + ")";
  c["layers_to_transform"] = nullptr;
}

DType peft_type(DType stored) {
  return stored == DType::F16 || stored == DType::BF16 ? stored : DType::F32;
}

}  // namespace

std::vector<std::string> write_peft(const LoraAdapter& adapter, const std::string& dir, const AdapterWriteOptions& opt) {
  const LoraAdapter a = in_layout(adapter, RopeStyle::RotateHalf, opt);
  std::vector<int64_t> ranks;
  std::vector<double> alphas;
  for (const LoraTarget& t : a.targets()) {
    ranks.push_back(t.rank);
    alphas.push_back(t.alpha);
  }
  const int64_t r = mode_of(ranks);
  const double alpha = mode_of(alphas);
  ojson c;
  c["alpha_pattern"] = pattern(a, alpha, [](const LoraTarget& t) { return static_cast<double>(t.alpha); });
  const std::string arch = a.meta().arch.empty() ? opt.arch : a.meta().arch;
  const ArchSpec* spec = arch.empty() ? nullptr : find_arch_by_gguf_name(arch);
  c["auto_mapping"] = spec && !spec->hf_architectures.empty() ? ojson{{"base_model_class", spec->hf_architectures[0]}} : ojson();
  c["base_model_name_or_path"] = a.meta().base_model.empty() ? ojson() : ojson(a.meta().base_model);
  c["bias"] = "none";
  c["fan_in_fan_out"] = false;
  c["inference_mode"] = true;
  c["lora_alpha"] = alpha;
  c["lora_dropout"] = opt.lora_dropout;
  c["peft_type"] = "LORA";
  c["r"] = r;
  c["rank_pattern"] = pattern(a, r, [](const LoraTarget& t) { return t.rank; });
  write_targets(a, c);
  c["task_type"] = "CAUSAL_LM";
  c["use_dora"] = false;
  c["use_rslora"] = a.meta().rslora;

  SafetensorsWriter st;
  st.set_metadata("format", "pt");
  for (const LoraTarget& t : a.targets()) {
    const std::string base = "base_model.model." + hf_module_name(t.ref);
    const DType type = peft_type(t.stored_type);
    st.add_tensor_owned(base + ".lora_A.weight", type, SafetensorsShape::row_major({t.rank, t.in}), encode(t.a, type, t.in));
    st.add_tensor_owned(base + ".lora_B.weight", type, SafetensorsShape::row_major({t.out, t.rank}), encode(t.b, type, t.rank));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create directory: ", ec.message());
  st.write((fs::path(dir) / "adapter_model.safetensors").string());
  const std::string text = c.dump(2) + "\n";
  write_file_atomic((fs::path(dir) / "adapter_config.json").string(), text.data(), text.size());
  return {};
}

std::vector<std::string> write_gguf_lora(const LoraAdapter& adapter, const std::string& path,
                                         const AdapterWriteOptions& opt) {
  std::vector<std::string> notes;
  const std::string arch = adapter.meta().arch.empty() ? opt.arch : adapter.meta().arch;
  if (arch.empty()) fail(adapter.meta().path, ": the adapter does not name its architecture; pass -m BASE");
  const ArchSpec* spec = find_arch_by_gguf_name(arch);
  if (!spec) fail(adapter.meta().path, ": architecture '", arch, "' is not supported");
  const LoraAdapter a = in_layout(adapter, spec->gguf_rope_style, opt);

  std::vector<float> alphas;
  for (const LoraTarget& t : a.targets()) alphas.push_back(t.alpha);
  const float alpha = mode_of(alphas);
  GgufWriter w;
  w.set_string("general.architecture", arch);
  w.set_string("general.type", "adapter");
  w.set_string("general.name", fs::path(adapter.meta().path).filename().string());
  if (!a.meta().base_model.empty()) {
    w.set_u32("general.base_model.count", 1);
    w.set_string("general.base_model.0.name", a.meta().base_model);
  }
  w.set_string("adapter.type", "lora");
  w.set_f32("adapter.lora.alpha", alpha);
  int folded = 0;
  for (const LoraTarget& t : a.targets()) {
    const std::string name = gguf_tensor_name(t.ref);
    // llama.cpp applies alpha/rank; fold anything else into B so the product is unchanged.
    const float fold = t.scale / (alpha / static_cast<float>(t.rank));
    DType type = t.stored_type;
    if (type != DType::F32 && type != DType::F16 && type != DType::BF16 && type != DType::Q8_0) type = DType::F32;
    if (type == DType::Q8_0 && (t.in % 32 != 0 || t.rank % 32 != 0)) type = DType::F32;
    std::vector<float> b = t.b;
    if (std::fabs(fold - 1.0f) > 1e-7f) {
      for (float& x : b) x *= fold;
      type = DType::F32;
      ++folded;
    }
    w.add_tensor_owned(name + ".lora_a", type, {t.in, t.rank, 1, 1}, 2, encode(t.a, type, t.in));
    w.add_tensor_owned(name + ".lora_b", type, {t.rank, t.out, 1, 1}, 2, encode(b, type, t.rank));
  }
  if (folded > 0) {
    notes.push_back(cat(folded, " target(s) have a scale other than alpha/rank (alpha_pattern or rsLoRA); ",
                        "the difference is folded into their lora_b"));
  }
  w.write(path);
  return notes;
}

}  // namespace trellis
