#include "lora/module_names.h"

#include <cstdlib>

namespace trellis {
namespace {

const char* hf_block(Projection p) {
  return p == Projection::Gate || p == Projection::Up || p == Projection::Down ? "mlp" : "self_attn";
}

const char* gguf_suffix(Projection p) {
  static const char* names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
  return names[static_cast<int>(p)];
}

// Reads a non-negative decimal integer at the start of s (no sign, no leading zeros beyond "0");
// returns the number of characters used, 0 when there is none.
size_t read_index(const std::string& s, size_t pos, int64_t& out) {
  size_t end = pos;
  while (end < s.size() && s[end] >= '0' && s[end] <= '9' && end - pos < 9) ++end;
  if (end == pos || (s[pos] == '0' && end - pos > 1)) return 0;
  out = std::strtoll(s.c_str() + pos, nullptr, 10);
  return end - pos;
}

std::optional<ProjectionRef> parse_with(const std::string& name, const std::string& prefix,
                                        std::string (*tail)(Projection)) {
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  int64_t layer = 0;
  const size_t n = read_index(name, prefix.size(), layer);
  if (n == 0) return std::nullopt;
  const std::string rest = name.substr(prefix.size() + n);
  for (int p = 0; p < kNumProjections; ++p) {
    if (rest == tail(static_cast<Projection>(p))) return ProjectionRef{layer, static_cast<Projection>(p)};
  }
  return std::nullopt;
}

std::string hf_tail(Projection p) { return std::string(".") + hf_block(p) + "." + hf_projection_suffix(p); }
std::string gguf_tail(Projection p) { return std::string(".") + gguf_suffix(p) + ".weight"; }

}  // namespace

const char* hf_projection_suffix(Projection p) {
  static const char* names[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return names[static_cast<int>(p)];
}

std::string hf_module_name(ProjectionRef r) { return "model.layers." + std::to_string(r.layer) + hf_tail(r.proj); }

std::string gguf_tensor_name(ProjectionRef r) { return "blk." + std::to_string(r.layer) + gguf_tail(r.proj); }

std::optional<ProjectionRef> parse_hf_module_name(const std::string& name) {
  return parse_with(name, "model.layers.", hf_tail);
}

std::optional<ProjectionRef> parse_gguf_tensor_name(const std::string& name) {
  return parse_with(name, "blk.", gguf_tail);
}

}  // namespace trellis
