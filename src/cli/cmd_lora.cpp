// trellis lora merge | convert | inspect
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/lora_options.h"
#include "core/error.h"
#include "lora/adapter.h"
#include "lora/adapter_writer.h"
#include "lora/merge.h"

namespace trellis::cli {
namespace {
namespace fs = std::filesystem;

void print_notes(const std::vector<std::string>& notes) {
  for (const std::string& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
}

int run_merge(const ModelOptions& mo, const LoraOptions& lo, const std::string& out, const std::string& type) {
  auto model = mo.load();
  auto set = lo.load(*model);
  MergeOptions opt;
  if (!type.empty()) opt.type = dtype_from_name(type);
  ProgressBar bar("merging into " + out);
  print_notes(write_merged_gguf(*model, *set, out, opt,
                                [&](size_t done, size_t total) { bar.update(total ? double(done) / double(total) : 1.0); }));
  bar.finish();
  std::printf("wrote %s (%zu adapter%s merged)\n", out.c_str(), set->size(), set->size() == 1 ? "" : "s");
  return 0;
}

int run_convert(const std::string& in, const std::string& out, const std::string& base_path, std::string arch) {
  auto adapter = LoraAdapter::load(in);
  AdapterWriteOptions opt;
  opt.arch = arch;
  if (!base_path.empty()) {
    auto base = Model::load(base_path);
    print_notes(adapter->validate_against(*base));
    opt.heads = HeadLayout{base->hparams().n_head, base->hparams().n_head_kv, base->hparams().head_dim};
    if (opt.arch.empty()) opt.arch = base->arch().gguf_name;
  }
  const bool to_gguf = adapter->meta().format == AdapterFormat::Peft;
  print_notes(to_gguf ? write_gguf_lora(*adapter, out, opt) : write_peft(*adapter, out, opt));
  std::printf("wrote %s (%s)\n", out.c_str(), to_gguf ? "GGUF-LoRA" : "PEFT");
  return 0;
}

// "0-29" / "0,2,5-7"
std::string ranges(const std::set<int64_t>& v) {
  std::string s;
  for (auto it = v.begin(); it != v.end();) {
    int64_t a = *it, b = a;
    while (++it != v.end() && *it == b + 1) b = *it;
    s += (s.empty() ? "" : ",") + std::to_string(a) + (b > a ? "-" + std::to_string(b) : "");
  }
  return s;
}

template <class T>
std::string joined(const std::set<T>& v) {
  std::string s;
  for (const T& x : v) s += (s.empty() ? "" : ", ") + cat(x);
  return s;
}

int run_inspect(const std::string& path, const std::string& base_path) {
  auto a = LoraAdapter::load(path);
  const AdapterMeta& m = a->meta();
  std::printf("adapter:       %s\n", m.path.c_str());
  std::printf("format:        %s\n", m.format == AdapterFormat::Peft ? "PEFT" : "GGUF-LoRA");
  std::printf("architecture:  %s\n", m.arch.empty() ? "(not stated)" : m.arch.c_str());
  std::printf("base model:    %s\n", m.base_model.empty() ? "(not stated)" : m.base_model.c_str());
  std::printf("scaling:       %s\n", m.rslora ? "alpha / sqrt(r) (rsLoRA)" : "alpha / r");
  std::map<int, std::set<int64_t>> layers;
  std::map<int, std::set<int64_t>> ranks;
  std::map<int, std::set<float>> alphas, scales;
  std::set<std::string> types;
  for (const LoraTarget& t : a->targets()) {
    const int p = static_cast<int>(t.ref.proj);
    layers[p].insert(t.ref.layer);
    ranks[p].insert(t.rank);
    alphas[p].insert(t.alpha);
    scales[p].insert(t.scale);
    types.insert(dtype_name(t.stored_type));
  }
  std::printf("targets:       %zu matrices\n", a->targets().size());
  for (const auto& [p, ls] : layers) {
    std::printf("  %-10s layers %-12s rank %-6s alpha %-8s scale %s\n", hf_projection_suffix(static_cast<Projection>(p)),
                ranges(ls).c_str(), joined(ranks[p]).c_str(), joined(alphas[p]).c_str(), joined(scales[p]).c_str());
  }
  uintmax_t bytes = 0;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path)) bytes += e.is_regular_file() ? e.file_size() : 0;
  } else {
    bytes = fs::file_size(path);
  }
  std::printf("parameters:    %lld (%s)\n", static_cast<long long>(a->n_params()), joined(types).c_str());
  std::printf("size:          %.2f MB on disk, %.2f MB as F32\n", double(bytes) / 1e6, double(a->n_params()) * 4 / 1e6);
  std::printf("fingerprint:   %016llx\n", static_cast<unsigned long long>(a->fingerprint()));
  print_notes(m.warnings);
  if (!base_path.empty()) {
    auto base = Model::load(base_path);
    print_notes(a->validate_against(*base));
    std::printf("fits base:     %s\n", base_path.c_str());
  }
  return 0;
}

int cmd_lora(int argc, char** argv) {
  CLI::App app("LoRA adapters: merge into a base, convert PEFT <-> GGUF-LoRA, inspect", argv[0]);
  app.require_subcommand(1);
  auto* merge = app.add_subcommand("merge", "merge adapters into a base model and write a GGUF model");
  ModelOptions mo;
  LoraOptions lo;
  std::string out, type;
  mo.add_to(*merge);
  lo.add_to(*merge, true);
  merge->add_option("-o,--output", out, "output GGUF file")->required();
  merge->add_option("--type", type, "element type of the output weights (F32, F16, BF16, Q8_0, Q4_K, ...); default: the base's");

  auto* convert = app.add_subcommand("convert", "convert a PEFT directory to GGUF-LoRA, or GGUF-LoRA to PEFT");
  std::string in, conv_out, base, arch;
  convert->add_option("input", in, "PEFT directory or GGUF-LoRA file")->required();
  convert->add_option("output", conv_out, "GGUF-LoRA file or PEFT directory to write")->required();
  convert->add_option("-m,--model", base, "the base model (needed for llama q/k reordering and the architecture)");
  convert->add_option("--arch", arch, "GGUF architecture when neither the adapter nor -m says");

  auto* inspect = app.add_subcommand("inspect", "show an adapter's targets, ranks, alpha, scaling, size and base");
  std::string adapter, inspect_base;
  inspect->add_option("adapter", adapter, "PEFT directory or GGUF-LoRA file")->required();
  inspect->add_option("-m,--model", inspect_base, "also validate against this base model");

  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  if (merge->parsed()) return run_merge(mo, lo, out, type);
  if (convert->parsed()) return run_convert(in, conv_out, base, arch);
  return run_inspect(adapter, inspect_base);
}

const CommandRegistrar kRegistrar({"lora", "LoRA adapters: merge, convert, inspect", cmd_lora, 40});

}  // namespace
}  // namespace trellis::cli
