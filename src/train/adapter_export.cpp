#include "train/adapter_export.h"

#include <filesystem>

#include "lora/adapter_writer.h"

namespace trellis {

LoraAdapter to_lora_adapter(const LoraParams& params, const Model& base, const std::string& path) {
  const LoraSpec& spec = params.spec();
  AdapterMeta meta;
  meta.path = path;
  meta.format = AdapterFormat::Peft;
  meta.arch = base.arch().gguf_name;
  meta.base_model = base.name();
  meta.rslora = spec.rslora;
  meta.qk_layout = base.rope_style();  // the trained B rows follow the base's q/k row order
  std::vector<LoraTarget> targets;
  targets.reserve(params.slots().size());
  for (const LoraSlot& s : params.slots()) {
    LoraTarget t;
    t.ref = {s.layer, s.proj};
    t.rank = spec.rank;
    t.in = s.in;
    t.out = s.out;
    t.alpha = spec.alpha;
    t.scale = spec.scale();
    t.stored_type = DType::F32;
    const float* a = params.values.data() + s.a_offset;
    const float* b = params.values.data() + s.b_offset;
    t.a.assign(a, a + spec.rank * s.in);
    t.b.assign(b, b + s.out * spec.rank);
    targets.push_back(std::move(t));
  }
  return LoraAdapter(std::move(meta), std::move(targets));
}

void write_trained_adapter(const LoraParams& params, const Model& base, const std::string& dir, bool gguf_lora) {
  const LoraAdapter adapter = to_lora_adapter(params, base, dir);
  const Hparams& h = base.hparams();
  AdapterWriteOptions opt;
  opt.heads = HeadLayout{h.n_head, h.n_head_kv, h.head_dim};
  opt.arch = base.arch().gguf_name;
  opt.lora_dropout = params.spec().dropout;
  write_peft(adapter, dir, opt);
  if (gguf_lora) write_gguf_lora(adapter, (std::filesystem::path(dir) / kGgufLoraFileName).string(), opt);
}

}  // namespace trellis
