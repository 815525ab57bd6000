#include "model/arch.h"

#include <algorithm>
#include <memory>

namespace trellis {
namespace {
const std::vector<const ArchSpec*>& registry() {
  static const std::vector<const ArchSpec*> specs = {&llama_arch(), &qwen2_arch(), &qwen3_arch()};
  return specs;
}
}  // namespace

const ArchSpec* find_arch_by_gguf_name(const std::string& name) {
  for (const ArchSpec* s : registry()) {
    if (s->gguf_name == name) return s;
  }
  return nullptr;
}

const ArchSpec* find_arch_by_hf(const std::string& architecture, const std::string& model_type) {
  for (const ArchSpec* s : registry()) {
    const auto& a = s->hf_architectures;
    const auto& m = s->hf_model_types;
    if (std::find(a.begin(), a.end(), architecture) != a.end()) return s;
    if (!model_type.empty() && std::find(m.begin(), m.end(), model_type) != m.end()) return s;
  }
  return nullptr;
}

std::vector<std::string> known_arch_names() {
  std::vector<std::string> names;
  for (const ArchSpec* s : registry()) names.push_back(s->gguf_name);
  return names;
}

}  // namespace trellis
