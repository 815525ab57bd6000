#include "tokenizer/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "tokenizer/jinja_strings.h"

namespace trellis::jinja {

const Value* Dict::find(const std::string& key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  for (auto& [k, old] : items)
    if (k == key) {
      old = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

static int child_depth(int d) {
  if (d + 1 > kMaxValueDepth) trellis::fail("chat template: values nest deeper than ", kMaxValueDepth, " levels");
  return d + 1;
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
  if (items.size() > kMaxListItems) trellis::fail("chat template: list of ", items.size(), " items is too large");
  auto l = std::make_shared<List>();
  int d = 0;
  for (const auto& it : items) d = std::max(d, value_depth(it));
  l->depth = child_depth(d);
  l->items = std::move(items);
  l->is_tuple = is_tuple;
  return Value(std::shared_ptr<const List>(std::move(l)));
}

Value Value::dict(Dict d) {
  int depth = 0;
  for (const auto& kv : d.items) depth = std::max(depth, value_depth(kv.second));
  d.depth = child_depth(depth);
  return Value(std::shared_ptr<const Dict>(std::make_shared<Dict>(std::move(d))));
}

int value_depth(const Value& v) {
  if (v.is_list()) return v.as_list().depth;
  if (v.is_dict()) return v.as_dict().depth;
  return v.is_namespace() ? 1 : 0;
}

bool contains_namespace(const Value& v) {
  if (v.is_namespace()) return true;
  if (v.is_list())
    for (const auto& it : v.as_list().items)
      if (contains_namespace(it)) return true;
  if (v.is_dict())
    for (const auto& kv : v.as_dict().items)
      if (contains_namespace(kv.second)) return true;
  return false;
}

Value Value::function(std::string name, std::function<Value(const CallArgs&)> fn) {
  auto c = std::make_shared<Callable>();
  c->name = std::move(name);
  c->fn = std::move(fn);
  return Value(std::shared_ptr<const Callable>(std::move(c)));
}

double Value::as_number() const {
  if (is_bool()) return as_bool() ? 1.0 : 0.0;
  if (is_int()) return static_cast<double>(as_int());
  return as_float();
}

std::string type_name(const Value& v) {
  if (v.is_undefined()) return "Undefined";
  if (v.is_none()) return "NoneType";
  if (v.is_bool()) return "bool";
  if (v.is_int()) return "int";
  if (v.is_float()) return "float";
  if (v.is_string()) return "str";
  if (v.is_list()) return v.as_list().is_tuple ? "tuple" : "list";
  if (v.is_dict()) return "dict";
  if (v.is_namespace()) return "Namespace";
  return "function";
}

bool truthy(const Value& v) {
  if (v.is_undefined() || v.is_none()) return false;
  if (v.is_bool()) return v.as_bool();
  if (v.is_int()) return v.as_int() != 0;
  if (v.is_float()) return v.as_float() != 0.0;
  if (v.is_string()) return !v.as_string().empty();
  if (v.is_list()) return !v.as_list().items.empty();
  if (v.is_dict()) return !v.as_dict().items.empty();
  return true;
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  // Shortest round-trip digits in scientific form, then laid out the way repr() does.
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp = std::stoi(sci.substr(e + 1));
  std::string out = neg ? "-" : "";
  if (exp >= -5 + 1 && exp < 16) {  // Python uses fixed notation for 1e-4 <= |d| < 1e16
    if (exp < 0) {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp + 1) {
      out += digits + std::string(static_cast<size_t>(exp + 1 - static_cast<int>(digits.size())), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return out + buf;
}

static std::string repr_dict_items(const Dict& d) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : d.items) {
    if (!first) out += ", ";
    first = false;
    out += py_repr(k) + ": " + repr(v);
  }
  return out + "}";
}

std::string repr(const Value& v) {
  if (v.is_string()) return py_repr(v.as_string());
  if (v.is_undefined()) return "Undefined";
  if (v.is_list()) {
    const auto& l = v.as_list();
    std::string out = l.is_tuple ? "(" : "[";
    for (size_t i = 0; i < l.items.size(); ++i) {
      if (i) out += ", ";
      out += repr(l.items[i]);
    }
    if (l.is_tuple && l.items.size() == 1) out += ",";
    return out + (l.is_tuple ? ")" : "]");
  }
  if (v.is_dict()) return repr_dict_items(v.as_dict());
  return to_str(v);
}

std::string to_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_undefined()) return "";
  if (v.is_none()) return "None";
  if (v.is_bool()) return v.as_bool() ? "True" : "False";
  if (v.is_int()) return std::to_string(v.as_int());
  if (v.is_float()) return format_float(v.as_float());
  if (v.is_namespace()) return "<Namespace " + repr_dict_items(*v.as_namespace().attrs) + ">";
  if (v.is_callable())
    trellis::fail("chat template: printing function '", v.as_callable().name,
                  "' is unsupported (Python would print its address)");
  return repr(v);
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_number() == b.as_number();
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x == y;
  }
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  if (a.is_none() || b.is_none()) return a.is_none() && b.is_none();
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
    for (size_t i = 0; i < x.items.size(); ++i)
      if (!equals(x.items[i], y.items[i])) return false;
    return true;
  }
  if (a.is_dict() && b.is_dict()) {  // order-insensitive, like Python
    const auto& x = a.as_dict();
    const auto& y = b.as_dict();
    if (x.items.size() != y.items.size()) return false;
    for (const auto& [k, v] : x.items) {
      const Value* o = y.find(k);
      if (!o || !equals(v, *o)) return false;
    }
    return true;
  }
  if (a.is_namespace() && b.is_namespace()) return a.as_namespace().attrs == b.as_namespace().attrs;
  if (a.is_callable() && b.is_callable()) return &a.as_callable() == &b.as_callable();
  return false;
}

int compare(const Value& a, const Value& b, int line) {
  if (a.is_undefined() || b.is_undefined()) fail_at(line, "comparison with an undefined value");
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_number(), y = b.as_number();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {  // UTF-8 byte order equals code point order
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return compare(x[i], y[i], line);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fail_at(line, "'<' not supported between instances of '", type_name(a), "' and '", type_name(b), "'");
}

int64_t length(const Value& v, int line) {
  if (v.is_string()) return utf8_length(v.as_string());
  if (v.is_list()) return static_cast<int64_t>(v.as_list().items.size());
  if (v.is_dict()) return static_cast<int64_t>(v.as_dict().items.size());
  if (v.is_undefined()) return 0;
  fail_at(line, "object of type '", type_name(v), "' has no len()");
}

std::vector<Value> iterate(const Value& v, int line) {
  if (v.is_list()) return v.as_list().items;
  if (v.is_undefined()) return {};
  if (v.is_dict()) {
    std::vector<Value> keys;
    for (const auto& kv : v.as_dict().items) keys.emplace_back(kv.first);
    return keys;
  }
  if (v.is_string()) {
    std::vector<Value> chars;
    for (char32_t c : utf8_decode(v.as_string())) {
      std::string s;
      utf8_append(s, c);
      chars.emplace_back(std::move(s));
    }
    return chars;
  }
  fail_at(line, "'", type_name(v), "' object is not iterable");
}

static Value from_json_at(const nlohmann::ordered_json& j, int depth);

Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

static Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxValueDepth) trellis::fail("chat template input: JSON nests deeper than ", kMaxValueDepth, " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value(nullptr);
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) trellis::fail("chat template input: integer ", u, " is too large");
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(it.key(), from_json_at(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default: trellis::fail("chat template input: unsupported JSON value (binary)");
  }
}

static void json_escape(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  for (char32_t c : utf8_decode(s)) {
    char buf[16];
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
      if (c >= 0x10000) {  // surrogate pair, as json.dumps writes it
        const unsigned v = static_cast<unsigned>(c) - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      utf8_append(out, c);
    }
  }
  out.push_back('"');
}

namespace {
struct JsonWriter {
  const JsonOptions& opt;
  int line;
  std::string out;

  void newline(int depth) {
    if (opt.indent < 0 && !opt.use_indent_str) return;
    out.push_back('\n');
    for (int i = 0; i < depth; ++i) out += opt.use_indent_str ? opt.indent_str : std::string(static_cast<size_t>(opt.indent), ' ');
  }

  void scalar(const Value& v) {
    if (v.is_none()) out += "null";
    else if (v.is_bool()) out += v.as_bool() ? "true" : "false";
    else if (v.is_int()) out += std::to_string(v.as_int());
    else if (v.is_float()) {
      const double d = v.as_float();
      out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : format_float(d);
    } else if (v.is_string()) json_escape(out, v.as_string(), opt.ensure_ascii);
    else fail_at(line, "Object of type ", type_name(v), " is not JSON serializable");
  }

  void write(const Value& v, int depth) {
    if (depth > 200) fail_at(line, "tojson: nesting too deep");
    if (v.is_list()) return write_list(v.as_list().items, depth);
    if (v.is_dict()) return write_dict(v.as_dict(), depth);
    scalar(v);
  }

  void write_list(const std::vector<Value>& items, int depth) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += opt.item_sep;
      newline(depth + 1);
      write(items[i], depth + 1);
    }
    newline(depth);
    out.push_back(']');
  }

  void write_dict(const Dict& d, int depth) {
    if (d.items.empty()) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<std::string, Value>*> items;
    for (const auto& kv : d.items) items.push_back(&kv);
    if (opt.sort_keys)
      std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
    out.push_back('{');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += opt.item_sep;
      newline(depth + 1);
      json_escape(out, items[i]->first, opt.ensure_ascii);
      out += opt.key_sep;
      write(items[i]->second, depth + 1);
    }
    newline(depth);
    out.push_back('}');
  }
};
}  // namespace

std::string to_json(const Value& v, const JsonOptions& opt, int line) {
  JsonWriter w{opt, line, {}};
  w.write(v, 0);
  return std::move(w.out);
}

}  // namespace trellis::jinja
