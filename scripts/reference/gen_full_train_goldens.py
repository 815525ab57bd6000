#!/usr/bin/env python3
"""Golden values for full training (`trellis train --full`), from float64 PyTorch autograd.

Regenerate (from the repository root, no network):

    /usr/bin/python3 scripts/reference/gen_full_train_goldens.py

Every weight of a fixture model (tests/data/models/<name>, Hugging Face form) is a leaf tensor;
a tied model's lm_head is the embedding matrix itself, so its gradient collects both uses.
Writes
  * tests/data/train/full_goldens.json: per model the batch (as in gen_train_goldens.py: token
    ids and label masks), the masked-mean loss, and a 10-step AdamW run (two micro-batches per
    step, loss normalised over both, global-norm clipping, the cosine schedule written out in
    gen_train_goldens.py) with its losses, learning rates and gradient norms;
  * tests/data/train/full_grads_<name>.safetensors: d loss / d weight for every tensor, F32,
    under its Hugging Face name.
Nothing here comes from the C++ code.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model_ref  # noqa: E402
import st_io  # noqa: E402
from gen_train_goldens import LoraRefModel, make_batch, schedule_lr  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELS = os.path.join(REPO, "tests", "data", "models")
OUT_DIR = os.path.join(REPO, "tests", "data", "train")
F64 = torch.float64


def trainable(name):
    m = model_ref.RefModel.from_dir(os.path.join(MODELS, name))
    for k in m.w:
        m.w[k] = m.w[k].detach().clone().requires_grad_(True)
    m.lm_head = m.w["model.embed_tokens.weight"] if m.tied else m.w["lm_head.weight"]
    return m


def nll_sum(m, batch):
    # The masked NLL sum of gen_train_goldens.py; it needs nothing LoRA-specific from the model.
    return LoraRefModel.batch_nll_sum(m, batch)


def params(m):
    return [m.w[k] for k in sorted(m.w)]


def main():
    cfg = {"steps": 10, "lr": 3e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01,
           "clip": 1.0, "warmup": 3, "schedule": "cosine", "min_lr_ratio": 0.1}
    out = {"generator": "scripts/reference/gen_full_train_goldens.py (float64 autograd, all weights trainable)",
           "step_config": cfg, "models": {}}
    for idx, name in enumerate(["llama_tied", "qwen2_tied", "qwen3_untied"]):
        gen = torch.Generator().manual_seed(2000 + idx)
        m = trainable(name)
        V = m.cfg["vocab_size"]
        batch = make_batch(gen, V, [11, 8, 5], [3, 0, 2])
        total, n = nll_sum(m, batch)
        loss = total / n
        loss.backward()
        grads = {k: m.w[k].grad.detach().float() for k in m.w}
        st_io.save(grads, os.path.join(OUT_DIR, f"full_grads_{name}.safetensors"),
                   {"generator": "scripts/reference/gen_full_train_goldens.py"})
        entry = {"batch": batch, "loss": float(loss), "n_scored": n}
        batch_a = make_batch(gen, V, [12, 7], [3, 1])
        batch_b = make_batch(gen, V, [10], [5])
        for p in params(m):
            p.grad = None
        opt = torch.optim.AdamW(params(m), lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                                weight_decay=cfg["weight_decay"])
        losses, lrs, norms = [], [], []
        for s in range(cfg["steps"]):
            opt.zero_grad()
            ta, na = nll_sum(m, batch_a)
            tb, nb = nll_sum(m, batch_b)
            step_loss = (ta + tb) / (na + nb)
            step_loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params(m), cfg["clip"])
            lr = schedule_lr(s, cfg["lr"], cfg["warmup"], cfg["steps"], cfg["schedule"], cfg["min_lr_ratio"])
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            losses.append(float(step_loss))
            lrs.append(lr)
            norms.append(float(norm))
        entry.update({"batch_a": batch_a, "batch_b": batch_b, "step_losses": losses, "step_lrs": lrs,
                      "step_grad_norms": norms})
        out["models"][name] = entry
        print(name, "loss", float(loss), "scored", n, "losses", losses[0], "->", losses[-1])
    with open(os.path.join(OUT_DIR, "full_goldens.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
