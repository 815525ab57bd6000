#!/usr/bin/env python3
"""Writes the dequantization fixtures in tests/data/quant/.

For every GGUF type Trellis dequantizes, draws random block bytes (fp16 scale fields are
forced to finite values; every other byte is uniform random), decodes them with a plain
NumPy reading of the GGUF/ggml block layout and writes
    <TYPE>.bin  the raw blocks
    <TYPE>.f32  the expected values, little-endian float32
The decoders are written per element from the layout description (which byte, which bits,
which scale) rather than following the C++ loop structure. Every arithmetic step is done
in float32 in the same order as ggml (e.g. Q4_K: (d*sc)*q - dmin*m), so the C++ result
must match bit for bit.

Run with /usr/bin/python3 (needs numpy). Deterministic: fixed seed.
"""
import os
import sys

import numpy as np

N = 1024  # elements per fixture: 32 legacy blocks or 4 super-blocks
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "quant")
IQ4NL_TABLE = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                       dtype=np.float32)

rng = np.random.default_rng(20240611)
f32 = np.float32


def random_halves(count):
    """Finite fp16 values of mixed sign and magnitude, including a few zeros and subnormals."""
    mant = rng.normal(size=count) * np.exp2(rng.integers(-12, 5, size=count))
    h = mant.astype(np.float16)
    h[rng.random(count) < 0.05] = np.float16(0)
    sub = rng.random(count) < 0.05
    h[sub] = (rng.integers(1, 1024, size=sub.sum()).astype(np.uint16)).view(np.float16)
    assert np.all(np.isfinite(h))
    return h


def raw(nblocks, nbytes):
    return rng.integers(0, 256, size=(nblocks, nbytes), dtype=np.uint8)


def put_half(blocks, offset, halves):
    blocks[:, offset:offset + 2] = halves.astype("<f2").view(np.uint8).reshape(-1, 2)


def get_half(blocks, offset):
    return blocks[:, offset:offset + 2].copy().view("<f2").reshape(-1).astype(f32)


def col(v):
    return v.reshape(-1, 1)


# ---- 32-element blocks -------------------------------------------------------------------

def nibble_of_32(qs, e):
    """Element e of a 32-block: low nibble of byte e (e < 16), else high nibble of byte e-16."""
    return (qs[:, e] & 0xF) if e < 16 else (qs[:, e - 16] >> 4)


def nibbles_32(qs):
    return np.stack([nibble_of_32(qs, e) for e in range(32)], axis=1).astype(np.int32)


def high_bits_32(qh4):
    word = qh4.copy().view("<u4").reshape(-1, 1).astype(np.int64)
    return ((word >> np.arange(32)) & 1).astype(np.int32)


def gen_q4_0():
    b = raw(N // 32, 18)
    put_half(b, 0, random_halves(len(b)))
    d = get_half(b, 0)
    q = nibbles_32(b[:, 2:18]) - 8
    return b, col(d) * q.astype(f32)


def gen_q4_1():
    b = raw(N // 32, 20)
    put_half(b, 0, random_halves(len(b)))
    put_half(b, 2, random_halves(len(b)))
    d, m = get_half(b, 0), get_half(b, 2)
    q = nibbles_32(b[:, 4:20])
    return b, q.astype(f32) * col(d) + col(m)


def gen_q5_0():
    b = raw(N // 32, 22)
    put_half(b, 0, random_halves(len(b)))
    d = get_half(b, 0)
    q = nibbles_32(b[:, 6:22]) + 16 * high_bits_32(b[:, 2:6]) - 16
    return b, q.astype(f32) * col(d)


def gen_q5_1():
    b = raw(N // 32, 24)
    put_half(b, 0, random_halves(len(b)))
    put_half(b, 2, random_halves(len(b)))
    d, m = get_half(b, 0), get_half(b, 2)
    q = nibbles_32(b[:, 8:24]) + 16 * high_bits_32(b[:, 4:8])
    return b, q.astype(f32) * col(d) + col(m)


def gen_q8_0():
    b = raw(N // 32, 34)
    put_half(b, 0, random_halves(len(b)))
    d = get_half(b, 0)
    q = b[:, 2:34].view(np.int8).astype(f32)
    return b, q * col(d)


def gen_iq4_nl():
    b = raw(N // 32, 18)
    put_half(b, 0, random_halves(len(b)))
    d = get_half(b, 0)
    return b, col(d) * IQ4NL_TABLE[nibbles_32(b[:, 2:18])]


# ---- 256-element super-blocks ------------------------------------------------------------

def k4_scale_min(sc12):
    """6-bit (scale, min) of the 8 sub-blocks: sub-blocks 0-3 are the low 6 bits of bytes
    0-3 (scale) and 4-7 (min); sub-blocks 4-7 have low 4 bits in byte 8+i (scale: low
    nibble, min: high nibble) and top 2 bits in the top bits of byte i (scale) / 4+i (min)."""
    s = sc12.astype(np.int32)
    scale = np.zeros((len(s), 8), np.int32)
    mn = np.zeros((len(s), 8), np.int32)
    for i in range(4):
        scale[:, i] = s[:, i] & 0x3F
        mn[:, i] = s[:, 4 + i] & 0x3F
        scale[:, 4 + i] = (s[:, 8 + i] & 0xF) | ((s[:, i] >> 6) << 4)
        mn[:, 4 + i] = (s[:, 8 + i] >> 4) | ((s[:, 4 + i] >> 6) << 4)
    return scale, mn


def k4_low_nibbles(qs128):
    """Element e: group g = e // 64 owns bytes 32g..32g+31; the first 32 elements of the
    group are the low nibbles, the next 32 the high nibbles."""
    q = np.zeros((len(qs128), 256), np.int32)
    for e in range(256):
        g, r = divmod(e, 64)
        byte = qs128[:, 32 * g + r % 32].astype(np.int32)
        q[:, e] = (byte & 0xF) if r < 32 else (byte >> 4)
    return q


def k_dequant(d, dmin, sc12, q):
    scale, mn = k4_scale_min(sc12)
    sub = np.arange(256) // 32
    d_sub = col(d) * scale.astype(f32)        # float32 d * scale
    m_sub = col(dmin) * mn.astype(f32)
    return d_sub[:, sub] * q.astype(f32) - m_sub[:, sub]


def gen_q4_k():
    b = raw(N // 256, 144)
    put_half(b, 0, random_halves(len(b)))
    put_half(b, 2, random_halves(len(b)))
    return b, k_dequant(get_half(b, 0), get_half(b, 2), b[:, 4:16], k4_low_nibbles(b[:, 16:144]))


def gen_q5_k():
    b = raw(N // 256, 176)
    put_half(b, 0, random_halves(len(b)))
    put_half(b, 2, random_halves(len(b)))
    qh = b[:, 16:48].astype(np.int32)
    q = k4_low_nibbles(b[:, 48:176])
    for e in range(256):  # 5th bit of element e: bit (e // 32) of qh[e % 32]
        q[:, e] += 16 * ((qh[:, e % 32] >> (e // 32)) & 1)
    return b, k_dequant(get_half(b, 0), get_half(b, 2), b[:, 4:16], q)


def gen_q6_k():
    b = raw(N // 256, 210)
    put_half(b, 208, random_halves(len(b)))
    ql = b[:, 0:128].astype(np.int32)
    qh = b[:, 128:192].astype(np.int32)
    scales = b[:, 192:208].view(np.int8).astype(f32)
    d = get_half(b, 208)
    q = np.zeros((len(b), 256), np.int32)
    for e in range(256):
        # Each 128-element half h owns ql[64h:64h+64] and qh[32h:32h+32]; in it, quarter k
        # (32 elements) takes low 4 bits from ql[64h + 32*(k % 2) + l] (low nibble for k < 2,
        # high nibble for k >= 2) and high 2 bits from bits 2k, 2k+1 of qh[32h + l].
        h, r = divmod(e, 128)
        k, l = divmod(r, 32)
        lowbyte = ql[:, 64 * h + 32 * (k % 2) + l]
        low = (lowbyte & 0xF) if k < 2 else (lowbyte >> 4)
        high = (qh[:, 32 * h + l] >> (2 * k)) & 3
        q[:, e] = (low | (high << 4)) - 32
    sub = np.arange(256) // 16
    return b, (col(d) * scales)[:, sub] * q.astype(f32)


def gen_q8_k():
    b = raw(N // 256, 292)
    d = (rng.normal(size=len(b)) * 0.01).astype("<f4")
    b[:, 0:4] = d.view(np.uint8).reshape(-1, 4)
    q = b[:, 4:260].view(np.int8).astype(f32)
    return b, col(d.astype(f32)) * q


# ---- plain types ---------------------------------------------------------------------------

def gen_f32():
    v = (rng.normal(size=N) * np.exp2(rng.integers(-20, 20, size=N))).astype(f32)
    v[:4] = [0.0, -0.0, 1e-40, -3e-39]  # zeros and subnormals pass through unchanged
    return v.view(np.uint8).reshape(1, -1), v


def gen_f16():
    bits = rng.integers(0, 65536, size=N, dtype=np.uint16)
    bits[((bits >> 10) & 0x1F) == 0x1F] &= 0x83FF  # make inf/nan finite
    return bits.view(np.uint8).reshape(1, -1), bits.view(np.float16).astype(f32)


def gen_bf16():
    bits = rng.integers(0, 65536, size=N, dtype=np.uint16)
    bits[((bits >> 7) & 0xFF) == 0xFF] &= 0x807F
    v = (bits.astype(np.uint32) << 16).view(f32)
    return bits.view(np.uint8).reshape(1, -1), v


GENERATORS = [
    ("F32", gen_f32), ("F16", gen_f16), ("BF16", gen_bf16),
    ("Q4_0", gen_q4_0), ("Q4_1", gen_q4_1), ("Q5_0", gen_q5_0), ("Q5_1", gen_q5_1),
    ("Q8_0", gen_q8_0), ("IQ4_NL", gen_iq4_nl),
    ("Q4_K", gen_q4_k), ("Q5_K", gen_q5_k), ("Q6_K", gen_q6_k), ("Q8_K", gen_q8_k),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, gen in GENERATORS:
        blocks, values = gen()
        values = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
        assert values.size == N and values.dtype == np.dtype("<f4"), name
        assert np.all(np.isfinite(values)), name
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(np.ascontiguousarray(blocks, dtype=np.uint8).tobytes())
        with open(os.path.join(OUT, name + ".f32"), "wb") as f:
            f.write(values.tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
