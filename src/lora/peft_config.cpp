#include "lora/peft_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/error.h"

namespace trellis {
using ojson = nlohmann::ordered_json;

namespace {

bool regex_full(const std::string& pattern, const std::string& text, const std::string& path, const char* key) {
  try {
    return std::regex_match(text, std::regex(pattern));
  } catch (const std::regex_error& e) {
    fail(path, ": ", key, " holds an invalid regular expression '", pattern, "': ", e.what());
  }
}

std::vector<std::string> string_list(const ojson& v, const std::string& path, const char* key) {
  std::vector<std::string> out;
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) fail(path, ": ", key, " must be a string or a list of strings");
  for (const auto& e : v) {
    if (!e.is_string()) fail(path, ": ", key, " must hold only strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

bool flag(const ojson& c, const char* key, const std::string& path) {
  if (!c.contains(key) || c[key].is_null()) return false;
  if (!c[key].is_boolean()) fail(path, ": ", key, " must be true or false");
  return c[key].get<bool>();
}

bool non_empty(const ojson& c, const char* key) {
  return c.contains(key) && !c[key].is_null() && !(c[key].is_array() && c[key].empty()) &&
         !(c[key].is_object() && c[key].empty());
}

// Keys whose meaning Trellis does not implement: refusing beats computing something else.
void refuse_unsupported(const ojson& c, const std::string& path) {
  if (c.contains("peft_type") && c["peft_type"].is_string() && c["peft_type"].get<std::string>() != "LORA") {
    fail(path, ": peft_type '", c["peft_type"].get<std::string>(), "' is not a LoRA adapter");
  }
  if (flag(c, "use_dora", path)) fail(path, ": use_dora: DoRA adapters are not supported (merge them with PEFT first)");
  if (flag(c, "lora_bias", path)) fail(path, ": lora_bias: LoRA B biases are not supported");
  if (c.contains("bias") && !c["bias"].is_null() && c["bias"] != "none") {
    fail(path, ": bias '", c["bias"].is_string() ? c["bias"].get<std::string>() : c["bias"].dump(),
         "' is not supported (only \"none\": trained biases change the base layers)");
  }
  if (non_empty(c, "layer_replication")) fail(path, ": layer_replication is not supported");
  if (non_empty(c, "modules_to_save")) fail(path, ": modules_to_save (fully trained modules) is not supported");
  if (non_empty(c, "target_parameters")) fail(path, ": target_parameters is not supported");
  if (non_empty(c, "trainable_token_indices")) fail(path, ": trainable_token_indices is not supported");
}

void read_targets(const ojson& c, PeftConfig& p) {
  if (c.contains("target_modules") && !c["target_modules"].is_null()) {
    const ojson& t = c["target_modules"];
    if (t.is_string() && t.get<std::string>() == "all-linear") {
      p.all_linear = true;
      p.target_list = std::vector<std::string>{};
      for (int i = 0; i < kNumProjections; ++i) p.target_list->push_back(hf_projection_suffix(static_cast<Projection>(i)));
    } else if (t.is_string()) {
      p.target_regex = t.get<std::string>();
      regex_full(*p.target_regex, "", p.path, "target_modules");  // reject a bad regex up front
    } else {
      p.target_list = string_list(t, p.path, "target_modules");
    }
  }
  if (c.contains("layers_to_transform") && !c["layers_to_transform"].is_null()) {
    const ojson& l = c["layers_to_transform"];
    std::vector<int64_t> v;
    if (l.is_number_integer()) v.push_back(l.get<int64_t>());
    else if (l.is_array()) {
      for (const auto& e : l) {
        if (!e.is_number_integer()) fail(p.path, ": layers_to_transform must hold integers");
        v.push_back(e.get<int64_t>());
      }
    } else fail(p.path, ": layers_to_transform must be an integer or a list of integers");
    if (!v.empty()) p.layers_to_transform = v;
  }
  if (c.contains("layers_pattern") && !c["layers_pattern"].is_null()) {
    p.layers_pattern = string_list(c["layers_pattern"], p.path, "layers_pattern");
  }
}

template <class T>
std::vector<std::pair<std::string, T>> read_pattern(const ojson& c, const char* key, const std::string& path) {
  std::vector<std::pair<std::string, T>> out;
  if (!c.contains(key) || c[key].is_null()) return out;
  if (!c[key].is_object()) fail(path, ": ", key, " must be an object");
  for (const auto& [k, v] : c[key].items()) {
    if (!v.is_number()) fail(path, ": ", key, "['", k, "'] must be a number");
    if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) fail(path, ": ", key, "['", k, "'] must be an integer");
    }
    const T x = v.template get<T>();
    if (!(x > 0)) fail(path, ": ", key, "['", k, "'] must be positive, got ", x);
    regex_full("(.*\\.)?(" + k + ")", "", path, key);
    out.emplace_back(k, x);
  }
  return out;
}

}  // namespace

bool peft_pattern_matches(const std::string& key, const std::string& name) {
  return std::regex_match(name, std::regex("(.*\\.)?(" + key + ")"));
}

PeftConfig PeftConfig::parse(const std::string& text, const std::string& path) {
  ojson c;
  try {
    c = ojson::parse(text);
  } catch (const ojson::exception& e) {
    fail(path, ": not valid JSON: ", e.what());
  }
  if (!c.is_object()) fail(path, ": not a JSON object");
  PeftConfig p;
  p.path = path;
  refuse_unsupported(c, path);
  if (!c.contains("r") || !c["r"].is_number_integer()) fail(path, ": key 'r' must be an integer");
  p.r = c["r"].get<int64_t>();
  if (p.r <= 0) fail(path, ": r must be positive, got ", p.r);
  p.lora_alpha = 8.0;  // PEFT's LoraConfig default
  if (c.contains("lora_alpha") && !c["lora_alpha"].is_null()) {
    if (!c["lora_alpha"].is_number()) fail(path, ": key 'lora_alpha' must be a number");
    p.lora_alpha = c["lora_alpha"].get<double>();
  }
  if (!(p.lora_alpha > 0.0)) fail(path, ": lora_alpha must be positive, got ", p.lora_alpha);
  p.use_rslora = flag(c, "use_rslora", path);
  p.fan_in_fan_out = flag(c, "fan_in_fan_out", path);
  if (p.fan_in_fan_out) {
    // PEFT itself resets it for torch.nn.Linear targets, which all supported modules are.
    p.warnings.push_back(path + ": fan_in_fan_out is set but the targets are Linear layers; ignored, as PEFT does");
  }
  if (c.contains("base_model_name_or_path") && c["base_model_name_or_path"].is_string()) {
    p.base_model = c["base_model_name_or_path"].get<std::string>();
  }
  if (c.contains("auto_mapping") && c["auto_mapping"].is_object() && c["auto_mapping"].contains("base_model_class") &&
      c["auto_mapping"]["base_model_class"].is_string()) {
    p.base_model_class = c["auto_mapping"]["base_model_class"].get<std::string>();
  }
  read_targets(c, p);
  p.rank_pattern = read_pattern<int64_t>(c, "rank_pattern", path);
  p.alpha_pattern = read_pattern<double>(c, "alpha_pattern", path);
  return p;
}

PeftConfig PeftConfig::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

bool PeftConfig::targets(const std::string& name) const {
  if (target_regex) return regex_full(*target_regex, name, path, "target_modules");
  if (!target_list) return false;
  bool found = false;
  for (const std::string& t : *target_list) {
    if (name == t) return true;  // an exact module name bypasses layers_to_transform, as in PEFT
    if (name.size() > t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0 &&
        name[name.size() - t.size() - 1] == '.') {
      found = true;
    }
  }
  if (!found || !layers_to_transform) return found;
  std::vector<std::string> patterns = layers_pattern.empty() ? std::vector<std::string>{"[^.]*"} : layers_pattern;
  for (const std::string& pat : patterns) {
    std::smatch m;
    std::regex re;
    try {
      re = std::regex("^.*\\." + pat + "\\.(\\d+)\\.");
    } catch (const std::regex_error& e) {
      fail(path, ": layers_pattern holds an invalid regular expression '", pat, "'");
    }
    if (std::regex_search(name, m, re)) {
      const int64_t idx = std::stoll(m[1].str());
      for (int64_t l : *layers_to_transform) {
        if (l == idx) return true;
      }
      return false;
    }
  }
  return false;
}

int64_t PeftConfig::rank_for(const std::string& name) const {
  for (const auto& [k, v] : rank_pattern) {
    if (peft_pattern_matches(k, name)) return v;
  }
  return r;
}

double PeftConfig::alpha_for(const std::string& name) const {
  for (const auto& [k, v] : alpha_pattern) {
    if (peft_pattern_matches(k, name)) return v;
  }
  return lora_alpha;
}

}  // namespace trellis
