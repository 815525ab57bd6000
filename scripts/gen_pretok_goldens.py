#!/usr/bin/python3
"""Writes the pre-tokenizer goldens in tests/data/pretok/ from Python's `regex` module.

The pattern lists are llama.cpp's (src/llama-vocab.cpp, llm_tokenizer_bpe, per
LLAMA_VOCAB_PRE_TYPE_*), copied character for character. Like llama.cpp's
unicode_regex_split and HF tokenizers' Split(behavior=Isolated), each pattern runs over
every piece left by the previous one; matches and the unmatched gaps between them both
become pieces.

Invalid UTF-8 is decoded with `surrogateescape`, so each bad byte is one lone surrogate
(category Cs: not \\s, \\p{L}, \\p{N} or \\p{P}), which is the rule the C++ side follows.

Outputs (piece lengths in bytes, in order):
  corpus.jsonl     {"hex": input bytes, "text": readable form, "pieces": {kind: [len, ...]}}
  shared_inp.jsonl {"file": path under ../shared, "case": i, "bytes": n, "pieces": {...}}
    (only lengths: the shared test inputs must not be copied into the repository)

Needs Debian's python3-regex:  apt-get install -y python3-regex
Usage: /usr/bin/python3 scripts/gen_pretok_goldens.py
"""
import json
import os
import random
import sys

import regex

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
# HF's tokenizer.json form of GPT-2 ends in `|\s+`; with gaps kept as pieces it splits the
# same (checked below on every input), because a gap here is always one whitespace char.
GPT2_HF = GPT2 + r"|\s+"
LLAMA3 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+"
          r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+"
         r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# DeepSeek LLM's letter class, written as code point ranges: the source text of the class
# contains characters with singleton canonical decompositions (U+1F7D, U+1FBE, U+1FD3,
# U+1FDB, U+2126, U+212A) that any NFC-normalising copy silently changes, and a changed
# endpoint turns a range inside out. All listed code points are cased letters (Lu/Ll/Lt).
DEEPSEEK_LETTER_RANGES = [
    (0x41, 0x5A), (0x61, 0x7A), (0xB5, 0xB5), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x1BA),
    (0x1BC, 0x1BF), (0x1C4, 0x293), (0x295, 0x2AF), (0x370, 0x373), (0x376, 0x377),
    (0x37B, 0x37D), (0x37F, 0x37F), (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C),
    (0x38E, 0x3A1), (0x3A3, 0x3F5), (0x3F7, 0x481), (0x48A, 0x52F), (0x531, 0x556),
    (0x10A0, 0x10C5), (0x13A0, 0x13F5), (0x13F8, 0x13FD), (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF),
    (0x1D00, 0x1D2B), (0x1D6B, 0x1D77), (0x1D79, 0x1D9A), (0x1E00, 0x1F15), (0x1F18, 0x1F1D),
    (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B),
    (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE),
    (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB), (0x1FE0, 0x1FEC),
    (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC), (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113),
    (0x2115, 0x2115), (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128),
    (0x212A, 0x212D), (0x212F, 0x2134), (0x2139, 0x2139), (0x213C, 0x213F), (0x2145, 0x2149),
    (0x214E, 0x214E), (0x2183, 0x2184), (0x2C00, 0x2C7B), (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE),
    (0x2CF2, 0x2CF3), (0xA640, 0xA66D), (0xA680, 0xA69B), (0xA722, 0xA76F), (0xA771, 0xA787),
    (0xA78B, 0xA78E), (0xAB70, 0xABBF), (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFF21, 0xFF3A),
    (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3), (0x104D8, 0x104FB),
    (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
]
DEEPSEEK_LETTERS = "\\s?[" + "".join(
    chr(lo) if lo == hi else chr(lo) + "-" + chr(hi) for lo, hi in DEEPSEEK_LETTER_RANGES) + "]+"
DEEPSEEK_PUNCT = "\\s?[!-/:-~！-／：-～‘-‟　-。]+"
DEEPSEEK_CJK = "[一-龥ࠀ-一가-퟿]+"

KINDS = {
    "gpt2": [GPT2],
    "llama3": [LLAMA3],
    "qwen2": [QWEN2],
    # starcoder, refact, command-r, smollm, codeshell, exaone, minerva-7b
    "starcoder": [r"\p{N}", GPT2],
    "deepseek-llm": ["[\r\n]", DEEPSEEK_LETTERS, DEEPSEEK_PUNCT, r"\s+$", DEEPSEEK_CJK, r"\p{N}+"],
    "falcon": [r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"],
    # llama.cpp's `default:` branch (tokenizer.ggml.pre = "default" or missing)
    "default": [r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
}


def split(patterns, text):
    pieces = [text]
    for pat in patterns:
        rx = regex.compile(pat)
        out = []
        for piece in pieces:
            pos = 0
            for m in rx.finditer(piece):
                assert m.end() > m.start(), (pat, piece)
                if m.start() > pos:
                    out.append(piece[pos:m.start()])
                out.append(m.group())
                pos = m.end()
            if pos < len(piece):
                out.append(piece[pos:])
        pieces = out
    return pieces


def piece_lengths(patterns, data):
    text = data.decode("utf-8", "surrogateescape")
    pieces = [p.encode("utf-8", "surrogateescape") for p in split(patterns, text)]
    assert b"".join(pieces) == data and all(pieces)
    return [len(p) for p in pieces]


def all_kinds(data):
    out = {kind: piece_lengths(pats, data) for kind, pats in KINDS.items()}
    for kind, pats in KINDS.items():  # the `|\s+` tail of HF's GPT-2 regex changes nothing
        alt = [GPT2_HF if p == GPT2 else p for p in pats]
        assert piece_lengths(alt, data) == out[kind], (kind, data)
    return out


HAND = [
    "", " ", "a", "Hello world", " Hello world", "Hello, world! How are you?",
    "The quick brown fox jumps over the lazy dog. It's 3:45pm; isn't it?",
    "I'm, you're, he's, we've, they'll, she'd, it's; I'M, YOU'RE, HE'S, WE'VE, THEY'LL, SHE'D",
    "'s 'S 'll 'LL 'Ll 'lL 're 'Re 'rE 've 'VE 'd 'D 'm 'M 't 'T 'x ''s '''s 's's",
    "don'tstop 'sound 'llama 'reach", " 's", "  's", "\t's", "a's", "1's", "!'s", "'",
    "''", "' ", " '",
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
    " 1", " 12", "  123", "a1b22c333d4444", "3.14159 2,718 1e10 -42 +7 0x1F 1_000",
    "٠١٢٣٤٥ ۱۲۳ १२३ ½ ¼ ² ³ Ⅻ ⅷ ① 〇", "１２３４ ３",
    "a  b", "a   b", "a    b", "a\tb", "a\t\tb", "a \tb", "a\t b", "a \t b", "  a", "   a",
    "a  ", "a   ", " ", "  ", "   ", "\t", "\t\t", "\t a", " \ta",
    "a\nb", "a\n\nb", "a\r\nb", "a\r\n\r\nb", "\r\n", "\r", "\n", "\n\n\n", " \n", "\n ",
    " \n ", "  \n  a", "\n\n  hello", "a \n b", "a\t\n\tb", "x\r\n  y\r\n", "end.\n", ".\n\n",
    "!!\r\n\r\nx", " ?\n\n", "abc\u2028def\u2029g", "a\u00a0b", "a\u00a0\u00a0b",
    "a\u3000b", "a\u3000\u3000b", "\u3000", "a\u2003 b", "a \u2003b", "a\u0085b", "a\u000bb\u000cc",
    "a\u001cb\u001dc\u001ed\u001ff", "a\u200bb", "a\ufeffb", "a\u180eb",
    "你好世界", "我想在apple工作1314151天～", "日本語のテキスト、カタカナ。", "한국어 텍스트 입니다",
    "中文，標點。符號！", " 中文 ", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ！？",
    "🦙 llama 🦙🦙", "🚀 (normal) 😶‍🌫️ ✅", "👨‍👩‍👧‍👦 family", "🇫🇷🇩🇪 flags", " 😁 ?",
    "e\u0301 cafe\u0301 n\u0303", "\u0301\u0301abc", "a\u0301\u0302 \u0301", "क्षत्रिय हिन्दी",
    "مرحبا بالعالم، كيف حالك؟", "שלום עולם", "Привет, мир! Ёжик", "Ελληνικά κείμενα ΐ",
    "Cửa Việt", "Führer straße ÆØÅ æøå", "ǅungla ǈ ǋ", "ﬁnance ﬂow", "ΩΩ KK ℃ ℉ ™",
    "Ⰰ ⰰ Ⴀ ა Ꭰ ꭰ 𐐀 𐐨 𞤀 𞤢", "µ ª º ƻ ǀ ʔ ʰ ˆ", "ᏸᏹ ᲐᲑ ᴀᴁ ᵫ ᵸ ᶛ",
    "ῼ ῾ ι ᾽ ΐ Ί", "ℂℇℊℓ℘ℙ ℮ ℯ ℴ ℹ ℼ ⅅ ⅉ ⅎ Ↄ ↄ", "Ⱡ ⱻ ⱼ Ȿ ⳤ ⳥ Ⳬ ⳮ ⳯ Ⳳ ⳳ",
    "Ꙁ ꙭ ꙮ Ꚁ ꚛ ꚜ Ꜣ ꝯ ꝰ ꝱ ꞇ ꞈ Ꞌ ꞎ ꞏ", "ﬀ ﬆ ﬇ ﬓ ﬗ ﬘ Ｚ［ ｚ｛", "𐒰 𐓓 𐓔 𐓘 𐓻 𐲀 𐲲 𐳀 𐳲 𑢠 𑣟 𞥃 𞥄",
    "ࠀ ࡀ ༀ ก ᄀ ㄱ ぁ ァ 一 龥 龦 가 힣 ퟻ ퟿ ",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", " !!!!!!", "!!! ???", "...", " ...abc",
    "$100 + <tag> = ^~|` caret", "a+b=c", "x<=y>=z", "foo`bar`", "!-/:~ ！／：～ ‘’“” ‟ 。 、 〃",
    "«quoted» ¿qué? ¡sí! — – … • · ‰ †", "(a) [b] {c}", "a.b.c", "hello...world", "e.g., i.e.",
    "if (x == 1) {\n\treturn y;\n}\n", "def f(x):\n    return x ** 2  # comment\n",
    "    Hello\n    Hello", "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n",
    "------======= ''''''```````\"\"\"\"......!!!!!!??????",
    "https://example.com/path?q=1&r=two#frag", "user@example.com", "C:\\Program Files\\x",
    "<|endoftext|> <s> [INST]", "snake_case camelCase PascalCase kebab-case",
    "Mixed123Text456 abc123 123abc", " 123 456 ", "1 2 3", "1,234,567.89", "12:34:56",
]

BAD = [b"\xff", b"\xfe\xff", b"a\x80b", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82a",
       b"\xf0\x9f\x98", b"\xf0\x9f\x98 x", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80",
       b" \xff\xfe ", b"hello\x80world", b"'\x80s", b"\x80's", b" \x80abc", b"\x80\n\x80",
       b"1\x802", b"\xe4\xbd\xa0\xe5\xa5", b"\xef\xbc\x81\xef\xbc"]

CHARS = ([" ", " ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\u000b"]
         + list("aZs'tlRdDvVeEm") + ["é", "ß", "Ж", "λ", "ǅ", "µ", "K", "ﬁ"]
         + list("0123") + ["٣", "½", "①", "１"]
         + list(".,!?-$+<=>^~|`_#@\"") + ["！", "。", "、", "‘", "…", "€", "©"]
         + ["你", "好", "한", "ア", "ก", "\u0301", "\u200d", "🦙", "😁", "\ufe0f"])


def random_cases(rng, n):
    cases = []
    for _ in range(n):
        length = rng.randint(1, 24)
        s = "".join(rng.choice(CHARS) for _ in range(length)).encode()
        if rng.random() < 0.2:  # splice in an invalid byte
            k = rng.randint(0, len(s))
            s = s[:k] + bytes([rng.choice([0x80, 0xbf, 0xc3, 0xe2, 0xf0, 0xff])]) + s[k:]
        cases.append(s)
    return cases


def class_ranges(cls):
    """(lo, hi) code point ranges of a plain `[...]` class written with literal characters."""
    body = cls[cls.index("[") + 1:cls.rindex("]")]
    out, i = [], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            out.append((ord(body[i]), ord(body[i + 2])))
            i += 3
        else:
            out.append((ord(body[i]), ord(body[i])))
            i += 1
    return out


def boundary_cases():
    """Each range of DeepSeek's classes probed just outside and just inside both ends."""
    ranges = DEEPSEEK_LETTER_RANGES + class_ranges(DEEPSEEK_PUNCT) + class_ranges(DEEPSEEK_CJK)
    out = []
    for lo, hi in ranges:
        cps = [c for c in (lo - 1, lo, hi, hi + 1) if not 0xD800 <= c <= 0xDFFF]
        out.append(("x" + chr(cps[0]) + chr(cps[1]) + " " + " ".join(map(chr, cps[2:])) + "1").encode())
    return out


def check_classes_against_utf8proc():
    """The C++ side takes \\p{L}, \\p{N}, \\p{P} and \\s from utf8proc; the goldens only mean
    something while python-regex agrees with it on every code point. Skipped without the lib."""
    import ctypes
    try:
        lib = ctypes.CDLL("libutf8proc.so.2")
    except OSError:
        print("libutf8proc not found: class agreement not checked", file=sys.stderr)
        return
    lib.utf8proc_category.restype = ctypes.c_int
    lib.utf8proc_category.argtypes = [ctypes.c_int32]
    # utf8proc_category_t: LU..LO = 1..5, ND..NO = 9..11, PC..PO = 12..18, ZS..ZP = 23..25
    rx = {name: regex.compile(p) for name, p in
          (("L", r"\p{L}"), ("N", r"\p{N}"), ("P", r"\p{P}"), ("S", r"\s"))}
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        cat, ch = lib.utf8proc_category(c), chr(c)
        want = {"L": 1 <= cat <= 5, "N": 9 <= cat <= 11, "P": 12 <= cat <= 18,
                "S": 23 <= cat <= 25 or 9 <= c <= 13 or c == 0x85}
        for name, r in rx.items():
            assert bool(r.match(ch)) == want[name], f"U+{c:04X} {name}: regex and utf8proc differ"


def readable(data):
    return data.decode("utf-8", "backslashreplace")


def shared_cases(shared):
    seen = set()
    for rel in sorted(["vocab/" + f for f in os.listdir(os.path.join(shared, "vocab"))
                       if f.endswith(".inp")]
                      + ["vocab/qwen2/qwen2.inp", "vocab/llama2-hf/llama2.inp"]):
        path = os.path.join(shared, rel)
        if not os.path.exists(path):
            continue
        data = open(path, "rb").read()
        if data in seen:  # the .inp files are byte-identical today; keep one copy
            continue
        seen.add(data)
        cases = data.split(b"\n__ggml_vocab_test__\n")
        if cases and cases[-1] == b"":
            cases.pop()
        for i, case in enumerate(cases):
            yield rel, i, case


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = os.path.join(root, "tests", "data", "pretok")
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(20240611)
    check_classes_against_utf8proc()
    cases = [s.encode() for s in HAND] + BAD + boundary_cases() + random_cases(rng, 400)
    with open(os.path.join(outdir, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for data in cases:
            rec = {"hex": data.hex(), "text": readable(data), "pieces": all_kinds(data)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    shared = os.path.join(root, "..", "shared")
    n_shared = 0
    with open(os.path.join(outdir, "shared_inp.jsonl"), "w", encoding="utf-8") as f:
        for rel, i, data in shared_cases(shared):
            rec = {"file": rel, "case": i, "bytes": len(data), "pieces": all_kinds(data)}
            f.write(json.dumps(rec) + "\n")
            n_shared += 1
    print(f"{len(cases)} corpus cases, {n_shared} shared cases, kinds: {', '.join(KINDS)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
