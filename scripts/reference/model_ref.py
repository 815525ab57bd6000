"""Independent float64 PyTorch reference for LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM.

Written from the Hugging Face `transformers` model definitions (semantics only; no dependency on
`transformers` or on any Trellis C++ code). All computation is float64; weights are upcast from
whatever dtype they were stored in (F32 / F16 / BF16), so a golden for a BF16 checkpoint is the
float64 function of the *rounded* weights.

Semantics implemented (HF names):
  x = embed_tokens[ids]
  per layer:
    h  = RMSNorm(x; input_layernorm)                  RMSNorm(x) = x * rsqrt(mean(x^2) + eps) * w
    q,k,v = q_proj(h), k_proj(h), v_proj(h)           (+ bias for qwen2)
    [qwen3] q = RMSNorm_headdim(q; q_norm), k = RMSNorm_headdim(k; k_norm)   (per head, before RoPE)
    q,k = RoPE rotate-half (cos/sin of pos * inv_freq; inv_freq_i = theta^(-2i/d), optional scaling)
    attention: GQA (kv head j serves q heads j*g .. j*g+g-1), causal, softmax(q k^T / sqrt(head_dim))
    x = x + o_proj(attn)
    x = x + down_proj(silu(gate_proj(h2)) * up_proj(h2)),  h2 = RMSNorm(x; post_attention_layernorm)
  logits = lm_head(RMSNorm(x; norm))   lm_head = embed_tokens when tie_word_embeddings
"""
import json
import math
import os

import torch

import st_io

F64 = torch.float64


def rope_inv_freq(cfg, head_dim):
    """Returns (inv_freq float64 [head_dim/2], position_scale). Mirrors HF rope init functions."""
    theta = float(cfg.get("rope_theta", 10000.0))
    rs = cfg.get("rope_scaling") or None
    # HF _compute_default_rope_parameters: 1/(base ** (arange(0, dim, 2)/dim))
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(F64) / head_dim))
    if rs is None:
        return inv_freq
    rtype = rs.get("rope_type", rs.get("type"))
    if rtype in (None, "default"):
        return inv_freq
    if rtype == "linear":
        # HF _compute_linear_scaling_rope_parameters: inv_freq /= factor (== positions / factor)
        return inv_freq / float(rs["factor"])
    if rtype == "llama3":
        # HF _compute_llama3_parameters
        factor = float(rs["factor"])
        low_freq_factor = float(rs["low_freq_factor"])
        high_freq_factor = float(rs["high_freq_factor"])
        old_context_len = float(rs["original_max_position_embeddings"])
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)
    raise ValueError(f"unsupported rope_scaling {rs}")


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class RefModel:
    def __init__(self, cfg, tensors):
        self.cfg = cfg
        mt = cfg["model_type"]
        if mt not in ("llama", "qwen2", "qwen3"):
            raise ValueError(f"unsupported model_type {mt}")
        self.mt = mt
        self.H = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads", self.nh)
        self.hd = cfg.get("head_dim") or self.H // self.nh
        self.L = cfg["num_hidden_layers"]
        self.eps = float(cfg["rms_norm_eps"])
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        self.w = {k: v.to(F64) for k, v in tensors.items()}
        if self.tied and "lm_head.weight" in self.w:
            raise ValueError("tied model must not carry lm_head.weight")
        self.lm_head = self.w["model.embed_tokens.weight"] if self.tied else self.w["lm_head.weight"]
        self.inv_freq = rope_inv_freq(cfg, self.hd)
        # qwen2 always has q/k/v bias; llama only when attention_bias is set
        self.qkv_bias = mt == "qwen2"
        if mt != "qwen2" and cfg.get("attention_bias", False):
            raise ValueError("attention_bias (q/k/v/o biases) for llama/qwen3 not supported by this reference")
        if cfg.get("mlp_bias", False):
            raise ValueError("mlp_bias not supported by this reference")
        if cfg.get("hidden_act", "silu") != "silu":
            raise ValueError("only hidden_act silu supported")

    @classmethod
    def from_dir(cls, d):
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        return cls(cfg, st_io.load_model_dir(d))

    def _lin(self, name, x, bias=False):
        y = x @ self.w[name + ".weight"].T
        if bias:
            y = y + self.w[name + ".bias"]
        return y

    def logits(self, ids):
        """ids: list[int] -> float64 logits [T, vocab] (full causal recomputation, no cache)."""
        w = self.w
        T = len(ids)
        x = w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        pos = torch.arange(T, dtype=F64)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()  # [T, hd]
        mask = torch.full((T, T), float("-inf"), dtype=F64).triu(1)
        g = self.nh // self.nkv
        for i in range(self.L):
            p = f"model.layers.{i}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
            q = self._lin(p + "self_attn.q_proj", h, self.qkv_bias).view(T, self.nh, self.hd).transpose(0, 1)
            k = self._lin(p + "self_attn.k_proj", h, self.qkv_bias).view(T, self.nkv, self.hd).transpose(0, 1)
            v = self._lin(p + "self_attn.v_proj", h, self.qkv_bias).view(T, self.nkv, self.hd).transpose(0, 1)
            if self.mt == "qwen3":
                q = rms_norm(q, w[p + "self_attn.q_norm.weight"], self.eps)
                k = rms_norm(k, w[p + "self_attn.k_norm.weight"], self.eps)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(g, dim=0)  # HF repeat_kv
            v = v.repeat_interleave(g, dim=0)
            s = q @ k.transpose(-1, -2) / math.sqrt(self.hd) + mask
            a = torch.softmax(s, dim=-1) @ v  # [nh, T, hd]
            a = a.transpose(0, 1).reshape(T, self.nh * self.hd)
            x = x + self._lin(p + "self_attn.o_proj", a)
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            gt = self._lin(p + "mlp.gate_proj", h)
            x = x + self._lin(p + "mlp.down_proj", torch.nn.functional.silu(gt) * self._lin(p + "mlp.up_proj", h))
        x = rms_norm(x, w["model.norm.weight"], self.eps)
        return x @ self.lm_head.T

    def nll(self, ids):
        """Returns (mean_nll, sum_nll, n_scored) over positions 1..T-1, float64."""
        if len(ids) < 2:
            return None, 0.0, 0
        lp = torch.log_softmax(self.logits(ids), dim=-1)
        tgt = torch.tensor(ids[1:], dtype=torch.long)
        nl = -lp[:-1].gather(1, tgt[:, None])[:, 0]
        s = float(nl.sum())
        return s / len(tgt), s, len(tgt)

    def greedy(self, prompt, n):
        """Greedy argmax continuation of n tokens, full recomputation each step, no EOS stop."""
        ids = list(prompt)
        out = []
        for _ in range(n):
            lg = self.logits(ids)[-1]
            t = int(torch.argmax(lg))  # first max on ties
            out.append(t)
            ids.append(t)
        return out
