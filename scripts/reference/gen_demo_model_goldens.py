#!/usr/bin/python3
"""Goldens for the project's own demo base model (models/trellis-kjv-3m/model.gguf).

Regenerate after every change to the committed model file (from the repository root):

    /usr/bin/python3 scripts/reference/gen_demo_model_goldens.py [MODEL.gguf]

The model path is the argument, else $TRELLIS_DEMO_MODEL, else models/trellis-kjv-3m/model.gguf.
Output: tests/data/demo_model/goldens.json (or $TRELLIS_DEMO_GOLDENS), checked by
tests/test_demo_model.cpp, which refuses goldens whose SHA-256 is not that of the model file.
Needs torch, numpy and Debian's python3-regex; no network, no Trellis C++ output is used.

Everything is computed here, independently of the engine:
  * weights: read with gguf_read.py (F16/F32 only), GGUF names mapped to Hugging Face names, and
    llama.cpp's Q/K row permutation undone (a llama GGUF stores attn_q/attn_k rows of each head
    as interleaved pairs (2i, 2i+1) for interleaved RoPE; model_ref.py uses HF rotate-half, whose
    pairs are (i, i + head_dim/2)). The un-permuted model is checked against a direct float64
    interleaved-RoPE forward on the unchanged GGUF weights before anything is written.
  * model: model_ref.RefModel (float64, HF semantics), config from the GGUF metadata.
  * tokens: a plain byte-level BPE encoder written here: GPT-2 split pattern (Python `regex`),
    GPT-2's byte-to-Unicode table, then in each word the lowest-rank adjacent pair of
    tokenizer.ggml.merges is merged until none applies; BOS prepended when add_bos_token is set.
    Special tokens are not matched inside the texts (they contain none).

Golden fields (per text): ids (BOS + text), mean_nll over positions 1..T-1 (float64),
last_top5 (ids and logits of the five largest logits at the last position, largest first) and
last_top6_logit (the sixth largest, so a test can tell how close the boundary is). Greedy:
argmax continuation of the prompt, full recomputation each step, first index on ties, no EOS
stop; min_margin is the smallest top-1 minus top-2 logit gap over its steps.
"""
import hashlib
import json
import math
import os
import sys

import numpy as np
import regex
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_read  # noqa: E402
import model_ref  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_MODEL = "models/trellis-kjv-3m/model.gguf"
DEFAULT_OUT = "tests/data/demo_model/goldens.json"

TEXTS = [
    "In the beginning God created the heaven and the earth.",
    ("And the LORD spake unto Moses, saying,\nSpeak unto the children of Israel, that they bring me "
     "an offering: of every man that giveth it willingly with his heart ye shall take my offering."),
    "On 3 March 2024, at 10:45, the team shipped version 2.5 -- it's 40% faster (and cheaper)!",
]
GREEDY_PROMPT = "And God said unto"
GREEDY_NEW = 30

# GPT-2's pre-tokenizer pattern (OpenAI encoder.py / Hugging Face ByteLevel).
GPT2_SPLIT = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")

GGUF_TO_HF = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
GGUF_LAYER_TO_HF = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


# ------------------------------------------------------------------------------------------
# Tokenizer
# ------------------------------------------------------------------------------------------
def gpt2_byte_chars():
    """byte value -> the Unicode character GPT-2 uses for it: '!'..'~', '¡'..'¬' and '®'..'ÿ'
    stand for themselves; the remaining 68 bytes take U+0100, U+0101, ... in byte order."""
    keep = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    out, nxt = [], 0x100
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(nxt))
            nxt += 1
    return out


class ByteBpe:
    def __init__(self, g):
        if g.kv.get("tokenizer.ggml.model") != "gpt2":
            raise SystemExit(f"tokenizer.ggml.model is {g.kv.get('tokenizer.ggml.model')!r}, expected 'gpt2'")
        pre = g.kv.get("tokenizer.ggml.pre", "gpt-2")
        if pre not in ("gpt-2", "default"):
            raise SystemExit(f"tokenizer.ggml.pre is {pre!r}; this encoder implements only the GPT-2 split")
        self.tokens = g.kv["tokenizer.ggml.tokens"]
        self.id_of = {t: i for i, t in enumerate(self.tokens)}
        if len(self.id_of) != len(self.tokens):
            raise SystemExit("duplicate token texts in tokenizer.ggml.tokens")
        self.rank = {}
        for r, m in enumerate(g.kv["tokenizer.ggml.merges"]):
            a, b = m.split(" ")
            self.rank.setdefault((a, b), r)
        self.chars = gpt2_byte_chars()
        self.bos = g.kv.get("tokenizer.ggml.bos_token_id")
        self.add_bos = bool(g.kv.get("tokenizer.ggml.add_bos_token", False))
        if self.add_bos and self.bos is None:
            raise SystemExit("add_bos_token set but no bos_token_id")

    def word(self, w):
        parts = [self.chars[b] for b in w.encode("utf-8")]
        while len(parts) > 1:
            best, at = None, -1
            for i in range(len(parts) - 1):
                r = self.rank.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            parts[at:at + 2] = [parts[at] + parts[at + 1]]
        missing = [p for p in parts if p not in self.id_of]
        if missing:
            raise SystemExit(f"pieces {missing} of {w!r} are not tokens")
        return [self.id_of[p] for p in parts]

    def encode(self, text):
        ids = [self.bos] if self.add_bos else []
        for w in GPT2_SPLIT.findall(text):
            ids += self.word(w)
        return ids

    def decode(self, ids):
        back = {c: b for b, c in enumerate(self.chars)}
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            if all(c in back for c in t):
                out += bytes(back[c] for c in t)
            else:
                out += t.encode("utf-8")
        return out.decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------------
# Weights and config
# ------------------------------------------------------------------------------------------
def unpermute_rows(w, n_head):
    """GGUF (interleaved) row order -> HF (rotate-half) row order for one attn_q/attn_k matrix.

    Within head h (head_dim d, half = d/2) the GGUF row h*d + 2i + j (j in {0, 1}) is HF row
    h*d + j*half + i. So HF row h*d + j*half + i is taken from GGUF row h*d + 2i + j."""
    rows = w.shape[0]
    d = rows // n_head
    half = d // 2
    src = np.empty(rows, dtype=np.int64)
    for h in range(n_head):
        for j in range(2):
            for i in range(half):
                src[h * d + j * half + i] = h * d + 2 * i + j
    return w[torch.from_numpy(src)]


def repermute_rows(w, n_head):
    """llama.cpp convert_hf_to_gguf's permute (HF -> GGUF): used only to check unpermute_rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def config_from_gguf(g):
    arch = g.kv.get("general.architecture")
    if arch != "llama":
        raise SystemExit(f"general.architecture is {arch!r}; this script handles llama only")
    p = "llama."
    n_embd = int(g.kv[p + "embedding_length"])
    n_head = int(g.kv[p + "attention.head_count"])
    head_dim = int(g.kv.get(p + "attention.key_length", n_embd // n_head))
    if head_dim != n_embd // n_head or int(g.kv.get(p + "rope.dimension_count", head_dim)) != head_dim:
        raise SystemExit("head_dim / rope.dimension_count other than n_embd / n_head are not handled here")
    if p + "rope.scaling.type" in g.kv or p + "rope.scale_linear" in g.kv:
        raise SystemExit("RoPE scaling is not handled by this script")
    return {
        "model_type": "llama",
        "hidden_size": n_embd,
        "intermediate_size": int(g.kv[p + "feed_forward_length"]),
        "num_hidden_layers": int(g.kv[p + "block_count"]),
        "num_attention_heads": n_head,
        "num_key_value_heads": int(g.kv.get(p + "attention.head_count_kv", n_head)),
        "rms_norm_eps": float(g.kv.get(p + "attention.layer_norm_rms_epsilon", 1e-5)),
        "rope_theta": float(g.kv.get(p + "rope.freq_base", 10000.0)),
        "tie_word_embeddings": "output.weight" not in g.tensors,
        "hidden_act": "silu",
    }


def hf_tensors(g, cfg):
    """(HF-named rotate-half tensors, GGUF-named tensors as stored), both float64."""
    out, raw = {}, {}
    for name in g.tensors:
        x = g.tensor(name).to(torch.float64)
        raw[name] = x
        if name in GGUF_TO_HF:
            out[GGUF_TO_HF[name]] = x
            continue
        parts = name.split(".")
        if len(parts) != 4 or parts[0] != "blk" or parts[2] not in GGUF_LAYER_TO_HF or parts[3] != "weight":
            raise SystemExit(f"unexpected tensor {name}")
        if parts[2] in ("attn_q", "attn_k"):
            n = cfg["num_attention_heads"] if parts[2] == "attn_q" else cfg["num_key_value_heads"]
            hf = unpermute_rows(x, n)
            if not torch.equal(repermute_rows(hf, n), x):
                raise SystemExit(f"{name}: un-permutation is not the inverse of llama.cpp's permute")
            x = hf
        out[f"model.layers.{parts[1]}.{GGUF_LAYER_TO_HF[parts[2]]}.weight"] = x
    return out, raw


def interleaved_logits(cfg, raw, ids):
    """Direct float64 forward on the GGUF tensors as stored, RoPE rotating adjacent pairs
    (2i, 2i+1) of each head (llama.cpp's rope mode 0). Guards the Q/K un-permutation."""
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, T = H // nh, cfg["rms_norm_eps"], len(ids)
    inv = cfg["rope_theta"] ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]  # [T, hd/2]
    c, s = ang.cos(), ang.sin()

    def rope(x):  # [T, heads, hd]
        a, b = x[..., 0::2], x[..., 1::2]
        y = torch.empty_like(x)
        y[..., 0::2] = a * c[:, None, :] - b * s[:, None, :]
        y[..., 1::2] = a * s[:, None, :] + b * c[:, None, :]
        return y

    def rn(x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w

    x = raw["token_embd.weight"][torch.tensor(ids)]
    for l in range(cfg["num_hidden_layers"]):
        p = f"blk.{l}."
        h = rn(x, raw[p + "attn_norm.weight"])
        q = rope((h @ raw[p + "attn_q.weight"].T).view(T, nh, hd))
        k = rope((h @ raw[p + "attn_k.weight"].T).view(T, nkv, hd))
        v = (h @ raw[p + "attn_v.weight"].T).view(T, nkv, hd)
        heads = []
        for hh in range(nh):
            kv = hh // (nh // nkv)
            sc = q[:, hh] @ k[:, kv].T / math.sqrt(hd)
            sc = sc.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
            heads.append(torch.softmax(sc, -1) @ v[:, kv])
        x = x + torch.cat(heads, -1) @ raw[p + "attn_output.weight"].T
        h = rn(x, raw[p + "ffn_norm.weight"])
        gt = h @ raw[p + "ffn_gate.weight"].T
        x = x + (gt * torch.sigmoid(gt) * (h @ raw[p + "ffn_up.weight"].T)) @ raw[p + "ffn_down.weight"].T
    out = raw.get("output.weight", raw["token_embd.weight"])
    return rn(x, raw["output_norm.weight"]) @ out.T


# ------------------------------------------------------------------------------------------
def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def top(lg, k):
    v, i = torch.topk(lg, k)
    return [int(x) for x in i], [float(x) for x in v]


def main():
    torch.set_num_threads(1)
    model_path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TRELLIS_DEMO_MODEL", DEFAULT_MODEL)
    if not os.path.isabs(model_path) and not os.path.exists(model_path):
        model_path = os.path.join(REPO, model_path)
    out_path = os.environ.get("TRELLIS_DEMO_GOLDENS", os.path.join(REPO, DEFAULT_OUT))
    g = gguf_read.GGUF(model_path)
    cfg = config_from_gguf(g)
    tensors, raw = hf_tensors(g, cfg)
    if tensors["model.embed_tokens.weight"].shape[0] != len(g.kv["tokenizer.ggml.tokens"]):
        raise SystemExit("vocabulary size and token_embd rows differ")
    model = model_ref.RefModel(cfg, tensors)
    tok = ByteBpe(g)

    texts = []
    summary = []
    for text in TEXTS:
        ids = tok.encode(text)
        if tok.decode(ids[1:] if tok.add_bos else ids) != text:
            raise SystemExit(f"BPE round trip failed for {text!r}")
        lg = model.logits(ids)
        alt = interleaved_logits(cfg, raw, ids)
        rel = float((lg - alt).abs().max() / lg.abs().max())
        if rel > 1e-12:
            raise SystemExit(f"rotate-half (un-permuted) vs interleaved forward differ: rel {rel:.3g}")
        mean, _, n = model.nll(ids)
        ids5, val5 = top(lg[-1], 6)
        texts.append({
            "text": text,
            "ids": ids,
            "n_scored": n,
            "mean_nll": mean,
            "last_top5": {"ids": ids5[:5], "logits": val5[:5]},
            "last_top6_logit": val5[5],
        })
        summary.append(f"{len(ids):3d} tokens  mean_nll {mean:.6f}  top5 {ids5[:5]}  "
                       f"interleaved-vs-rotate-half rel {rel:.1e}  {text[:40]!r}")

    prompt = tok.encode(GREEDY_PROMPT)
    ids = list(prompt)
    new, margin = [], math.inf
    for _ in range(GREEDY_NEW):
        lg = model.logits(ids)[-1]
        (a, _), (va, vb) = top(lg, 2)
        margin = min(margin, va - vb)
        new.append(a)
        ids.append(a)
    if margin < 1e-3:
        print(f"warning: greedy top-1/top-2 margin {margin:.2e} is small; float32 engines may differ")

    doc = {
        "generator": "scripts/reference/gen_demo_model_goldens.py (float64 PyTorch reference, HF semantics, "
                     "Python byte-level BPE)",
        "model_file": os.path.relpath(os.path.abspath(model_path), REPO) if os.path.abspath(model_path).startswith(REPO)
        else os.path.abspath(model_path),
        "model_sha256": sha256_of(model_path),
        "config": cfg,
        "notes": ("ids = BOS + byte-level BPE of text; mean_nll over positions 1..T-1 of ids; last_top5 = five "
                  "largest logits at position T-1, largest first; greedy: argmax, full recomputation, first "
                  "index on ties, no EOS stop; min_margin = smallest top1-top2 logit gap over the greedy steps"),
        "texts": texts,
        "greedy": {"prompt": GREEDY_PROMPT, "prompt_ids": prompt, "n_new": GREEDY_NEW, "tokens": new,
                   "min_margin": margin, "decoded": tok.decode(new)},
    }
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    # Numeric arrays on one line each (floats stay in Python's shortest round-trip form).
    text = regex.sub(r"\[\s*(-?[0-9][-0-9.eE+,\s]*?)\s*\]",
                     lambda m: "[" + ",".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print("\n".join(summary))
    print(f"greedy {GREEDY_PROMPT!r} -> {new}  (min margin {margin:.3g})  {tok.decode(new)!r}")
    print(f"wrote {out_path} (sha256 {doc['model_sha256'][:16]}...)")


if __name__ == "__main__":
    main()
