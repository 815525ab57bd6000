// Token ids back to bytes: per-token pieces and llama.cpp's clean-up of tokenization spaces.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer_model.h"

namespace trellis {

// The bytes a (valid) token contributes, as llama.cpp's token_to_piece: control and unknown
// tokens only when render_special; user-defined tokens as their text; byte tokens as the byte
// (SPM style); unused / undefined tokens as nothing.
std::string token_piece(const TokenizerModel& m, int32_t id, bool render_special);

// llama.cpp's clean_up_tokenization_spaces: " ?" " !" " ." " ," lose the space, a lone
// apostrophe between spaces loses both, and " 's" " 'm" " 're" " 've" lose the space.
std::string clean_up_spaces(std::string_view text);

// True when cutting `text` at `pos` and cleaning both halves separately gives the same result
// as cleaning it whole: none of the three bytes before the cut is a space or an apostrophe
// (every rule needs one of those within two bytes of what it removes).
bool is_clean_cut(std::string_view text, size_t pos);

}  // namespace trellis
