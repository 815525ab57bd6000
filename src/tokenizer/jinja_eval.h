// Evaluator of the Jinja2-subset engine: renders a parsed template against variables with
// jinja2's scoping (a for-loop iteration and a macro call get their own scope; if-blocks
// do not) and Python's value semantics.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_value.h"

namespace trellis::jinja {

// Guards against runaway templates (or inputs): every limit is an Error when exceeded.
struct RenderLimits {
  size_t max_output_bytes = 64u << 20;
  int max_call_depth = 64;                      // nested macro calls
  int64_t max_loop_iterations = 2'000'000;     // all loop bodies together
};

using Variables = std::vector<std::pair<std::string, Value>>;

// Throws trellis::Error ("template line N: ...") on runtime errors; raise_exception's
// message is thrown verbatim.
std::string render(const TemplateAst& ast, const Variables& vars, const RenderLimits& limits = {});

}  // namespace trellis::jinja
