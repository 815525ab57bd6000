// Chat prompts: a conversation rendered with the model's own chat template and tokenized
// with control tokens recognised (the template writes them as text).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace trellis {

class Tokenizer;

// Renders `messages` ([{role, content}...]) with the tokenizer's chat template. Throws Error
// when the model has no template or the template fails.
std::string render_chat(const Tokenizer& tok, const nlohmann::ordered_json& messages, bool add_generation_prompt,
                        const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

// Tokenizes a rendered chat prompt: control tokens parsed, BOS added when the vocabulary asks
// for it unless the template already wrote one.
std::vector<int32_t> tokenize_chat_prompt(const Tokenizer& tok, const std::string& prompt);

}  // namespace trellis
