// GPT-2's reversible byte <-> Unicode mapping used by byte-level BPE vocabularies: every byte
// is shown as one printable code point so that vocab entries and merges are valid text.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace trellis {

// UTF-8 text of the code point that stands for `byte`.
const std::string& byte_to_unicode(uint8_t byte);

// The byte a code point stands for, or -1 when the code point is not in the mapping.
int unicode_to_byte(uint32_t code_point);

// Maps every byte of `bytes` to its code point (the form vocab entries are stored in).
std::string bytes_to_unicode(std::string_view bytes);

// Inverse of bytes_to_unicode. Code points outside the mapping are copied through as UTF-8
// (as Hugging Face's ByteLevel decoder does); invalid UTF-8 is copied byte by byte.
std::string unicode_to_bytes(std::string_view text);

// Length of the UTF-8 sequence a lead byte announces, as llama.cpp's unicode_len_utf8 counts
// it (continuation and invalid bytes count as 1, 0xF8..0xFF as 4).
inline size_t utf8_len_from_lead(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes one code point at `pos` if it is valid UTF-8; returns its length or 0 if invalid.
size_t utf8_decode(std::string_view s, size_t pos, uint32_t* code_point);

// Appends the UTF-8 encoding of a code point.
void utf8_append(std::string& out, uint32_t code_point);

}  // namespace trellis
