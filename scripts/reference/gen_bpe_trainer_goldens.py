#!/usr/bin/python3
"""Writes the BPE trainer goldens in tests/data/bpe_trainer/ with a naive, separate trainer.

This is deliberately the textbook algorithm, written without looking at the C++ trainer's
data structures: every step recounts every adjacent pair of every word from scratch, picks
the best pair with min(), and rewrites every word. It is slow (fine for a few KB) and
obviously correct, which is the point.

Rules (the contract src/tokenizer/bpe_trainer.h documents):
  * The text is split at the special tokens (longest first, each special splitting every
    remaining fragment at its leftmost non-overlapping occurrences); specials are not text.
  * Each fragment is split with the GPT-2 pattern (Python's `regex`), each distinct word is
    counted; words are byte strings.
  * Every word starts as its single bytes; the vocabulary starts as the 256 bytes.
  * Pair frequency = sum over words of count x adjacent occurrences (overlaps included).
  * Best pair: highest frequency, then the merged bytes smallest (unsigned lexicographic),
    then the shorter left part.
  * Stop when 256 + learned tokens + specials == vocab_size, when no pair is left
    ("no_pairs"), or when the best frequency < min_frequency ("min_frequency").
  * A merge whose result already is a token is recorded but adds no token.
  * Merges are written in GPT-2's byte-to-Unicode form, "left right".

Output: one JSON file per configuration (see CONFIGS).
Needs Debian's python3-regex:  apt-get install -y python3-regex
Usage: /usr/bin/python3 scripts/reference/gen_bpe_trainer_goldens.py
"""
import json
import os

import regex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "bpe_trainer")

# GPT-2's pattern as Hugging Face writes it (llama.cpp's form without the final \s+ splits
# the same when gaps are kept as pieces).
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# (file name, vocab_size, min_frequency)
CONFIGS = [
    ("golden_v512_f1.json", 512, 1),     # fills up; many ties at low counts
    ("golden_v4096_f2.json", 4096, 2),   # stops at min_frequency
    ("golden_v8192_f1.json", 8192, 1),   # runs out of pairs
]


def byte_to_unicode_table():
    """GPT-2's encoder.py mapping: printable Latin-1 bytes stand for themselves, the others
    take code points 256, 257, ... in byte order."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
                 + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_UNICODE = byte_to_unicode_table()


def shown(token):
    return "".join(BYTE_TO_UNICODE[b] for b in token)


def split_specials(text, specials):
    fragments = [text]
    for special in sorted(specials, key=len, reverse=True):  # stable: ties keep list order
        next_fragments = []
        for f in fragments:
            next_fragments.extend(f.split(special))
        fragments = next_fragments
    return [f for f in fragments if f]


def count_words(text, specials):
    counts = {}
    for fragment in split_specials(text, specials):
        pieces = regex.findall(GPT2, fragment)
        assert "".join(pieces) == fragment
        for p in pieces:
            w = p.encode("utf-8")
            counts[w] = counts.get(w, 0) + 1
    return counts


def merge_word(symbols, pair, merged):
    out = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(merged)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def train(counts, vocab_size, min_frequency, n_specials):
    words = [(tuple(bytes([b]) for b in w), c) for w, c in counts.items()]
    vocab = set(bytes([b]) for b in range(256))
    merges = []
    stop = "vocab_full"
    repeats = 0
    while len(vocab) + n_specials < vocab_size:
        pair_counts = {}
        for symbols, c in words:
            for i in range(len(symbols) - 1):
                pair = (symbols[i], symbols[i + 1])
                pair_counts[pair] = pair_counts.get(pair, 0) + c
        if not pair_counts:
            stop = "no_pairs"
            break
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p[0] + p[1], len(p[0])))
        if pair_counts[best] < min_frequency:
            stop = "min_frequency"
            break
        merged = best[0] + best[1]
        if merged in vocab:
            repeats += 1
        vocab.add(merged)
        merges.append(best)
        words = [(merge_word(s, best, merged), c) for s, c in words]
    return merges, len(vocab) - 256, stop, repeats


def main():
    with open(os.path.join(DATA, "corpus.txt"), "rb") as f:
        text = f.read().decode("utf-8")
    counts = count_words(text, SPECIALS)
    for name, vocab_size, min_frequency in CONFIGS:
        merges, learned, stop, repeats = train(counts, vocab_size, min_frequency, len(SPECIALS))
        golden = {
            "corpus": "corpus.txt",
            "vocab_size": vocab_size,
            "min_frequency": min_frequency,
            "special_tokens": SPECIALS,
            "distinct_words": len(counts),
            "words": sum(counts.values()),
            "learned_tokens": learned,
            "repeated_merge_results": repeats,
            "stop": stop,
            "merges": [shown(l) + " " + shown(r) for l, r in merges],
        }
        with open(os.path.join(DATA, name), "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=False, indent=0)
            f.write("\n")
        print(f"{name}: {len(merges)} merges, {learned} learned tokens, {repeats} repeated results, stop: {stop}")


if __name__ == "__main__":
    main()
