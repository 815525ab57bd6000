"""Minimal GGUF (v2/v3) reader: metadata key/values and tensor infos (plus F32/F16 tensor data).

Layout: magic "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv x (string key, u32 type, value);
n_tensors x (string name, u32 n_dims, u64 dims[n_dims] (ggml order, fastest first), u32 ggml_type,
u64 offset); pad to general.alignment (default 32); tensor data. Strings: u64 length + UTF-8 bytes.
"""
import struct
import sys

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
GGML_F32, GGML_F16 = 0, 1


class GGUF:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0
        if self.data[:4] != b"GGUF":
            raise ValueError("not a GGUF file")
        self.pos = 4
        self.version = self._u("<I")
        if self.version not in (2, 3):
            raise ValueError(f"unsupported GGUF version {self.version}")
        n_tensors = self._u("<Q")
        n_kv = self._u("<Q")
        self.kv = {}
        for _ in range(n_kv):
            key = self._str()
            typ = self._u("<I")
            self.kv[key] = self._val(typ)
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._str()
            nd = self._u("<I")
            dims = [self._u("<Q") for _ in range(nd)]
            typ = self._u("<I")
            off = self._u("<Q")
            self.tensors[name] = {"dims": dims, "type": typ, "offset": off}
        align = int(self.kv.get("general.alignment", 32))
        self.data_start = (self.pos + align - 1) // align * align

    def _u(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def _str(self):
        n = self._u("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8", errors="surrogateescape")
        self.pos += n
        return s

    def _val(self, typ):
        if typ in _SCALARS:
            return self._u(_SCALARS[typ])
        if typ == 8:
            return self._str()
        if typ == 9:
            et = self._u("<I")
            n = self._u("<Q")
            return [self._val(et) for _ in range(n)]
        raise ValueError(f"unknown GGUF value type {typ}")

    def tensor(self, name):
        """F32/F16 tensor as a torch tensor with numpy/torch (slowest-first) shape."""
        import torch
        info = self.tensors[name]
        n = 1
        for d in info["dims"]:
            n *= d
        start = self.data_start + info["offset"]
        if info["type"] == GGML_F32:
            t = torch.frombuffer(bytearray(self.data[start:start + 4 * n]), dtype=torch.float32)
        elif info["type"] == GGML_F16:
            t = torch.frombuffer(bytearray(self.data[start:start + 2 * n]), dtype=torch.float16)
        else:
            raise ValueError(f"tensor type {info['type']} not supported")
        return t.reshape(list(reversed(info["dims"])))


if __name__ == "__main__":
    g = GGUF(sys.argv[1])
    print("version", g.version)
    for k, v in g.kv.items():
        if isinstance(v, list):
            print(f"{k}: [{len(v)} items] {v[:8]}")
        else:
            print(f"{k}: {v!r}")
    for k, v in g.tensors.items():
        print(k, v)
