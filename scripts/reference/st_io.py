"""Minimal safetensors writer/reader (no external `safetensors` package).

Format: 8-byte little-endian u64 header length N, then N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__": {str: str}},
padded with spaces to a multiple of 8, then the raw little-endian tensor data.
Tensors are handled as torch tensors (F32, F16, BF16 supported, plus F64/I32/I64 for completeness).
"""
import json
import struct

import torch

_DT = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int32: "I32",
    torch.int64: "I64",
}
_DT_INV = {v: k for k, v in _DT.items()}
# dtype used to reinterpret raw bytes when going through numpy-free byte views
_RAW = {torch.float16: torch.int16, torch.bfloat16: torch.int16}


def _to_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype in _RAW:
        t = t.view(_RAW[t.dtype])
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()


def save(tensors, path, metadata=None):
    """tensors: dict name -> torch tensor. Names written in sorted order."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _DT:
            raise ValueError(f"unsupported dtype {t.dtype} for {name}")
        b = _to_bytes(t)
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> torch tensor in stored dtype, metadata dict or {})."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        dt = _DT_INV[info["dtype"]]
        b, e = info["data_offsets"]
        raw = bytearray(data[base + b: base + e])
        if dt in _RAW:
            t = torch.frombuffer(raw, dtype=_RAW[dt]).view(dt) if len(raw) else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if len(raw) else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def load_model_dir(d):
    """Loads model.safetensors or a sharded set via model.safetensors.index.json."""
    import os
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(wm.values())):
            t, _ = load(os.path.join(d, shard))
            for k, v in t.items():
                if wm.get(k) != shard:
                    raise ValueError(f"{k} found in {shard} but index says {wm.get(k)}")
                out[k] = v
        missing = set(wm) - set(out)
        if missing:
            raise ValueError(f"index lists tensors not found: {sorted(missing)}")
        return out
    t, _ = load(os.path.join(d, "model.safetensors"))
    return t
