#!/usr/bin/env python3
"""Generate tiny fixture models and golden values for Trellis's tests.

Regenerate (from the repository root, no network, no pip):

    /usr/bin/python3 scripts/reference/gen_fixtures.py

Needs only torch (1.13 is enough) and numpy. Output (deterministic: fixed seeds):
  tests/data/models/<name>/config.json + model.safetensors     (or sharded + model.safetensors.index.json)
  tests/data/models/goldens.json                                 (logits / NLL / greedy goldens)
  tests/data/models/stories260K_goldens.json                     (only when ../shared/models/stories260K exists,
                                                                  i.e. /work/shared or <repo>/../shared)

All goldens come from this Python reference only (scripts/reference/model_ref.py, float64, written
from the Hugging Face model definitions), never from the C++ engine. Goldens are computed by reading
the fixture files back from disk, so BF16/F16 fixtures get goldens of their rounded weights.
The script cross-checks the float64 reference against an independent float32 KV-cache
implementation in this file (within 1e-5 relative) before writing anything.
"""
import json
import math
import os
import random
import re
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_read  # noqa: E402
import model_ref  # noqa: E402
import st_io  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "tests", "data", "models")

SEQ_LENGTHS = [1, 7, 70]
GREEDY_PROMPT_LEN = 5  # bos + 4 tokens
GREEDY_NEW = 16

# name, model_type, dims, options. Each model gets its own seed (index-based, stable).
LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 32}
SPECS = [
    dict(name="llama_tied", mt="llama", H=64, L=2, I=64, V=256, nh=4, nkv=2, tied=True, seed=101),
    dict(name="llama_untied", mt="llama", H=32, L=2, I=64, V=320, nh=4, nkv=2, tied=False, seed=102),
    dict(name="llama_rope_llama3", mt="llama", H=64, L=2, I=64, V=256, nh=4, nkv=2, tied=True, seed=103,
         rope_scaling=LLAMA3_ROPE, max_pos=256),
    dict(name="llama_rope_linear", mt="llama", H=32, L=2, I=64, V=256, nh=4, nkv=2, tied=True, seed=104,
         rope_scaling={"rope_type": "linear", "factor": 2.0}, max_pos=256, theta=500.0),
    dict(name="qwen2_tied", mt="qwen2", H=32, L=2, I=96, V=256, nh=4, nkv=2, tied=True, seed=105,
         theta=1000000.0, eps=1e-6),
    dict(name="qwen2_untied", mt="qwen2", H=32, L=3, I=96, V=288, nh=4, nkv=1, tied=False, seed=106,
         theta=1000000.0, eps=1e-6),
    dict(name="qwen3_tied", mt="qwen3", H=64, L=2, I=64, V=256, nh=4, nkv=2, hd=32, tied=True, seed=107,
         theta=1000000.0, eps=1e-6),
    dict(name="qwen3_untied", mt="qwen3", H=32, L=2, I=96, V=256, nh=4, nkv=2, hd=16, tied=False, seed=108,
         theta=1000000.0, eps=1e-6),
]
# Derived variants: same weights as `src`, stored differently.
VARIANTS = [
    dict(name="llama_tied_bf16", src="llama_tied", dtype="BF16"),
    dict(name="qwen2_tied_f16", src="qwen2_tied", dtype="F16"),
    dict(name="llama_untied_sharded", src="llama_untied", dtype="F32", shards=2),
]
TORCH_DT = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
CFG_DT = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


def special_ids(s):
    # Llama fixtures: bos 1, eos 2 (SentencePiece convention). Qwen fixtures: bos/eos at the end of the
    # vocabulary (like real Qwen, whose specials follow the BPE tokens), so engines must read the config.
    if s["mt"] == "llama":
        return 1, 2
    return s["V"] - 2, s["V"] - 1


def make_config(s, dtype="F32"):
    bos, eos = special_ids(s)
    arch = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[s["mt"]]
    c = {
        "architectures": [arch],
        "model_type": s["mt"],
        "hidden_size": s["H"],
        "intermediate_size": s["I"],
        "num_hidden_layers": s["L"],
        "num_attention_heads": s["nh"],
        "num_key_value_heads": s["nkv"],
    }
    if s["mt"] == "qwen3":
        c["head_dim"] = s["hd"]
    c.update({
        "vocab_size": s["V"],
        "max_position_embeddings": s.get("max_pos", 128),
        "rms_norm_eps": s.get("eps", 1e-5),
        "rope_theta": s.get("theta", 10000.0),
        "rope_scaling": s.get("rope_scaling"),
        "hidden_act": "silu",
        "tie_word_embeddings": s["tied"],
        "bos_token_id": bos,
        "eos_token_id": eos,
        "torch_dtype": CFG_DT[dtype],
        "initializer_range": 0.02,
        "use_cache": True,
    })
    if s["mt"] == "llama":
        c["attention_bias"] = False
        c["mlp_bias"] = False
    else:
        c["use_sliding_window"] = False
        c["sliding_window"] = None
        c["max_window_layers"] = s["L"]
        if s["mt"] == "qwen3":
            c["attention_bias"] = False
    return c


def make_weights(s):
    """Random float32 weights, HF names. Scales chosen so activations stay O(1) and logits have
    std ~2.5 (softmax far from flat): linear W ~ N(0, g^2/in) with g = 1.5 for q/k, 3 for o/down (block
    outputs dominate the residual so greedy runs are not one repeated token), 1 otherwise;
    embeddings/lm_head ~ N(0, 2.5^2/H),
    norms ~ 1 + N(0, 0.1^2), qwen2 biases ~ N(0, 0.2^2)."""
    g = torch.Generator().manual_seed(s["seed"])
    H, I, V, nh, nkv = s["H"], s["I"], s["V"], s["nh"], s["nkv"]
    hd = s.get("hd", H // nh)
    w = {}

    def lin(name, out, inp, gain=1.0):
        w[name] = torch.randn(out, inp, generator=g, dtype=torch.float64) * (gain / math.sqrt(inp))

    def norm(name, n):
        w[name] = 1.0 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)

    w["model.embed_tokens.weight"] = torch.randn(V, H, generator=g, dtype=torch.float64) * (2.5 / math.sqrt(H))
    for i in range(s["L"]):
        p = f"model.layers.{i}."
        norm(p + "input_layernorm.weight", H)
        lin(p + "self_attn.q_proj.weight", nh * hd, H, 1.5)
        lin(p + "self_attn.k_proj.weight", nkv * hd, H, 1.5)
        lin(p + "self_attn.v_proj.weight", nkv * hd, H)
        lin(p + "self_attn.o_proj.weight", H, nh * hd, 3.0)
        if s["mt"] == "qwen2":
            for n, dim in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
                w[p + f"self_attn.{n}_proj.bias"] = 0.2 * torch.randn(dim, generator=g, dtype=torch.float64)
        if s["mt"] == "qwen3":
            norm(p + "self_attn.q_norm.weight", hd)
            norm(p + "self_attn.k_norm.weight", hd)
        norm(p + "post_attention_layernorm.weight", H)
        lin(p + "mlp.gate_proj.weight", I, H)
        lin(p + "mlp.up_proj.weight", I, H)
        lin(p + "mlp.down_proj.weight", H, I, 3.0)
    norm("model.norm.weight", H)
    if not s["tied"]:
        w["lm_head.weight"] = torch.randn(V, H, generator=g, dtype=torch.float64) * (2.5 / math.sqrt(H))
    return {k: v.to(torch.float32) for k, v in w.items()}


def write_model(d, cfg, weights, dtype, shards=1):
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    tw = {k: v.to(TORCH_DT[dtype]) for k, v in weights.items()}
    meta = {"format": "pt", "generator": "trellis scripts/reference/gen_fixtures.py"}
    if shards == 1:
        st_io.save(tw, os.path.join(d, "model.safetensors"), meta)
        return
    # Shard 1: embeddings + first layer; shard 2: everything else.
    names = sorted(tw)
    first = [n for n in names if n.startswith("model.embed_tokens") or n.startswith("model.layers.0.")]
    rest = [n for n in names if n not in first]
    wm = {}
    for k, group in enumerate((first, rest)):
        fn = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        st_io.save({n: tw[n] for n in group}, os.path.join(d, fn), meta)
        for n in group:
            wm[n] = fn
    total = sum(t.numel() * t.element_size() for t in tw.values())
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# Independent float32 implementation (token-by-token with a KV cache, per-head loops, pairwise
# rotation, llama3 scaling written as Meta's per-frequency `apply_scaling`). Guards the reference.
# ---------------------------------------------------------------------------------------------
def f32_inv_freq(cfg, hd):
    theta = float(cfg.get("rope_theta", 10000.0))
    freqs = [theta ** (-(2.0 * i) / hd) for i in range(hd // 2)]
    rs = cfg.get("rope_scaling")
    if not rs:
        return freqs
    if rs["rope_type"] == "linear":
        return [f / rs["factor"] for f in freqs]
    assert rs["rope_type"] == "llama3"
    sf, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < old / hi:
            out.append(f)
        elif wl > old / lo:
            out.append(f / sf)
        else:
            sm = (old / wl - lo) / (hi - lo)
            out.append((1 - sm) * f / sf + sm * f)
    return out


def f32_logits(cfg, tensors, ids):
    W = {k: v.to(torch.float32) for k, v in tensors.items()}
    H, nh, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    nkv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // nh
    eps, mt = cfg["rms_norm_eps"], cfg["model_type"]
    inv = f32_inv_freq(cfg, hd)
    half = hd // 2

    def rn(x, w):
        return x / torch.sqrt((x * x).sum() / x.numel() + eps) * w

    def rope(v, pos):  # v: [hd], pairs (j, j+half)
        ang = torch.tensor([pos * f for f in inv], dtype=torch.float64)
        c, s = ang.cos().float(), ang.sin().float()
        a, b = v[:half], v[half:]
        return torch.cat((a * c - b * s, b * c + a * s))

    kc = [[[] for _ in range(nkv)] for _ in range(L)]
    vc = [[[] for _ in range(nkv)] for _ in range(L)]
    lm = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    outs = []
    for pos, tok in enumerate(ids):
        x = W["model.embed_tokens.weight"][tok].clone()
        for l in range(L):
            p = f"model.layers.{l}."
            h = rn(x, W[p + "input_layernorm.weight"])
            heads = []
            for j in range(nkv):
                sl = slice(j * hd, (j + 1) * hd)
                k = W[p + "self_attn.k_proj.weight"][sl] @ h
                v = W[p + "self_attn.v_proj.weight"][sl] @ h
                if mt == "qwen2":
                    k = k + W[p + "self_attn.k_proj.bias"][sl]
                    v = v + W[p + "self_attn.v_proj.bias"][sl]
                if mt == "qwen3":
                    k = rn(k, W[p + "self_attn.k_norm.weight"])
                kc[l][j].append(rope(k, pos))
                vc[l][j].append(v)
            for hh in range(nh):
                sl = slice(hh * hd, (hh + 1) * hd)
                q = W[p + "self_attn.q_proj.weight"][sl] @ h
                if mt == "qwen2":
                    q = q + W[p + "self_attn.q_proj.bias"][sl]
                if mt == "qwen3":
                    q = rn(q, W[p + "self_attn.q_norm.weight"])
                q = rope(q, pos)
                j = hh // (nh // nkv)
                K = torch.stack(kc[l][j])
                V = torch.stack(vc[l][j])
                sc = (K @ q) / math.sqrt(hd)
                e = torch.exp(sc - sc.max())
                heads.append((e / e.sum()) @ V)
            x = x + W[p + "self_attn.o_proj.weight"] @ torch.cat(heads)
            h = rn(x, W[p + "post_attention_layernorm.weight"])
            gt = W[p + "mlp.gate_proj.weight"] @ h
            u = W[p + "mlp.up_proj.weight"] @ h
            x = x + W[p + "mlp.down_proj.weight"] @ (gt / (1 + torch.exp(-gt)) * u)
        outs.append(lm @ rn(x, W["model.norm.weight"]))
    return torch.stack(outs)


def check_f32(name, model, tensors, ids, tol=1e-5):
    ref = model.logits(ids)
    alt = f32_logits(model.cfg, tensors, ids).to(torch.float64)
    rel = float((ref - alt).abs().max() / ref.abs().max())
    if rel > tol:
        raise SystemExit(f"{name}: float64 reference vs float32 implementation differ: rel {rel:.3g} > {tol}")
    return rel


def token_seqs(s, bos, eos):
    rng = random.Random(s["seed"] * 7919)
    lo, hi = 3, s["V"] - 3  # avoid 0..2 and the qwen specials at the top
    seqs = [[bos] + [rng.randrange(lo, hi) for _ in range(n - 1)] for n in SEQ_LENGTHS]
    prompt = [bos] + [rng.randrange(lo, hi) for _ in range(GREEDY_PROMPT_LEN - 1)]
    return seqs, prompt


def golden_for(name, d, s, dtype, summary):
    model = model_ref.RefModel.from_dir(d)
    tensors = st_io.load_model_dir(d)
    cfg = model.cfg
    if cfg["tie_word_embeddings"] and "lm_head.weight" in tensors:
        raise SystemExit(f"{name}: tied model has lm_head.weight")
    if not cfg["tie_word_embeddings"] and "lm_head.weight" not in tensors:
        raise SystemExit(f"{name}: untied model lacks lm_head.weight")
    want = TORCH_DT[dtype]
    bad = [k for k, v in tensors.items() if v.dtype != want]
    if bad:
        raise SystemExit(f"{name}: tensors not {dtype}: {bad[:3]}")
    bos, eos = cfg["bos_token_id"], cfg["eos_token_id"]
    seqs, prompt = token_seqs(s, bos, eos)
    entries = []
    rels = []
    for ids in seqs:
        lg = model.logits(ids)
        mean, tot, n = model.nll(ids)
        rels.append(check_f32(name, model, tensors, ids))
        entries.append({
            "tokens": ids,
            "n_scored": n,
            "mean_nll": mean,
            "sum_nll": tot,
            "first_logits": [float(v) for v in lg[0]],
            "last_logits": [float(v) for v in lg[-1]],
        })
    greedy = model.greedy(prompt, GREEDY_NEW)
    long = entries[-1]
    if cfg.get("rope_scaling"):
        # The scaling must matter at the test positions (else the fixture tests nothing).
        plain = model_ref.RefModel(dict(cfg, rope_scaling=None), tensors).logits(long["tokens"])
        scaled = model.logits(long["tokens"])
        rd = float((plain - scaled).abs().max() / scaled.abs().max())
        if rd < 1e-2:
            raise SystemExit(f"{name}: rope scaling barely changes logits ({rd:.2e})")
        if cfg["rope_scaling"]["rope_type"] == "llama3":
            rs = cfg["rope_scaling"]
            hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
            wl = [2 * math.pi * cfg["rope_theta"] ** (2.0 * i / hd) for i in range(hd // 2)]
            old = rs["original_max_position_embeddings"]
            bands = {("high" if w < old / rs["high_freq_factor"] else "low" if w > old / rs["low_freq_factor"] else "mid")
                     for w in wl}
            if bands != {"high", "mid", "low"}:
                raise SystemExit(f"{name}: llama3 rope bands exercised: {bands}")
            if len(long["tokens"]) <= old:
                raise SystemExit(f"{name}: test sequence not longer than original_max_position_embeddings")
        summary.append(f"{name}: rope scaling changes logits by {rd:.2f} (rel)")
    lg = model.logits(long["tokens"])
    summary.append(f"{name:22s} {dtype:4s} V={cfg['vocab_size']:3d} H={cfg['hidden_size']:2d} "
                   f"logit std={float(lg.std()):.2f} mean_nll(T={len(long['tokens'])})={long['mean_nll']:.4f} "
                   f"(uniform {math.log(cfg['vocab_size']):.3f}) f32 rel={max(rels):.1e} greedy={greedy}")
    return {
        "dir": os.path.relpath(d, OUT),
        "architecture": cfg["architectures"][0],
        "weight_dtype": dtype,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "sequences": entries,
        "greedy": {"prompt": prompt, "n_new": GREEDY_NEW, "tokens": greedy},
    }


def dumps_compact(doc):
    """Indented JSON with numeric arrays kept on one line (floats in shortest round-trip form)."""
    s = json.dumps(doc, indent=1, ensure_ascii=False)
    s = re.sub(r"\[\s*(-?[0-9][-0-9.eE+,\s]*?)\s*\]", lambda m: "[" + ",".join(x.strip() for x in m.group(1).split(",")) + "]", s)
    return s + "\n"


def fixtures():
    os.makedirs(OUT, exist_ok=True)
    summary = []
    goldens = {}
    by_name = {}
    for s in SPECS:
        w = make_weights(s)
        by_name[s["name"]] = (s, w)
        d = os.path.join(OUT, s["name"])
        write_model(d, make_config(s), w, "F32")
        goldens[s["name"]] = golden_for(s["name"], d, s, "F32", summary)
    for v in VARIANTS:
        s, w = by_name[v["src"]]
        d = os.path.join(OUT, v["name"])
        write_model(d, make_config(s, v["dtype"]), w, v["dtype"], v.get("shards", 1))
        g = golden_for(v["name"], d, s, v["dtype"], summary)
        g["same_weights_as"] = v["src"]
        goldens[v["name"]] = g
    # The sharded copy holds identical F32 weights: its goldens must be bit-identical.
    if goldens["llama_untied_sharded"]["sequences"] != goldens["llama_untied"]["sequences"]:
        raise SystemExit("sharded model goldens differ from the unsharded ones")
    doc = {
        "generator": "scripts/reference/gen_fixtures.py (float64 PyTorch reference, HF semantics)",
        "notes": ("logits are float64 from the float64 reference on the stored (possibly rounded) weights; "
                  "mean_nll = mean over t=1..T-1 of -log softmax(logits[t-1])[tokens[t]]; sum_nll is the sum; "
                  "n_scored = T-1 (mean_nll null when T=1); first_logits = logits at position 0, "
                  "last_logits = logits at position T-1; greedy = argmax continuation of n_new tokens after "
                  "prompt, full recomputation each step, first index on ties, no EOS stop"),
        "models": goldens,
    }
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        f.write(dumps_compact(doc))
    return summary


# ---------------------------------------------------------------------------------------------
# stories260K (real model from ../shared; read, never copied)
# ---------------------------------------------------------------------------------------------
def find_shared():
    for c in (os.path.join(REPO, "..", "shared"), "/work/shared"):
        if os.path.isdir(os.path.join(c, "models", "stories260K")):
            return os.path.abspath(c)
    return None


def gguf_logits_check(g, model, ids):
    """Rebuild the model from the GGUF's tensors (un-permuting llama.cpp's interleaved Q/K rows back
    to rotate-half order) and compare logits with the HF safetensors model."""
    cfg = model.cfg
    nh, nkv, H = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["hidden_size"]

    def unperm(w, n):  # inverse of llama.cpp convert's permute(w, n_head)
        return w.reshape(n, w.shape[0] // n // 2, 2, w.shape[1]).transpose(1, 2).reshape(w.shape)

    m = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
         "output.weight": "lm_head.weight"}
    per = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
           "attn_output": "self_attn.o_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
           "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    t = {}
    for name in g.tensors:
        x = g.tensor(name).to(torch.float32)
        if name in m:
            t[m[name]] = x
            continue
        _, l, kind, _ = name.split(".")
        if kind == "attn_q":
            x = unperm(x, nh)
        elif kind == "attn_k":
            x = unperm(x, nkv)
        t[f"model.layers.{l}.{per[kind]}.weight"] = x
    c2 = dict(cfg, tie_word_embeddings="lm_head.weight" not in t)
    alt = model_ref.RefModel(c2, t).logits(ids)
    ref = model.logits(ids)
    return float((ref - alt).abs().max() / ref.abs().max())


def stories(shared):
    d = os.path.join(shared, "models", "stories260K")
    g = gguf_read.GGUF(os.path.join(d, "stories260K.gguf"))
    vocab = g.kv["tokenizer.ggml.tokens"]
    piece_id = {p: i for i, p in enumerate(vocab)}
    words = ["Once", "upon", "a", "time"]
    ids = []
    for wd in words:
        p = "\u2581" + wd
        if p not in piece_id:
            raise SystemExit(f"stories260K: '{p}' is not a single piece in the vocabulary; not guessing")
        ids.append(piece_id[p])
    model = model_ref.RefModel.from_dir(os.path.join(d, "hf"))
    bos = model.cfg["bos_token_id"]
    assert bos == g.kv["tokenizer.ggml.bos_token_id"] == 1
    prompt = [bos] + ids
    new = model.greedy(prompt, 100)
    full = prompt + new
    mean, tot, n = model.nll(full)

    def decode(toks):
        out = []
        for t in toks:
            p = vocab[t]
            if p.startswith("<0x") and p.endswith(">") and len(p) == 6:
                out.append(chr(int(p[3:5], 16)))
            elif p in ("<s>", "</s>", "<unk>"):
                out.append(p)
            else:
                out.append(p.replace("\u2581", " "))
        return "".join(out)

    first_eos = new.index(2) if 2 in new else None
    gg = gguf_logits_check(g, model, full)
    lg = model.logits(full)
    doc = {
        "generator": "scripts/reference/gen_fixtures.py (float64 PyTorch reference on ../shared/models/stories260K/hf)",
        "model": "stories260K/hf (tied embeddings; GGUF tokenizer from stories260K.gguf)",
        "prompt_text": "Once upon a time",
        "prompt_pieces": ["\u2581" + w for w in words],
        "prompt_ids": prompt,
        "n_new": 100,
        "greedy_ids": new,
        "first_eos_index": first_eos,
        "full_ids": full,
        "decoded_prompt": decode(prompt[1:]),
        "decoded_greedy": decode(new),
        "decoded_full": decode(full[1:]),
        "mean_nll": mean,
        "sum_nll": tot,
        "n_scored": n,
        "first_logits": [float(v) for v in lg[0]],
        "last_logits": [float(v) for v in lg[-1]],
        "notes": ("greedy: argmax, full recomputation, no EOS stop (first_eos_index = index in greedy_ids of the "
                  "first token id 2, or null); decoding maps pieces with U+2581 -> space and <0xNN> -> byte; "
                  "mean_nll over the whole full_ids sequence (positions 1..T-1); first/last_logits at positions 0 "
                  "and T-1 of full_ids"),
    }
    with open(os.path.join(OUT, "stories260K_goldens.json"), "w", encoding="utf-8") as f:
        f.write(dumps_compact(doc))
    return [f"stories260K: prompt ids {prompt}; gguf-vs-hf logits rel diff {gg:.2e}; mean_nll {mean:.4f}; "
            f"first_eos_index {first_eos}", "  story: " + decode(full[1:])]


def main():
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    summary = fixtures()
    shared = find_shared()
    if shared:
        summary += stories(shared)
    else:
        summary.append("stories260K: ../shared not found, skipped (stories260K_goldens.json left as is)")
    print("\n".join(summary))
    total = 0
    for root, _, files in os.walk(OUT):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"tests/data/models total: {total / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
