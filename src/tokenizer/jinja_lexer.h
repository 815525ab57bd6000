// Lexer of the Jinja2-subset engine. Splits a template into literal text and the tokens
// inside {{ }}, {% %} (comments are dropped) and applies jinja2's whitespace control the way
// Hugging Face configures it: trim_blocks, lstrip_blocks, and the -/+ tag modifiers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace trellis::jinja {

enum class TokKind {
  Text,        // literal template text (already whitespace-controlled)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,      // text holds the decoded value
  Int,
  Float,
  Op,          // operator or punctuation, text holds it
  Eof,
};

struct Token {
  TokKind kind;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws trellis::Error naming the line on malformed input (unterminated tag or string).
std::vector<Token> lex(const std::string& source, const LexOptions& opt = {});

}  // namespace trellis::jinja
