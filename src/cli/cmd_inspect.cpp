// `trellis inspect MODEL`: what a GGUF file or Hugging Face directory holds. The report is
// built once as JSON and either printed as is (--json) or rendered as text.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "model/model.h"

namespace trellis::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

// A float as the shortest decimal that reads back the same (1e-05, not 9.99999974e-06).
double shortest(float f) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, f);
  return std::stod(std::string(buf, res.ptr));
}

ordered_json hparams_json(const Model& m) {
  const Hparams& h = m.hparams();
  ordered_json j;
  j["vocab_size"] = h.n_vocab;
  j["embedding_length"] = h.n_embd;
  j["block_count"] = h.n_layer;
  j["head_count"] = h.n_head;
  j["head_count_kv"] = h.n_head_kv;
  j["head_dim"] = h.head_dim;
  j["feed_forward_length"] = h.n_ff;
  j["context_length"] = h.n_ctx_train;
  j["rope_dimension_count"] = h.rope_dim;
  j["rope_freq_base"] = shortest(h.rope_theta);
  const char* scaling = h.rope_scaling.kind == RopeScaling::Kind::Linear   ? "linear"
                        : h.rope_scaling.kind == RopeScaling::Kind::Llama3 ? "llama3"
                        : m.gguf() && m.gguf()->find_tensor("rope_freqs.weight") ? "rope_freqs"
                                                                                 : "none";
  j["rope_scaling"] = scaling;
  if (h.rope_scaling.kind != RopeScaling::Kind::None) j["rope_scaling_factor"] = shortest(h.rope_scaling.factor);
  j["rms_norm_eps"] = shortest(h.rms_eps);
  j["tied_embeddings"] = h.tied_embeddings;
  return j;
}

ordered_json tensor_json(const TensorView& t) {
  ordered_json j;
  j["name"] = t.name;
  j["type"] = dtype_name(t.type);
  std::vector<int64_t> shape(t.ne.begin(), t.ne.begin() + std::max(1, t.n_dims));
  j["shape"] = shape;
  j["bytes"] = t.nbytes;
  return j;
}

ordered_json tensors_and_totals(const std::vector<const TensorView*>& tensors, ordered_json& report) {
  ordered_json list = ordered_json::array();
  int64_t params = 0;
  uint64_t bytes = 0;
  std::map<std::string, int> types;
  for (const TensorView* t : tensors) {
    list.push_back(tensor_json(*t));
    params += t->n_elements();
    bytes += t->nbytes;
    ++types[dtype_name(t->type)];
  }
  report["tensor_types"] = types;
  report["totals"] = {{"tensors", tensors.size()}, {"params", params}, {"bytes", bytes},
                      {"bits_per_weight", params ? 8.0 * double(bytes) / double(params) : 0.0}};
  return list;
}

// Tokenizer facts as the GGUF metadata states them (the tokenizer library reads the same keys).
ordered_json gguf_tokenizer_json(const GgufFile& f) {
  ordered_json j;
  if (!f.has("tokenizer.ggml.model")) return nullptr;
  j["model"] = f.get_string("tokenizer.ggml.model");
  if (f.has("tokenizer.ggml.pre")) j["pre"] = f.get_string("tokenizer.ggml.pre");
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  j["vocab_size"] = tokens ? tokens->array_size() : 0;
  for (const char* key : {"bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id"}) {
    const std::string full = std::string("tokenizer.ggml.") + key;
    if (f.has(full)) j[key] = f.get_int(full);
  }
  if (f.has("tokenizer.ggml.add_bos_token")) j["add_bos_token"] = f.get_bool("tokenizer.ggml.add_bos_token");
  if (const GgufValue* merges = f.find("tokenizer.ggml.merges")) j["merges"] = merges->array_size();
  return j;
}

ordered_json gguf_metadata_json(const GgufFile& f) {
  ordered_json j = ordered_json::object();
  for (const std::string& k : f.key_order()) j[k] = gguf_value_to_string(f.metadata().at(k));
  return j;
}

ordered_json inspect_gguf(const std::string& path) {
  auto file = GgufFile::open(path);
  ordered_json r;
  r["path"] = path;
  r["format"] = "gguf";
  r["gguf_version"] = file->version();
  r["file_bytes"] = fs::file_size(path);
  std::vector<const TensorView*> tensors;
  if (file->tensors().empty() && file->has("tokenizer.ggml.model")) {
    r["architecture"] = nullptr;
    r["vocab_only"] = true;
  } else if (file->has("general.architecture")) {
    r["architecture"] = file->get_string("general.architecture");
    r["name"] = file->get_string("general.name", fs::path(path).filename().string());
    if (file->has("general.file_type")) r["file_type"] = file->get_int("general.file_type");
    // A model Trellis cannot run (e.g. another architecture) is still worth listing.
    try {
      r["hparams"] = hparams_json(*Model::load(path));
    } catch (const Error& e) {
      r["hparams"] = nullptr;
      r["model_error"] = e.what();
    }
  } else {
    fail(path, ": neither a model nor a vocabulary (no general.architecture, no tokenizer)");
  }
  r["tokenizer"] = gguf_tokenizer_json(*file);
  r["chat_template"] = file->has("tokenizer.chat_template");
  for (const GgufTensorInfo& t : file->tensors()) tensors.push_back(&t.view);
  r["tensors"] = tensors_and_totals(tensors, r);
  r["metadata"] = gguf_metadata_json(*file);
  return r;
}

json read_json_or_null(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  return json::parse(in, nullptr, false);  // discarded (is_discarded) on a syntax error
}

ordered_json hf_tokenizer_json(const fs::path& dir, bool& chat_template) {
  const json cfg = read_json_or_null(dir / "tokenizer_config.json");
  chat_template = cfg.is_object() && cfg.contains("chat_template");
  const json tok = read_json_or_null(dir / "tokenizer.json");
  if (!tok.is_object() && !fs::exists(dir / "vocab.json")) return nullptr;
  ordered_json j;
  if (tok.is_object() && tok.contains("model") && tok["model"].is_object()) {
    const json& m = tok["model"];
    j["model"] = m.value("type", "");
    if (m.contains("vocab") && (m["vocab"].is_object() || m["vocab"].is_array())) j["vocab_size"] = m["vocab"].size();
  } else {
    j["model"] = "BPE (vocab.json + merges.txt)";
  }
  for (const char* key : {"bos_token", "eos_token"}) {
    if (cfg.is_object() && cfg.contains(key)) {
      const json& v = cfg[key];
      j[key] = v.is_object() ? v.value("content", "") : v.is_string() ? v.get<std::string>() : "";
    }
  }
  return j;
}

ordered_json inspect_hf(const std::string& dir) {
  auto model = Model::load(dir);
  ordered_json r;
  r["path"] = dir;
  r["format"] = "huggingface";
  r["architecture"] = model->arch().gguf_name;
  r["name"] = model->name();
  r["hparams"] = hparams_json(*model);
  bool chat_template = false;
  r["tokenizer"] = hf_tokenizer_json(dir, chat_template);
  r["chat_template"] = chat_template;
  auto ckpt = SafetensorsCheckpoint::open_dir(dir);
  r["tensors"] = tensors_and_totals(ckpt->tensors(), r);
  return r;
}

std::string one_line(std::string s) {
  for (char& c : s) if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return s.size() > 120 ? s.substr(0, 117) + "..." : s;
}

std::string scalar(const ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void print_text(const ordered_json& r, bool show_metadata, bool show_tensors) {
  std::printf("file:          %s (%s)\n", scalar(r["path"]).c_str(), scalar(r["format"]).c_str());
  if (r.contains("vocab_only")) std::printf("contents:      vocabulary only (no model)\n");
  if (!r["architecture"].is_null()) {
    std::printf("architecture:  %s\nname:          %s\n", scalar(r["architecture"]).c_str(), scalar(r["name"]).c_str());
    if (r.contains("file_type")) std::printf("file type:     %s\n", scalar(r["file_type"]).c_str());
    if (r.contains("model_error")) std::printf("note:          %s\n", scalar(r["model_error"]).c_str());
    if (!r["hparams"].is_null()) std::printf("hyper-parameters:\n");
    if (!r["hparams"].is_null()) for (const auto& [k, v] : r["hparams"].items()) std::printf("  %-22s %s\n", k.c_str(), scalar(v).c_str());
  }
  if (r["tokenizer"].is_null()) {
    std::printf("tokenizer:     none\n");
  } else {
    std::printf("tokenizer:\n");
    for (const auto& [k, v] : r["tokenizer"].items()) std::printf("  %-22s %s\n", k.c_str(), scalar(v).c_str());
  }
  std::printf("chat template: %s\n", r["chat_template"].get<bool>() ? "present" : "none");
  if (show_metadata && r.contains("metadata")) {
    std::printf("metadata (%zu keys):\n", r["metadata"].size());
    for (const auto& [k, v] : r["metadata"].items()) std::printf("  %-40s %s\n", k.c_str(), one_line(v).c_str());
  }
  if (show_tensors) {
    std::printf("tensors:\n");
    for (const auto& t : r["tensors"]) {
      std::string shape;
      for (const auto& d : t["shape"]) shape += (shape.empty() ? "" : ", ") + d.dump();
      std::printf("  %-32s %-7s [%s] %s bytes\n", scalar(t["name"]).c_str(), scalar(t["type"]).c_str(), shape.c_str(),
                  t["bytes"].dump().c_str());
    }
  }
  std::string types;
  for (const auto& [k, v] : r["tensor_types"].items()) types += (types.empty() ? "" : ", ") + k + " " + v.dump();
  const auto& tot = r["totals"];
  std::printf("tensor types:  %s\n", types.c_str());
  std::printf("totals:        %s tensors, %s params, %.2f MB, %.3f bits per weight\n", tot["tensors"].dump().c_str(),
              tot["params"].dump().c_str(), tot["bytes"].get<double>() / 1e6, tot["bits_per_weight"].get<double>());
}

int run_inspect(int argc, char** argv) {
  CLI::App app("Show what a model holds: architecture, hyper-parameters, tokenizer, chat template,\n"
               "tensors (type, shape, size) and totals. Works on GGUF files (vocab-only ones too) and\n"
               "Hugging Face directories.",
               "trellis inspect");
  std::string path;
  bool as_json = false, show_metadata = false, no_tensors = false;
  app.add_option("model", path, "GGUF file or Hugging Face directory")->required();
  app.add_flag("--json", as_json, "machine-readable output (everything, metadata included)");
  app.add_flag("--metadata", show_metadata, "also list every GGUF metadata key");
  app.add_flag("--no-tensors", no_tensors, "leave out the per-tensor list");
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  if (!fs::exists(path)) fail(path, ": no such file or directory");
  const ordered_json r = fs::is_directory(path) ? inspect_hf(path) : inspect_gguf(path);
  if (as_json) {
    std::printf("%s\n", r.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  } else {
    print_text(r, show_metadata, !no_tensors);
  }
  return 0;
}

const CommandRegistrar reg({"inspect", "show a model's architecture, tokenizer and tensors", run_inspect, 61});

}  // namespace
}  // namespace trellis::cli
