#include "lora/adapter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "lora/qk_permute.h"

namespace trellis {
namespace fs = std::filesystem;

namespace {

// Mixes 8 bytes at a time (a 64-bit multiply-xorshift hash): fast enough to fingerprint a
// few hundred MB at load, and any change of a value, shape or scale changes the result.
struct Hasher {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  void mix(uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
  }
  void floats(const std::vector<float>& v) {
    size_t i = 0;
    for (; i + 2 <= v.size(); i += 2) {
      uint64_t w;
      std::memcpy(&w, v.data() + i, 8);
      mix(w);
    }
    if (i < v.size()) {
      uint32_t w;
      std::memcpy(&w, v.data() + i, 4);
      mix(w);
    }
  }
};

std::string label(const AdapterMeta& m, ProjectionRef r) {
  return m.format == AdapterFormat::Peft ? hf_module_name(r) : gguf_tensor_name(r);
}

std::string lower_basename(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (const size_t p = s.rfind('/'); p != std::string::npos) s = s.substr(p + 1);
  if (s.size() > 5 && s.compare(s.size() - 5, 5, ".gguf") == 0) s.resize(s.size() - 5);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

float lora_scale(float alpha, int64_t rank, bool rslora) {
  return rslora ? alpha / std::sqrt(static_cast<float>(rank)) : alpha / static_cast<float>(rank);
}

LoraAdapter::LoraAdapter(AdapterMeta meta, std::vector<LoraTarget> targets, Selector selector)
    : meta_(std::move(meta)), targets_(std::move(targets)), selector_(std::move(selector)) {
  if (targets_.empty()) fail(meta_.path, ": the adapter has no LoRA tensors");
  std::sort(targets_.begin(), targets_.end(), [](const LoraTarget& a, const LoraTarget& b) {
    return a.ref.layer != b.ref.layer ? a.ref.layer < b.ref.layer : a.ref.proj < b.ref.proj;
  });
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (i > 0 && targets_[i].ref == targets_[i - 1].ref) fail(meta_.path, ": ", label(meta_, targets_[i].ref), " is adapted twice");
    check_target(targets_[i]);
  }
  build_index();
}

void LoraAdapter::check_target(const LoraTarget& t) const {
  const std::string name = label(meta_, t.ref);
  if (t.rank <= 0) fail(meta_.path, ": ", name, " has rank 0");
  if (t.in <= 0 || t.out <= 0) fail(meta_.path, ": ", name, " has an empty shape");
  if (t.a.size() != static_cast<size_t>(t.rank * t.in) || t.b.size() != static_cast<size_t>(t.out * t.rank)) {
    fail(meta_.path, ": ", name, ": A/B sizes do not match rank ", t.rank);
  }
  if (!(t.alpha > 0.0f) || !std::isfinite(t.alpha)) fail(meta_.path, ": ", name, ": alpha must be positive, got ", t.alpha);
  if (!std::isfinite(t.scale) || t.scale == 0.0f) fail(meta_.path, ": ", name, ": invalid scale ", t.scale);
  for (const std::vector<float>* v : {&t.a, &t.b}) {
    for (float x : *v) {
      if (!std::isfinite(x)) fail(meta_.path, ": ", name, (v == &t.a ? " lora_A" : " lora_B"), " holds NaN or Inf");
    }
  }
}

void LoraAdapter::build_index() {
  index_.assign(static_cast<size_t>((max_layer() + 1) * kNumProjections), -1);
  Hasher h;
  for (size_t i = 0; i < targets_.size(); ++i) {
    const LoraTarget& t = targets_[i];
    index_[static_cast<size_t>(t.ref.layer * kNumProjections + static_cast<int>(t.ref.proj))] = static_cast<int32_t>(i);
    h.mix(static_cast<uint64_t>(t.ref.layer) * 8 + static_cast<uint64_t>(t.ref.proj));
    h.mix(static_cast<uint64_t>(t.rank) << 40 ^ static_cast<uint64_t>(t.in) << 20 ^ static_cast<uint64_t>(t.out));
    uint32_t s;
    std::memcpy(&s, &t.scale, 4);
    h.mix(s);
    h.floats(t.a);
    h.floats(t.b);
  }
  h.mix(static_cast<uint64_t>(meta_.qk_layout));
  fingerprint_ = h.h;
}

const LoraTarget* LoraAdapter::find(int64_t layer, Projection p) const {
  const int64_t i = layer * kNumProjections + static_cast<int>(p);
  if (layer < 0 || i >= static_cast<int64_t>(index_.size()) || index_[static_cast<size_t>(i)] < 0) return nullptr;
  return &targets_[static_cast<size_t>(index_[static_cast<size_t>(i)])];
}

int64_t LoraAdapter::n_params() const {
  int64_t n = 0;
  for (const LoraTarget& t : targets_) n += static_cast<int64_t>(t.a.size() + t.b.size());
  return n;
}

int64_t LoraAdapter::max_layer() const { return targets_.empty() ? -1 : targets_.back().ref.layer; }

std::vector<std::string> LoraAdapter::validate_against(const Model& base) const {
  std::vector<std::string> warnings;
  const Hparams& hp = base.hparams();
  const std::string& base_arch = base.arch().gguf_name;
  if (!meta_.arch.empty() && meta_.arch != base_arch) {
    fail(meta_.path, ": adapter is for architecture '", meta_.arch, "' but the base ", base.path(), " is '", base_arch, "'");
  }
  for (const LoraTarget& t : targets_) {
    if (t.ref.layer >= hp.n_layer) {
      fail(meta_.path, ": adapter targets ", label(meta_, t.ref), ", which the base ", base.path(), " lacks (it has ",
           hp.n_layer, " layers)");
    }
    const TensorView& w = base.projection(t.ref.layer, t.ref.proj);
    if (t.in != w.ne[0] || t.out != w.ne[1]) {
      fail(meta_.path, ": ", label(meta_, t.ref), " adapts a [", t.out, " x ", t.in, "] matrix but the base's '", w.name,
           "' is [", w.ne[1], " x ", w.ne[0], "]");
    }
  }
  if (selector_) {
    for (int64_t l = 0; l < hp.n_layer; ++l) {
      for (int p = 0; p < kNumProjections; ++p) {
        const ProjectionRef r{l, static_cast<Projection>(p)};
        if (selector_(r) && !find(l, r.proj)) {
          fail(meta_.path, ": missing tensors for ", label(meta_, r), " (its config's target_modules selects it)");
        }
      }
    }
  }
  if (!meta_.base_model.empty() && lower_basename(meta_.base_model) != lower_basename(base.name()) &&
      lower_basename(meta_.base_model) != lower_basename(base.path())) {
    warnings.push_back(cat(meta_.path, ": adapter was trained on '", meta_.base_model, "' but the base is '", base.name(),
                           "'; shapes match, so it is applied anyway"));
  }
  return warnings;
}

void LoraAdapter::convert_qk_layout(RopeStyle layout, int64_t n_head, int64_t n_head_kv, int64_t head_dim) {
  if (layout == meta_.qk_layout) return;
  for (LoraTarget& t : targets_) {
    if (t.ref.proj != Projection::Q && t.ref.proj != Projection::K) continue;
    const int64_t heads = t.ref.proj == Projection::Q ? n_head : n_head_kv;
    if (heads * head_dim != t.out || head_dim % 2 != 0) {
      fail(meta_.path, ": ", label(meta_, t.ref), " has ", t.out, " rows, not ", heads, " heads of ", head_dim);
    }
    permute_qk_rows(t.b.data(), heads, head_dim, t.rank, meta_.qk_layout, layout);
  }
  meta_.qk_layout = layout;
  build_index();
}

std::unique_ptr<LoraAdapter> LoraAdapter::load(const std::string& path) {
  if (!fs::exists(path)) fail(path, ": no such file or directory");
  return fs::is_directory(path) ? load_peft(path) : load_gguf(path);
}

std::unique_ptr<LoraAdapter> LoraAdapter::load_for(const std::string& path, const Model& base,
                                                   std::vector<std::string>* warnings) {
  auto a = load(path);
  std::vector<std::string> w = a->meta().warnings;
  for (std::string& s : a->validate_against(base)) w.push_back(std::move(s));
  const Hparams& hp = base.hparams();
  a->convert_qk_layout(base.rope_style(), hp.n_head, hp.n_head_kv, hp.head_dim);
  if (warnings) warnings->insert(warnings->end(), w.begin(), w.end());
  return a;
}

}  // namespace trellis
