#!/usr/bin/env python3
"""Golden values for Trellis's trainer, from autograd in the float64 PyTorch reference.

Regenerate (from the repository root, no network):

    /usr/bin/python3 scripts/reference/gen_train_goldens.py

Writes tests/data/train/goldens.json. Reuses scripts/reference/model_ref.py (written from the
Hugging Face model definitions) and adds LoRA exactly as PEFT does on every one of the seven
projections: y = W x + (alpha / r) * B (A x), A [r, in], B [out, r]. Nothing here comes from the
C++ code.

Per fixture model:
  * lora: fixed A (uniform +-1/sqrt(in)) and B (normal, std 0.05: nonzero so A gets gradients),
    keyed by PEFT module name, row-major flat lists;
  * batch: several sequences, each with a label mask (mask[i] = 1: token i is a training label,
    i.e. predicting it from token i-1 is scored; mask[0] is ignored);
  * loss = sum over sequences and scored positions of -log p(token_i | tokens_<i), divided by
    the total number of scored positions (a masked mean); grads = d loss / d A, d loss / d B.
  * steps (llama_tied and qwen3_tied only): 10 optimizer steps, each accumulating two
    micro-batches (batch_a, batch_b) with the loss normalised by the scored tokens of both;
    global-norm clipping (torch.nn.utils.clip_grad_norm_), then torch.optim.AdamW with the
    learning rate of the schedule below set before the step. losses[s] is the loss before step s.

Schedule (Trellis's definition, written out here independently): step s = 0, 1, ..., total-1;
  s < warmup: lr = base * (s + 1) / warmup
  else: p = (s - warmup) / max(1, total - warmup); cosine: lr = base * (min_ratio + (1 - min_ratio)
        * 0.5 * (1 + cos(pi * p))); linear: base * (min_ratio + (1 - min_ratio) * (1 - p)); constant: base.
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model_ref  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELS = os.path.join(REPO, "tests", "data", "models")
OUT = os.path.join(REPO, "tests", "data", "train", "goldens.json")
F64 = torch.float64
PROJ = [("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"), ("o", "self_attn.o_proj"),
        ("gate", "mlp.gate_proj"), ("up", "mlp.up_proj"), ("down", "mlp.down_proj")]


def schedule_lr(s, base, warmup, total, kind, min_ratio):
    if s < warmup:
        return base * (s + 1) / warmup
    p = (s - warmup) / max(1, total - warmup)
    if kind == "cosine":
        return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))
    if kind == "linear":
        return base * (min_ratio + (1 - min_ratio) * (1 - p))
    return base


class LoraRefModel(model_ref.RefModel):
    """RefModel with a LoRA branch on each adapted projection (PEFT semantics, no dropout)."""

    def __init__(self, cfg, tensors, rank, alpha):
        super().__init__(cfg, tensors)
        self.scale = alpha / rank
        self.lora = {}  # "model.layers.N.self_attn.q_proj" -> (A, B) leaf tensors

    def _lin(self, name, x, bias=False):
        y = super()._lin(name, x, bias)
        if name in self.lora:
            a, b = self.lora[name]
            y = y + self.scale * ((x @ a.T) @ b.T)
        return y

    def params(self):
        out = []
        for k in sorted(self.lora):
            out += list(self.lora[k])
        return out

    def batch_nll_sum(self, batch):
        total = torch.zeros((), dtype=F64)
        n = 0
        for seq in batch:
            ids, mask = seq["tokens"], seq["mask"]
            lp = torch.log_softmax(self.logits(ids), dim=-1)
            for i in range(1, len(ids)):
                if mask[i]:
                    total = total - lp[i - 1, ids[i]]
                    n += 1
        return total, n


def make_lora(m, rank, gen):
    for i in range(m.L):
        for _, suffix in PROJ:
            name = f"model.layers.{i}.{suffix}"
            w = m.w[name + ".weight"]
            out_f, in_f = w.shape
            bound = 1.0 / math.sqrt(in_f)
            a = (torch.rand(rank, in_f, generator=gen, dtype=F64) * 2 - 1) * bound
            b = torch.randn(out_f, rank, generator=gen, dtype=F64) * 0.05
            # The C++ side keeps A, B in F32: round here so both sides start from the same values.
            a = a.float().double().requires_grad_(True)
            b = b.float().double().requires_grad_(True)
            m.lora[name] = (a, b)


def make_batch(gen, vocab, lengths, prompt_lens):
    batch = []
    for length, plen in zip(lengths, prompt_lens):
        toks = torch.randint(3, vocab, (length,), generator=gen).tolist()
        toks[0] = 1 if vocab > 1 else 0
        mask = [0 if i < plen else 1 for i in range(length)]
        batch.append({"tokens": toks, "mask": mask})
    return batch


def lora_json(m):
    return {k: {"A": [float(x) for x in a.detach().flatten()], "B": [float(x) for x in b.detach().flatten()],
                "A_shape": list(a.shape), "B_shape": list(b.shape)} for k, (a, b) in sorted(m.lora.items())}


def grads_for(m, batch):
    for p in m.params():
        p.grad = None
    total, n = m.batch_nll_sum(batch)
    loss = total / n
    loss.backward()
    g = {k: {"A": [float(x) for x in a.grad.flatten()], "B": [float(x) for x in b.grad.flatten()]}
         for k, (a, b) in sorted(m.lora.items())}
    return float(loss), n, g


def run_steps(m, batch_a, batch_b, cfg):
    opt = torch.optim.AdamW(m.params(), lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                            weight_decay=cfg["weight_decay"])
    losses, lrs, norms = [], [], []
    for s in range(cfg["steps"]):
        opt.zero_grad()
        ta, na = m.batch_nll_sum(batch_a)
        tb, nb = m.batch_nll_sum(batch_b)
        loss = (ta + tb) / (na + nb)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(m.params(), cfg["clip"])
        lr = schedule_lr(s, cfg["lr"], cfg["warmup"], cfg["steps"], cfg["schedule"], cfg["min_lr_ratio"])
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        losses.append(float(loss))
        lrs.append(lr)
        norms.append(float(norm))
    return losses, lrs, norms


def main():
    rank, alpha = 4, 8.0
    out = {"generator": "scripts/reference/gen_train_goldens.py (float64 autograd, PEFT LoRA semantics)",
           "rank": rank, "alpha": alpha, "models": {}}
    step_cfg = {"steps": 10, "lr": 2e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01,
                "clip": 1.0, "warmup": 3, "schedule": "cosine", "min_lr_ratio": 0.1}
    out["step_config"] = step_cfg
    for idx, name in enumerate(["llama_tied", "llama_untied", "qwen2_tied", "qwen3_tied"]):
        gen = torch.Generator().manual_seed(1000 + idx)
        m = LoraRefModel.from_dir_lora(os.path.join(MODELS, name), rank, alpha)
        make_lora(m, rank, gen)
        V = m.cfg["vocab_size"]
        batch = make_batch(gen, V, [13, 9, 6], [4, 0, 2])
        entry = {"lora": lora_json(m), "batch": batch}
        loss, n, g = grads_for(m, batch)
        entry.update({"loss": loss, "n_scored": n, "grads": g})
        if name in ("llama_tied", "qwen3_tied"):
            batch_a = make_batch(gen, V, [12, 7], [3, 1])
            batch_b = make_batch(gen, V, [10], [5])
            losses, lrs, norms = run_steps(m, batch_a, batch_b, step_cfg)
            entry.update({"batch_a": batch_a, "batch_b": batch_b, "step_losses": losses, "step_lrs": lrs,
                          "step_grad_norms": norms})
        out["models"][name] = entry
        print(name, "loss", loss, "scored", n)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT)


def _from_dir_lora(cls, d, rank, alpha):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return cls(cfg, model_ref.st_io.load_model_dir(d), rank, alpha)


LoraRefModel.from_dir_lora = classmethod(_from_dir_lora)

if __name__ == "__main__":
    main()
