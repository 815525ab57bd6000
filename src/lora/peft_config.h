// adapter_config.json of a PEFT LoRA adapter, with PEFT's own rules for which modules are
// targeted (target_modules as a list of suffixes, a regex string or "all-linear", narrowed by
// layers_to_transform / layers_pattern) and which rank and alpha each one gets
// (rank_pattern / alpha_pattern keys tried in file order, matched as PEFT's get_pattern_key
// does: the key is a regex that must match a dot-separated suffix of the module name).
// Unknown keys are ignored; keys that change the computation in ways Trellis does not
// implement (DoRA, biases, layer replication, ...) are refused with an error naming them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lora/module_names.h"

namespace trellis {

struct PeftConfig {
  std::string path;  // for error messages
  int64_t r = 0;
  double lora_alpha = 0.0;
  bool use_rslora = false;
  bool fan_in_fan_out = false;
  std::string base_model;
  std::string base_model_class;  // auto_mapping.base_model_class, e.g. "LlamaForCausalLM"
  // target_modules: a list (suffix or exact-name match), a regex string (full match), or
  // all-linear; nullopt when the config leaves it null (the tensors then decide).
  std::optional<std::vector<std::string>> target_list;
  std::optional<std::string> target_regex;
  bool all_linear = false;
  std::optional<std::vector<int64_t>> layers_to_transform;
  std::vector<std::string> layers_pattern;
  std::vector<std::pair<std::string, int64_t>> rank_pattern;   // file order
  std::vector<std::pair<std::string, double>> alpha_pattern;

  // Parses and checks the JSON text. Throws Error("<path>: ...") naming the key at fault.
  static PeftConfig parse(const std::string& json_text, const std::string& path);
  static PeftConfig read(const std::string& path);

  // Whether PEFT would wrap module `name` (e.g. "model.layers.0.self_attn.q_proj").
  bool targets(const std::string& module_name) const;
  int64_t rank_for(const std::string& module_name) const;
  double alpha_for(const std::string& module_name) const;
  bool has_target_declaration() const { return target_list || target_regex || all_linear; }
  std::vector<std::string> warnings;
};

// PEFT's get_pattern_key test: does `key` (a regex) match a dot-separated suffix of `name`?
bool peft_pattern_matches(const std::string& key, const std::string& name);

}  // namespace trellis
