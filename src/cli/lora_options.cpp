#include "cli/lora_options.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "lora/adapter.h"

namespace trellis::cli {

LoraSpec parse_lora_spec(const std::string& spec) {
  const size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0 || std::filesystem::exists(spec)) return {spec, 1.0f};
  const std::string tail = spec.substr(colon + 1);
  char* end = nullptr;
  const float scale = std::strtof(tail.c_str(), &end);
  if (tail.empty() || end != tail.c_str() + tail.size()) return {spec, 1.0f};
  if (!std::isfinite(scale)) fail("--lora ", spec, ": the scale must be a finite number");
  return {spec.substr(0, colon), scale};
}

void LoraOptions::add_to(CLI::App& app, bool required) {
  auto* opt = app.add_option("--lora", specs,
                             "LoRA adapter (PEFT directory or GGUF-LoRA file), optionally with a scale: "
                             "PATH[:SCALE]; repeat to combine adapters");
  if (required) opt->required();
}

std::unique_ptr<AdapterSet> LoraOptions::load(const Model& model) const {
  if (specs.empty()) return nullptr;
  auto set = std::make_unique<AdapterSet>();
  for (const std::string& s : specs) {
    const LoraSpec spec = parse_lora_spec(s);
    std::vector<std::string> warnings;
    set->add(LoraAdapter::load_for(spec.path, model, &warnings), spec.scale);
    for (const std::string& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  return set;
}

}  // namespace trellis::cli
