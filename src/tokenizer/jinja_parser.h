// Parser of the Jinja2-subset engine: tokens to syntax tree, following jinja2's grammar and
// operator precedence. Unsupported statements and unknown filters/tests are errors that
// name the template line, like jinja2's own compile-time errors.
#pragma once
#include <string>

#include "tokenizer/jinja_ast.h"

namespace trellis::jinja {

// Throws trellis::Error ("template line N: ...") on syntax errors and unsupported tags.
TemplateAst parse_template(const std::string& source);

}  // namespace trellis::jinja
