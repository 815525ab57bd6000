// Pre-tokenizer splits, hand-written over decoded code points instead of a regex engine.
//
// Every kind is a list of regexes applied in sequence (llama.cpp's unicode_regex_split, HF's
// Split(behavior=Isolated)): each regex runs over every piece the previous one left, and both
// its matches and the unmatched gaps between them become pieces. The lists, copied from
// llama.cpp's llama-vocab.cpp (llm_tokenizer_bpe):
//
//   GPT2 = 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
//   Gpt2        [GPT2]                      (HF adds |\s+ ; with gaps kept it splits the same)
//   Llama3      [(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+
//                |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+]
//   Qwen2       [the Llama3 regex with \p{N} instead of \p{N}{1,3}]
//   Starcoder,
//   Smollm      [\p{N}, GPT2]
//   Falcon      [[\p{P}\$\+<=>\^~\|`]+, GPT2, [0-9][0-9][0-9]]
//   Default     [[\p{P}\$\+<=>\^~\|]+, GPT2, \p{N}+, [0-9][0-9][0-9]]
//   DeepseekLlm [[\r\n], \s?[<cased-letter ranges>]+, \s?[!-/:-~！-／：-～‘-‟　-。]+, \s+$,
//                [一-龥ࠀ-一가-퟿]+, \p{N}+]
//
// Classes follow Python's `regex` module (the golden reference) and Rust's regex (HF):
// \p{L} = Lu|Ll|Lt|Lm|Lo, \p{N} = Nd|Nl|No, \p{P} = Pc|Pd|Ps|Pe|Pi|Pf|Po, all from utf8proc;
// \s = the White_Space property = Zs|Zl|Zp plus U+0009..U+000D and U+0085.
//
// Linear time: every matcher either consumes what it scans or looks at O(1) code points,
// except whitespace runs, whose ends and last newline are precomputed once per text.
#include "tokenizer/pretokenize.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "core/error.h"

namespace trellis {
namespace {

// Each code point falls in exactly one of these disjoint classes; kPunct is an extra bit.
enum : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3, kKindMask = 3, kPunct = 4 };

// Undecodable bytes become code points above U+10FFFF, so no class or range contains them.
constexpr uint32_t kInvalidBase = 0x110000;

uint8_t classify(uint32_t cp) {
  if (cp >= kInvalidBase) return kOther;
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return kSpace;  // White_Space outside Z*
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return kNumber;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
      return kSpace;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return kOther | kPunct;
    default:
      return kOther;
  }
}

// ASCII is most text: classify it once, from the same utf8proc data.
struct AsciiClasses {
  uint8_t cls[128];
  AsciiClasses() {
    for (uint32_t c = 0; c < 128; ++c) cls[c] = classify(c);
  }
};

uint8_t classify_fast(uint32_t cp) {
  static const AsciiClasses ascii;
  return cp < 128 ? ascii.cls[cp] : classify(cp);
}

bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

// Decodes one strictly valid UTF-8 sequence at s[0..n) (no overlongs, surrogates or values
// past U+10FFFF); returns its length, or 0 when s[0] does not start one.
size_t decode_utf8(const unsigned char* s, size_t n, uint32_t& cp) {
  const unsigned char b0 = s[0];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (n < 2 || !is_cont(s[1])) return 0;
    cp = (uint32_t(b0 & 0x1F) << 6) | (s[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (n < 3 || !is_cont(s[1]) || !is_cont(s[2])) return 0;
    if (b0 == 0xE0 && s[1] < 0xA0) return 0;  // overlong
    if (b0 == 0xED && s[1] > 0x9F) return 0;  // surrogate
    cp = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (n < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3])) return 0;
    if (b0 == 0xF0 && s[1] < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && s[1] > 0x8F) return 0;  // past U+10FFFF
    cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(s[1] & 0x3F) << 12) |
         (uint32_t(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
  }
  return 0;
}

bool is_newline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

// The decoded text plus the whitespace facts the matchers need in O(1).
struct Text {
  std::vector<uint32_t> cp;         // code points (invalid bytes as kInvalidBase + byte)
  std::vector<uint8_t> cls;         // class of each code point
  std::vector<uint32_t> off;        // byte offset of each code point, then the text size
  std::vector<uint32_t> ws_end;     // end of the whitespace run starting at i (i if none)
  std::vector<uint32_t> nl_before;  // nl_before[p]: 1 + index of the last \r or \n before p, or 0

  uint8_t kind(size_t i) const { return cls[i] & kKindMask; }
  bool space(size_t i) const { return kind(i) == kSpace; }
};

Text decode(std::string_view text) {
  // Indices are 32-bit to keep the side tables small; 4 GiB of text is far past any prompt.
  if (text.size() >= std::numeric_limits<uint32_t>::max())
    fail("pre_tokenize: text of ", text.size(), " bytes is too long (limit 4 GiB)");
  Text t;
  t.cp.reserve(text.size());
  t.off.reserve(text.size() + 1);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t pos = 0; pos < text.size();) {
    uint32_t cp = 0;
    size_t len = decode_utf8(s + pos, text.size() - pos, cp);
    if (len == 0) {  // a lone undecodable byte, kept as its own "other" code point
      cp = kInvalidBase + s[pos];
      len = 1;
    }
    t.cp.push_back(cp);
    t.off.push_back(static_cast<uint32_t>(pos));
    pos += len;
  }
  t.off.push_back(static_cast<uint32_t>(text.size()));
  const size_t n = t.cp.size();
  t.cls.resize(n);
  for (size_t i = 0; i < n; ++i) t.cls[i] = classify_fast(t.cp[i]);
  t.ws_end.resize(n + 1);
  t.ws_end[n] = static_cast<uint32_t>(n);
  for (size_t i = n; i-- > 0;)
    t.ws_end[i] = t.space(i) ? t.ws_end[i + 1] : static_cast<uint32_t>(i);
  t.nl_before.resize(n + 1);
  t.nl_before[0] = 0;
  for (size_t i = 0; i < n; ++i)
    t.nl_before[i + 1] = is_newline(t.cp[i]) ? static_cast<uint32_t>(i + 1) : t.nl_before[i];
  return t;
}

// ---- building blocks; each returns the end of the match at i, or i for no match ----

size_t run_of_kind(const Text& t, size_t i, size_t end, uint8_t kind) {
  while (i < end && t.kind(i) == kind) ++i;
  return i;
}

// 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII-case-insensitive (Llama 3's '[sS] form).
size_t match_contraction(const Text& t, size_t i, size_t end, bool any_case) {
  if (t.cp[i] != '\'' || i + 1 >= end) return i;
  auto lower = [&](size_t k) -> uint32_t {
    const uint32_t c = t.cp[k];
    return any_case && c >= 'A' && c <= 'Z' ? c + 32 : c;
  };
  const uint32_t a = lower(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 >= end) return i;
  const uint32_t b = lower(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return i;
}

// \s+(?!\S)|\s+ at a whitespace code point: greedy \s+ backs off one code point so that the
// last space before a non-space is left for the next word; a single one is taken anyway.
size_t match_spaces(const Text& t, size_t i, size_t end) {
  if (!t.space(i)) return i;
  const size_t r = std::min<size_t>(t.ws_end[i], end);
  if (r == end || r - i == 1) return r;
  return r - 1;
}

// GPT2 (see the top of the file). The three ` ?class+` alternatives are disjoint classes, so
// the first that applies is simply the run of the class found after the optional space.
size_t match_gpt2(const Text& t, size_t i, size_t end) {
  if (size_t m = match_contraction(t, i, end, false); m > i) return m;
  const size_t j = (t.cp[i] == ' ' && i + 1 < end && !t.space(i + 1)) ? i + 1 : i;
  if (!t.space(j)) return run_of_kind(t, j, end, t.kind(j));
  return match_spaces(t, i, end);
}

// The Llama 3 / Qwen2 regex, with \p{N}{1,max_digits}.
size_t match_llama3(const Text& t, size_t i, size_t end, size_t max_digits) {
  if (size_t m = match_contraction(t, i, end, true); m > i) return m;
  const uint8_t k = t.kind(i);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (k == kLetter) return run_of_kind(t, i, end, kLetter);
  if (k != kNumber && !is_newline(t.cp[i]) && i + 1 < end && t.kind(i + 1) == kLetter)
    return run_of_kind(t, i + 1, end, kLetter);
  // \p{N}{1,max_digits}: bounded scan, so long digit runs stay linear
  if (k == kNumber) {
    size_t e = i + 1;
    while (e < end && e - i < max_digits && t.kind(e) == kNumber) ++e;
    return e;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const size_t j = (t.cp[i] == ' ' && i + 1 < end && t.kind(i + 1) == kOther) ? i + 1 : i;
  if (t.kind(j) == kOther) {
    size_t e = run_of_kind(t, j, end, kOther);
    while (e < end && is_newline(t.cp[e])) ++e;
    return e;
  }
  // \s*[\r\n]+ : \s* backs off to the last newline of the whitespace run
  const size_t r = std::min<size_t>(t.ws_end[i], end);
  if (t.nl_before[r] > i) return t.nl_before[r];
  return match_spaces(t, i, end);
}

// ---- single-class patterns used by the multi-stage kinds ----

using CpPred = bool (*)(uint32_t cp, uint8_t cls);

struct Range {
  uint32_t lo, hi;
};

template <size_t N>
bool in_ranges(const Range (&ranges)[N], uint32_t cp) {
  for (const Range& r : ranges)
    if (cp >= r.lo && cp <= r.hi) return true;
  return false;
}

// DeepSeek LLM's letter class, as code points. Its source text holds characters with singleton
// canonical decompositions (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126, U+212A) that an NFC copy
// would silently change, so it is written numerically. All of it is Lu/Ll/Lt.
constexpr Range kDeepseekLetters[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

// [!-/:-~！-／：-～‘-‟　-。]
constexpr Range kDeepseekPunct[] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0xFF01, 0xFF0F},
                                    {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002}};

// [一-龥ࠀ-一가-퟿]
constexpr Range kDeepseekCjk[] = {{0x4E00, 0x9FA5}, {0x800, 0x4E00}, {0xAC00, 0xD7FF}};

bool deepseek_letter(uint32_t cp, uint8_t) {
  return cp < 0x80 ? ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') : in_ranges(kDeepseekLetters, cp);
}
bool deepseek_punct(uint32_t cp, uint8_t) { return in_ranges(kDeepseekPunct, cp); }
bool deepseek_cjk(uint32_t cp, uint8_t) { return in_ranges(kDeepseekCjk, cp); }
bool newline(uint32_t cp, uint8_t) { return is_newline(cp); }
bool number(uint32_t, uint8_t cls) { return (cls & kKindMask) == kNumber; }
bool ascii_digit(uint32_t cp, uint8_t) { return cp >= '0' && cp <= '9'; }
// [\p{P}\$\+<=>\^~\|]
bool punct_default(uint32_t cp, uint8_t cls) {
  return (cls & kPunct) || cp == '$' || cp == '+' || cp == '<' || cp == '=' || cp == '>' ||
         cp == '^' || cp == '~' || cp == '|';
}
// [\p{P}\$\+<=>\^~\|`]
bool punct_falcon(uint32_t cp, uint8_t cls) { return cp == '`' || punct_default(cp, cls); }

enum class Op {
  Gpt2,          // GPT2
  Llama3,        // Llama 3 regex, digits in threes
  Qwen2,         // Llama 3 regex, single digits
  One,           // [C]
  Run,           // [C]+
  SpaceRun,      // \s?[C]+
  Three,         // [C][C][C]
  SpacesAtEnd,   // \s+$
};

struct Stage {
  Op op;
  CpPred pred = nullptr;
};

size_t run_of(const Text& t, size_t i, size_t end, CpPred pred) {
  while (i < end && pred(t.cp[i], t.cls[i])) ++i;
  return i;
}

size_t match_stage(const Text& t, size_t i, size_t end, const Stage& s) {
  switch (s.op) {
    case Op::Gpt2: return match_gpt2(t, i, end);
    case Op::Llama3: return match_llama3(t, i, end, 3);
    case Op::Qwen2: return match_llama3(t, i, end, 1);
    case Op::One: return s.pred(t.cp[i], t.cls[i]) ? i + 1 : i;
    case Op::Run: return run_of(t, i, end, s.pred);
    case Op::SpaceRun:
      // \s? is greedy, but when the space is itself in [C] both choices end at the same place
      if (t.space(i) && i + 1 < end && s.pred(t.cp[i + 1], t.cls[i + 1]))
        return run_of(t, i + 1, end, s.pred);
      return run_of(t, i, end, s.pred);
    case Op::Three:
      if (i + 3 > end) return i;
      for (size_t k = i; k < i + 3; ++k)
        if (!s.pred(t.cp[k], t.cls[k])) return i;
      return i + 3;
    case Op::SpacesAtEnd:
      return t.space(i) && t.ws_end[i] >= end ? end : i;
  }
  return i;
}

struct Span {
  uint32_t begin, end;  // code point indices
};

// Runs one stage over every piece: matches and the gaps between them both become pieces.
std::vector<Span> apply_stage(const Text& t, const std::vector<Span>& in, const Stage& s) {
  std::vector<Span> out;
  out.reserve(in.size() * 2);
  for (const Span& piece : in) {
    size_t gap = piece.begin;
    for (size_t i = piece.begin; i < piece.end;) {
      const size_t m = match_stage(t, i, piece.end, s);
      if (m == i) {
        ++i;
        continue;
      }
      if (gap < i) out.push_back({uint32_t(gap), uint32_t(i)});
      out.push_back({uint32_t(i), uint32_t(m)});
      i = gap = m;
    }
    if (gap < piece.end) out.push_back({uint32_t(gap), piece.end});
  }
  return out;
}

std::vector<Stage> stages_for(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::Gpt2: return {{Op::Gpt2}};
    case PreTokenizerKind::Llama3: return {{Op::Llama3}};
    case PreTokenizerKind::Qwen2: return {{Op::Qwen2}};
    case PreTokenizerKind::Smollm:
    case PreTokenizerKind::Starcoder: return {{Op::One, number}, {Op::Gpt2}};
    case PreTokenizerKind::Falcon:
      return {{Op::Run, punct_falcon}, {Op::Gpt2}, {Op::Three, ascii_digit}};
    case PreTokenizerKind::Default:
      return {{Op::Run, punct_default}, {Op::Gpt2}, {Op::Run, number}, {Op::Three, ascii_digit}};
    case PreTokenizerKind::DeepseekLlm:
      return {{Op::One, newline},          {Op::SpaceRun, deepseek_letter},
              {Op::SpaceRun, deepseek_punct}, {Op::SpacesAtEnd},
              {Op::Run, deepseek_cjk},     {Op::Run, number}};
  }
  fail("pre_tokenize: unknown pre-tokenizer kind ", static_cast<int>(kind));
}

}  // namespace

PreTokenizerKind pre_tokenizer_from_gguf_name(const std::string& name) {
  using K = PreTokenizerKind;
  // Names as llama.cpp's llama_vocab::impl::load maps them, for the kinds implemented here.
  static const std::pair<const char*, K> kNames[] = {
      {"gpt-2", K::Gpt2},          {"phi-2", K::Gpt2},           {"mpt", K::Gpt2},
      {"olmo", K::Gpt2},           {"jais", K::Gpt2},            {"exaone4", K::Gpt2},
      {"roberta-bpe", K::Gpt2},    {"llama3", K::Llama3},        {"llama-v3", K::Llama3},
      {"llama-bpe", K::Llama3},    {"falcon3", K::Llama3},       {"falcon-h1", K::Llama3},
      {"pixtral", K::Llama3},      {"smaug-bpe", K::Llama3},     {"dbrx", K::Llama3},
      {"chatglm-bpe", K::Llama3},  {"glm4", K::Llama3},          {"qwen2", K::Qwen2},
      {"deepseek-r1-qwen", K::Qwen2}, {"stablelm2", K::Qwen2},   {"megrez", K::Qwen2},
      {"smollm", K::Smollm},       {"starcoder", K::Starcoder},  {"refact", K::Starcoder},
      {"command-r", K::Starcoder}, {"codeshell", K::Starcoder},  {"exaone", K::Starcoder},
      {"minerva-7b", K::Starcoder}, {"deepseek-llm", K::DeepseekLlm}, {"falcon", K::Falcon},
      {"default", K::Default},     {"", K::Default},
  };
  for (const auto& [n, kind] : kNames)
    if (name == n) return kind;
  fail("unknown tokenizer.ggml.pre value '", name, "'");
}

std::string pre_tokenizer_gguf_name(PreTokenizerKind kind) {
  using K = PreTokenizerKind;
  switch (kind) {
    case K::Gpt2: return "gpt-2";
    case K::Llama3: return "llama-bpe";
    case K::Qwen2: return "qwen2";
    case K::Smollm: return "smollm";
    case K::DeepseekLlm: return "deepseek-llm";
    case K::Starcoder: return "starcoder";
    case K::Falcon: return "falcon";
    case K::Default: return "default";
  }
  return "default";
}

std::vector<std::string_view> pre_tokenize(PreTokenizerKind kind, std::string_view text) {
  const std::vector<Stage> stages = stages_for(kind);
  if (text.empty()) return {};
  const Text t = decode(text);
  std::vector<Span> pieces{{0, uint32_t(t.cp.size())}};
  for (const Stage& s : stages) pieces = apply_stage(t, pieces, s);
  std::vector<std::string_view> out;
  out.reserve(pieces.size());
  for (const Span& p : pieces) out.push_back(text.substr(t.off[p.begin], t.off[p.end] - t.off[p.begin]));
  return out;
}

}  // namespace trellis
