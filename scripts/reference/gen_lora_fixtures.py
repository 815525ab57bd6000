#!/usr/bin/env python3
"""Generate LoRA adapter fixtures and goldens for Trellis's tests.

Regenerate (from the repository root, no network, no pip):

    /usr/bin/python3 scripts/reference/gen_lora_fixtures.py

Needs torch + numpy only. Deterministic (fixed seeds). Output in tests/data/lora/:
  <name>/adapter_config.json + adapter_model.safetensors   PEFT adapters (HF layout)
  <name>.gguf                                             GGUF-LoRA adapters, written the way
                                                          llama.cpp's convert_lora_to_gguf.py does
                                                          (lora_a = A, lora_b = B, llama q/k B rows
                                                          permuted like the base's Q/K weights)
  goldens.json                                            NLL + last logits per case

Goldens come from scripts/reference/model_ref.py (float64) with the base fixture's weights plus
Σ user_scale · scale · B·A added to each adapted weight in Hugging Face layout — the merged
definition, computed here independently of the C++ engine. PEFT semantics implemented here:
scale = alpha/r (alpha/sqrt(r) with use_rslora), rank_pattern/alpha_pattern keys matched as PEFT's
get_pattern_key does, target_modules list/regex with layers_to_transform. GGUF-LoRA: scale =
adapter.lora.alpha / rank.
"""
import json
import math
import os
import re
import shutil
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model_ref  # noqa: E402
import st_io  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELS = os.path.join(REPO, "tests", "data", "models")
OUT = os.path.join(REPO, "tests", "data", "lora")
F64 = torch.float64

PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GGUF_PROJ = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
             "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
TORCH_DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def module_name(layer, proj):
    blk = "mlp" if proj in ("gate_proj", "up_proj", "down_proj") else "self_attn"
    return f"model.layers.{layer}.{blk}.{proj}"


# ---- PEFT semantics (written from peft/tuners/tuners_utils.py + peft/utils/other.py) -----------
def pattern_key(keys, name):
    for k in keys:
        if re.match(rf"(.*\.)?({k})$", name):
            return k
    return name


def peft_targets(cfg, name):
    tm = cfg["target_modules"]
    if isinstance(tm, str):
        return re.fullmatch(tm, name) is not None
    if name in tm:
        return True
    found = any(name.endswith("." + t) for t in tm)
    ltt = cfg.get("layers_to_transform")
    if found and ltt is not None:
        m = re.match(r".*\.[^.]*\.(\d+)\.", name)
        if m is None:
            return False
        idx = int(m.group(1))
        return idx == ltt if isinstance(ltt, int) else idx in ltt
    return found


def peft_rank_alpha(cfg, name):
    r = cfg["rank_pattern"].get(pattern_key(cfg["rank_pattern"].keys(), name), cfg["r"])
    a = cfg["alpha_pattern"].get(pattern_key(cfg["alpha_pattern"].keys(), name), cfg["lora_alpha"])
    scale = a / math.sqrt(r) if cfg.get("use_rslora") else a / r
    return r, a, scale


# ---- llama.cpp's Q/K permutation (convert_hf_to_gguf.py LlamaModel.permute) -------------------
def permute(weights, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


# ---- minimal GGUF v3 writer ------------------------------------------------------------------
def _gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kv, tensors):
    """kv: list of (key, type, value) with type in {'str','f32','u32'}; tensors: list of (name, torch tensor
    F32/F16, torch shape order). GGUF ne is the reversed torch shape."""
    align = 32
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for k, t, v in kv:
        out += _gguf_str(k)
        if t == "str":
            out += struct.pack("<I", 8) + _gguf_str(v)
        elif t == "f32":
            out += struct.pack("<If", 6, v)
        elif t == "u32":
            out += struct.pack("<II", 4, v)
    blobs, off = [], 0
    for name, t in tensors:
        gt = {torch.float32: 0, torch.float16: 1}[t.dtype]
        raw = st_io._to_bytes(t)
        off = (off + align - 1) // align * align
        ne = list(reversed(t.shape))
        out += _gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", gt, off)
        blobs.append((off, raw))
        off += len(raw)
    out += b"\0" * ((-len(out)) % align)
    base = len(out)
    for o, raw in blobs:
        out += b"\0" * (base + o - len(out))
        out += raw
    with open(path, "wb") as f:
        f.write(out)


# ---- adapter generation ----------------------------------------------------------------------
def make_ab(g, w, r, scale, rel, dtype):
    """A [r, in], B [out, r] rounded to `dtype`, sized so scale·B·A is about `rel` of W's size."""
    out_f, in_f = w.shape
    a = torch.randn(r, in_f, generator=g, dtype=F64) / math.sqrt(in_f)
    b = torch.randn(out_f, r, generator=g, dtype=F64) / math.sqrt(r)
    w_rms = float(w.to(F64).pow(2).mean().sqrt()) * math.sqrt(in_f)  # ~ typical |W·x| for unit x
    b = b * (rel * w_rms / scale)
    return a.to(TORCH_DT[dtype]), b.to(TORCH_DT[dtype])


def make_peft(spec, base_w, base_cfg):
    g = torch.Generator().manual_seed(spec["seed"])
    cfg = spec["config"]
    delta, tensors = {}, {}
    for layer in range(base_cfg["num_hidden_layers"]):
        for proj in PROJ:
            name = module_name(layer, proj)
            if not peft_targets(cfg, name):
                continue
            r, _, scale = peft_rank_alpha(cfg, name)
            a, b = make_ab(g, base_w[name + ".weight"], r, scale, spec.get("rel", 0.4), spec["dtype"])
            prefix = "base_model.model." if spec.get("prefix", True) else ""
            tensors[prefix + name + ".lora_A.weight"] = a
            tensors[prefix + name + ".lora_B.weight"] = b
            delta[name + ".weight"] = scale * (b.to(F64) @ a.to(F64))
    d = os.path.join(OUT, spec["name"])
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    st_io.save(tensors, os.path.join(d, "adapter_model.safetensors"), {"format": "pt"})
    return delta


def make_gguf_lora(spec, base_w, base_cfg):
    g = torch.Generator().manual_seed(spec["seed"])
    alpha, r = spec["alpha"], spec["r"]
    scale = alpha / r
    mt = base_cfg["model_type"]
    nh, nkv = base_cfg["num_attention_heads"], base_cfg["num_key_value_heads"]
    delta, tensors = {}, []
    for layer in range(base_cfg["num_hidden_layers"]):
        for proj in spec["targets"]:
            name = module_name(layer, proj)
            a, b = make_ab(g, base_w[name + ".weight"], r, scale, spec.get("rel", 0.4), spec["dtype"])
            delta[name + ".weight"] = scale * (b.to(F64) @ a.to(F64))
            if mt == "llama" and proj == "q_proj":
                b = permute(b, nh, nh)
            elif mt == "llama" and proj == "k_proj":
                b = permute(b, nh, nkv)
            gname = f"blk.{layer}.{GGUF_PROJ[proj]}.weight"
            tensors += [(gname + ".lora_a", a.contiguous()), (gname + ".lora_b", b.contiguous())]
    kv = [("general.architecture", "str", mt), ("general.type", "str", "adapter"),
          ("general.name", "str", spec["name"]), ("adapter.type", "str", "lora"),
          ("adapter.lora.alpha", "f32", float(alpha))]
    write_gguf(os.path.join(OUT, spec["name"] + ".gguf"), kv, tensors)
    return delta


def peft_cfg(**kw):
    c = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": None, "bias": "none",
         "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "layer_replication": None,
         "layers_pattern": None, "layers_to_transform": None, "lora_alpha": 8, "lora_dropout": 0.0,
         "modules_to_save": None, "peft_type": "LORA", "r": 4, "rank_pattern": {}, "revision": None,
         "target_modules": PROJ, "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False}
    c.update(kw)
    return c


ADAPTERS = [
    # llama: all seven projections, rank and alpha patterns (suffix keys and a full-name key).
    dict(name="llama_peft", kind="peft", base="llama_untied", seed=201, dtype="F32",
         config=peft_cfg(r=4, lora_alpha=8, rank_pattern={"o_proj": 2, "model.layers.1.mlp.down_proj": 6},
                         alpha_pattern={"gate_proj": 3}, base_model_name_or_path="trellis/llama_untied",
                         auto_mapping={"base_model_class": "LlamaForCausalLM", "parent_library": "x"},
                         some_future_key={"ignored": True})),
    # llama: a second adapter (rsLoRA, BF16, attention only) for composition.
    dict(name="llama_peft_rslora", kind="peft", base="llama_untied", seed=202, dtype="BF16",
         config=peft_cfg(r=3, lora_alpha=6, use_rslora=True, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])),
    # llama GGUF-LoRA (q/k B rows permuted like the GGUF base).
    dict(name="llama_lora", kind="gguf", base="llama_untied", seed=203, dtype="F32", r=4, alpha=6.0,
         targets=["q_proj", "k_proj", "v_proj", "up_proj"]),
    # qwen2: rsLoRA, F16, layers_to_transform, names without the base_model.model. prefix.
    dict(name="qwen2_peft", kind="peft", base="qwen2_untied", seed=204, dtype="F16", prefix=False,
         config=peft_cfg(r=8, lora_alpha=16, use_rslora=True, layers_to_transform=[0, 2],
                         target_modules=["q_proj", "k_proj", "v_proj", "up_proj", "down_proj"])),
    # qwen3: target_modules as a regex, patterns with full-name keys.
    dict(name="qwen3_peft", kind="peft", base="qwen3_untied", seed=205, dtype="F32",
         config=peft_cfg(r=4, lora_alpha=4,
                         target_modules=r"model\.layers\.\d+\.(self_attn\.(q|k|o)_proj|mlp\.gate_proj)",
                         rank_pattern={"model.layers.1.self_attn.q_proj": 6},
                         alpha_pattern={"layers.0.self_attn.k_proj": 2.5})),
    # qwen3 GGUF-LoRA over all linear layers (no permutation for qwen3).
    dict(name="qwen3_lora", kind="gguf", base="qwen3_untied", seed=206, dtype="F16", r=2, alpha=4.0, targets=PROJ),
]

# Each case: base fixture, list of (adapter, user scale).
CASES = [
    dict(name="llama_peft", base="llama_untied", adapters=[["llama_peft", 1.0]]),
    dict(name="llama_peft_half", base="llama_untied", adapters=[["llama_peft", 0.5]]),
    dict(name="llama_two", base="llama_untied", adapters=[["llama_peft", 0.5], ["llama_peft_rslora", 1.0]]),
    dict(name="llama_lora", base="llama_untied", adapters=[["llama_lora", 1.0]]),
    dict(name="qwen2_peft", base="qwen2_untied", adapters=[["qwen2_peft", 1.0]]),
    dict(name="qwen3_peft", base="qwen3_untied", adapters=[["qwen3_peft", 1.0]]),
    dict(name="qwen3_lora", base="qwen3_untied", adapters=[["qwen3_lora", 1.0]]),
]


def sequences(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    bos = cfg["bos_token_id"]
    V = cfg["vocab_size"]
    return [[bos] + torch.randint(0, V, (n - 1,), generator=g).tolist() for n in (9, 40)]


def main():
    os.makedirs(OUT, exist_ok=True)
    bases, deltas, adapter_files = {}, {}, {}
    for spec in ADAPTERS:
        b = spec["base"]
        if b not in bases:
            with open(os.path.join(MODELS, b, "config.json")) as f:
                cfg = json.load(f)
            bases[b] = (cfg, st_io.load_model_dir(os.path.join(MODELS, b)))
        cfg, w = bases[b]
        if spec["kind"] == "peft":
            deltas[spec["name"]] = make_peft(spec, w, cfg)
            adapter_files[spec["name"]] = spec["name"]
        else:
            deltas[spec["name"]] = make_gguf_lora(spec, w, cfg)
            adapter_files[spec["name"]] = spec["name"] + ".gguf"
    goldens = {"generator": "scripts/reference/gen_lora_fixtures.py", "adapters": adapter_files, "cases": {}}
    for ci, case in enumerate(CASES):
        cfg, w = bases[case["base"]]
        merged = {k: v.to(F64).clone() for k, v in w.items()}
        for name, s in case["adapters"]:
            for k, d in deltas[name].items():
                merged[k] += s * d
        ref, base_ref = model_ref.RefModel(cfg, merged), model_ref.RefModel(cfg, w)
        seqs = []
        for ids in sequences(cfg, 300 + ci):
            mean, _, n = ref.nll(ids)
            base_mean, _, _ = base_ref.nll(ids)
            last = ref.logits(ids)[-1]
            # The adapter must matter, or the test could not tell applied from ignored.
            change = float((last - base_ref.logits(ids)[-1]).norm() / last.norm())
            assert change > 0.1, (case["name"], change)
            seqs.append({"tokens": ids, "mean_nll": mean, "base_mean_nll": base_mean, "n_scored": n,
                         "last_logits": [round(float(x), 7) for x in last]})
        goldens["cases"][case["name"]] = {"base": case["base"], "adapters": case["adapters"], "sequences": seqs}
        print(f"{case['name']}: nll {[round(s['mean_nll'], 4) for s in seqs]} base {[round(s['base_mean_nll'], 4) for s in seqs]}")
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(goldens, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
