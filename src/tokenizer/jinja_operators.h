// Python semantics of the template operators: arithmetic, concatenation, membership.
#pragma once
#include <string>

#include "tokenizer/jinja_value.h"

namespace trellis::jinja {

// a OP b for OP in + - * / // % ** ~; errors name `line`. `max_bytes` caps results that
// grow strings or lists (repetition, concatenation).
Value binary_op(const std::string& op, const Value& a, const Value& b, int line, size_t max_bytes);
// -a, +a.
Value unary_op(const std::string& op, const Value& a, int line);
// Python's `item in container`.
bool contains(const Value& container, const Value& item, int line);

}  // namespace trellis::jinja
