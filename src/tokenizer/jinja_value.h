// Runtime values of the Jinja2-subset template engine. They model the Python objects that
// jinja2 renders with (str, int, float, bool, None, list, tuple, dict, jinja2's Undefined
// and namespace) closely enough that printing, comparing and JSON-dumping them gives the
// same bytes Python would.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace trellis::jinja {

class Value;

// A list or a tuple (Python prints them differently; otherwise they behave alike).
struct List {
  std::vector<Value> items;
  bool is_tuple = false;
  int depth = 1;  // nesting depth, bounded so printing/comparing cannot exhaust the stack
};

// Insertion-ordered like a Python dict. Keys are strings: JSON input and every chat
// template only ever use string keys; other key types are rejected when built.
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  int depth = 1;  // set when wrapped in a Value
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);
};

// jinja2's namespace(): the one mutable object a template can assign attributes on.
struct Namespace {
  std::shared_ptr<Dict> attrs;
};

struct CallArgs;

// Built-in functions, bound methods and macros.
struct Callable {
  std::string name;
  std::function<Value(const CallArgs&)> fn;
};

// jinja2's default Undefined: prints empty, is falsy, iterates as empty; most other uses
// raise. `hint` is the message jinja2 would raise with.
struct Undefined {
  std::string hint;
};

class Value {
 public:
  using Storage = std::variant<Undefined, std::nullptr_t, bool, int64_t, double, std::string,
                               std::shared_ptr<const List>, std::shared_ptr<const Dict>,
                               Namespace, std::shared_ptr<const Callable>>;

  Value() : v_(Undefined{"value is undefined"}) {}
  Value(Undefined u) : v_(std::move(u)) {}
  Value(std::nullptr_t) : v_(nullptr) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::shared_ptr<const List> l) : v_(std::move(l)) {}
  Value(std::shared_ptr<const Dict> d) : v_(std::move(d)) {}
  Value(Namespace n) : v_(std::move(n)) {}
  Value(std::shared_ptr<const Callable> c) : v_(std::move(c)) {}

  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value dict(Dict d);
  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
  static Value function(std::string name, std::function<Value(const CallArgs&)> fn);

  bool is_undefined() const { return std::holds_alternative<Undefined>(v_); }
  bool is_none() const { return std::holds_alternative<std::nullptr_t>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const { return std::holds_alternative<int64_t>(v_); }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<const List>>(v_); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<const Dict>>(v_); }
  bool is_namespace() const { return std::holds_alternative<Namespace>(v_); }
  bool is_callable() const { return std::holds_alternative<std::shared_ptr<const Callable>>(v_); }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  // Numeric value of an int, float or bool (Python treats bool as int).
  double as_number() const;
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(v_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(v_); }
  const Namespace& as_namespace() const { return std::get<Namespace>(v_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(v_); }
  const Undefined& as_undefined() const { return std::get<Undefined>(v_); }

 private:
  Storage v_;
};

// Arguments of a call: positional then keyword, plus the template line for errors.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  int line = 0;
};

// Containers nest at most this deep (deeper JSON input or template-built values are errors).
constexpr int kMaxValueDepth = 256;
// Containers hold at most this many items (guards doubling loops in templates).
constexpr size_t kMaxListItems = size_t{1} << 20;
// Nesting depth: 0 for scalars, 1 for a flat list or dict.
int value_depth(const Value& v);
// Whether v is or contains a namespace (namespaces may not nest, which rules out cycles).
bool contains_namespace(const Value& v);

// Python's type name, for error messages ("str", "list", "dict", "NoneType", ...).
std::string type_name(const Value& v);
// Python's bool(v).
bool truthy(const Value& v);
// Python's str(v); throws for values Python would print as an object address.
std::string to_str(const Value& v);
// Python's repr(v).
std::string repr(const Value& v);
// Python's repr(float): shortest round-trip digits, "1.0", "1e-05", "1e+20", "inf".
std::string format_float(double d);
// Python's ==.
bool equals(const Value& a, const Value& b);
// Python's <, as -1/0/1; throws (naming `line`) where Python raises TypeError.
int compare(const Value& a, const Value& b, int line);
// Python's len(); throws for values without one.
int64_t length(const Value& v, int line);
// The items Python's iter(v) yields (dict: keys, str: characters); throws if not iterable.
std::vector<Value> iterate(const Value& v, int line);

// JSON input (message lists, tool schemas) to values; object key order is kept.
Value from_json(const nlohmann::ordered_json& j);

struct JsonOptions {
  int indent = -1;  // -1: no newlines (json.dumps indent=None)
  std::string indent_str;  // json.dumps accepts a string indent too
  bool use_indent_str = false;
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// Python's json.dumps(v, ...) with the given options.
std::string to_json(const Value& v, const JsonOptions& opt, int line);

// Throws trellis::Error "template line N: ...".
template <class... Args>
[[noreturn]] void fail_at(int line, const Args&... args) {
  trellis::fail("template line ", line, ": ", args...);
}

}  // namespace trellis::jinja
