// Built-ins of the Jinja2-subset engine: filters, tests, attribute/item access with Python
// methods, and global functions, each following what jinja2 (in Hugging Face's
// ImmutableSandboxedEnvironment) does. Names jinja2 knows but this engine does not
// implement are errors naming the construct and the line, never silently wrong output.
#pragma once
#include <string>

#include "tokenizer/jinja_value.h"

namespace trellis::jinja {

// Whether jinja2 has a filter / test of this name (unknown names fail at parse time,
// as jinja2 fails at compile time).
bool is_jinja2_filter(const std::string& name);
bool is_jinja2_test(const std::string& name);

// `value | name(args)`; args.positional excludes `value`.
Value apply_filter(const std::string& name, const Value& value, const CallArgs& args);
// `value is name(args)`.
bool apply_test(const std::string& name, const Value& value, const CallArgs& args);

// `obj.name`: Python getattr (methods first) then item lookup, as jinja2's sandbox does.
Value get_attr(const Value& obj, const std::string& name, int line);
// `obj[key]`: item lookup, then attribute lookup for string keys.
Value get_item(const Value& obj, const Value& key, int line);
// `obj[start:stop:step]` with Python slice semantics; absent parts are Undefined values.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step, int line);
// Looks up `obj.path` where path may be dotted ("a.b", "0.name"), as filters' attribute= does.
Value get_attr_path(const Value& obj, const std::string& path, int line);

// jinja2's default globals (range, dict, namespace, ...) plus HF's raise_exception.
// Returns Undefined when `name` is not a global.
Value builtin_global(const std::string& name);

// Python's str.splitlines().
std::vector<std::string> py_splitlines(const std::string& s);

}  // namespace trellis::jinja
