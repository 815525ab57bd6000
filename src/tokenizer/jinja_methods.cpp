// Attribute and item access, Python str/dict/list methods and jinja2's global functions,
// as seen through HF's ImmutableSandboxedEnvironment (which forbids mutating methods).
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "tokenizer/jinja_args.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_strings.h"

namespace trellis::jinja {
namespace {

using MethodFn = Value (*)(const Value& self, const CallArgs& a);

std::optional<std::string> opt_str(const Args& p, size_t i) {
  if (!p.has(i) || p.get(i).is_none()) return std::nullopt;
  return p.get_str(i, "");
}

// ---- str methods ----

Value s_strip(const Value& s, const CallArgs& a) { Args p("str.strip", a, {"chars"}); return py_strip(s.as_string(), opt_str(p, 0), true, true); }
Value s_lstrip(const Value& s, const CallArgs& a) { Args p("str.lstrip", a, {"chars"}); return py_strip(s.as_string(), opt_str(p, 0), true, false); }
Value s_rstrip(const Value& s, const CallArgs& a) { Args p("str.rstrip", a, {"chars"}); return py_strip(s.as_string(), opt_str(p, 0), false, true); }
Value s_upper(const Value& s, const CallArgs& a) { Args("str.upper", a, {}); return py_upper(s.as_string()); }
Value s_lower(const Value& s, const CallArgs& a) { Args("str.lower", a, {}); return py_lower(s.as_string()); }
Value s_title(const Value& s, const CallArgs& a) { Args("str.title", a, {}); return py_title(s.as_string()); }
Value s_capitalize(const Value& s, const CallArgs& a) { Args("str.capitalize", a, {}); return py_capitalize(s.as_string()); }

Value split_common(const Value& s, const CallArgs& a, bool right) {
  Args p(right ? "str.rsplit" : "str.split", a, {"sep", "maxsplit"});
  const auto sep = opt_str(p, 0);
  if (sep && sep->empty()) fail_at(a.line, "empty separator");
  std::vector<Value> out;
  for (auto& part : py_split(s.as_string(), sep, p.get_int(1, -1), right)) out.emplace_back(std::move(part));
  return Value::list(std::move(out));
}
Value s_split(const Value& s, const CallArgs& a) { return split_common(s, a, false); }
Value s_rsplit(const Value& s, const CallArgs& a) { return split_common(s, a, true); }

Value s_splitlines(const Value& s, const CallArgs& a) {
  Args p("str.splitlines", a, {"keepends"});
  if (p.get_bool(0, false)) fail_at(a.line, "unsupported: str.splitlines(keepends=True)");
  std::vector<Value> out;
  for (auto& l : py_splitlines(s.as_string())) out.emplace_back(std::move(l));
  return Value::list(std::move(out));
}

// startswith/endswith accept a string or a tuple of strings.
bool affix_match(const std::string& s, const Value& affix, bool at_end, int line) {
  if (affix.is_list() && affix.as_list().is_tuple) {
    for (const auto& x : affix.as_list().items)
      if (affix_match(s, x, at_end, line)) return true;
    return false;
  }
  if (!affix.is_string()) fail_at(line, at_end ? "endswith" : "startswith", " first arg must be str or a tuple of str, not ", type_name(affix));
  const auto& x = affix.as_string();
  if (x.size() > s.size()) return false;
  return at_end ? s.compare(s.size() - x.size(), x.size(), x) == 0 : s.compare(0, x.size(), x) == 0;
}
Value s_startswith(const Value& s, const CallArgs& a) { Args p("str.startswith", a, {"prefix"}); return affix_match(s.as_string(), p.get(0), false, a.line); }
Value s_endswith(const Value& s, const CallArgs& a) { Args p("str.endswith", a, {"suffix"}); return affix_match(s.as_string(), p.get(0), true, a.line); }

Value s_replace(const Value& s, const CallArgs& a) {
  Args p("str.replace", a, {"old", "new", "count"});
  return py_replace(s.as_string(), p.get_str(0, ""), p.get_str(1, ""), p.get_int(2, -1));
}
Value s_find(const Value& s, const CallArgs& a) { Args p("str.find", a, {"sub"}); return py_find(s.as_string(), p.get_str(0, ""), false); }
Value s_rfind(const Value& s, const CallArgs& a) { Args p("str.rfind", a, {"sub"}); return py_find(s.as_string(), p.get_str(0, ""), true); }

Value s_count(const Value& s, const CallArgs& a) {
  Args p("str.count", a, {"sub"});
  const std::string sub = p.get_str(0, "");
  if (sub.empty()) return utf8_length(s.as_string()) + 1;
  int64_t n = 0;
  for (size_t at = s.as_string().find(sub); at != std::string::npos; at = s.as_string().find(sub, at + sub.size())) ++n;
  return n;
}

Value s_join(const Value& s, const CallArgs& a) {
  Args p("str.join", a, {"iterable"});
  std::string out;
  bool first = true;
  for (const auto& it : iterate(p.get(0), a.line)) {
    if (!it.is_string()) fail_at(a.line, "sequence item: expected str instance, ", type_name(it), " found");
    out += (first ? "" : s.as_string()) + it.as_string();
    first = false;
  }
  return out;
}

Value s_removeprefix(const Value& s, const CallArgs& a) {
  Args p("str.removeprefix", a, {"prefix"});
  const auto x = p.get_str(0, "");
  return s.as_string().compare(0, x.size(), x) == 0 && x.size() <= s.as_string().size() ? s.as_string().substr(x.size()) : s.as_string();
}
Value s_removesuffix(const Value& s, const CallArgs& a) {
  Args p("str.removesuffix", a, {"suffix"});
  const auto x = p.get_str(0, "");
  const auto& str = s.as_string();
  if (x.empty() || x.size() > str.size() || str.compare(str.size() - x.size(), x.size(), x) != 0) return str;
  return str.substr(0, str.size() - x.size());
}

template <bool (*Pred)(char32_t)>
Value s_is(const Value& s, const CallArgs& a) {
  Args("str predicate", a, {});
  const auto cps = utf8_decode(s.as_string());
  return !cps.empty() && std::all_of(cps.begin(), cps.end(), Pred);
}
bool cp_space(char32_t c) { return is_py_space(c); }
bool cp_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool cp_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool cp_alnum(char32_t c) { return cp_alpha(c) || cp_digit(c); }

// str.format with plain {} / {0} / {name} fields; anything fancier is rejected.
Value s_format(const Value& s, const CallArgs& a) {
  const std::string& f = s.as_string();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if ((f[i] == '{' || f[i] == '}') && i + 1 < f.size() && f[i + 1] == f[i]) {
      out.push_back(f[i++]);
      continue;
    }
    if (f[i] == '}') fail_at(a.line, "Single '}' encountered in format string");
    if (f[i] != '{') {
      out.push_back(f[i]);
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string::npos) fail_at(a.line, "Single '{' encountered in format string");
    const std::string field = f.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) fail_at(a.line, "unsupported: str.format field '{", field, "}'");
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
      const size_t idx = field.empty() ? auto_index++ : std::stoul(field);
      if (idx >= a.positional.size()) fail_at(a.line, "Replacement index ", idx, " out of range for positional args tuple");
      v = &a.positional[idx];
    } else {
      for (const auto& [k, val] : a.keyword)
        if (k == field) v = &val;
      if (!v) fail_at(a.line, "KeyError: '", field, "'");
    }
    out += to_str(*v);
    i = close;
  }
  return out;
}

const std::map<std::string, MethodFn>& str_methods() {
  static const std::map<std::string, MethodFn> m = {
      {"strip", s_strip}, {"lstrip", s_lstrip}, {"rstrip", s_rstrip}, {"upper", s_upper},
      {"lower", s_lower}, {"title", s_title}, {"capitalize", s_capitalize}, {"split", s_split},
      {"rsplit", s_rsplit}, {"splitlines", s_splitlines}, {"startswith", s_startswith},
      {"endswith", s_endswith}, {"replace", s_replace}, {"find", s_find}, {"rfind", s_rfind},
      {"count", s_count}, {"join", s_join}, {"format", s_format}, {"removeprefix", s_removeprefix},
      {"removesuffix", s_removesuffix}, {"isspace", s_is<cp_space>}, {"isdigit", s_is<cp_digit>},
      {"isalpha", s_is<cp_alpha>}, {"isalnum", s_is<cp_alnum>},
  };
  return m;
}

// ---- dict and list methods ----

Value d_items(const Value& d, const CallArgs& a) {
  Args("dict.items", a, {});
  std::vector<Value> out;
  for (const auto& [k, v] : d.as_dict().items) out.push_back(Value::list({Value(k), v}, true));
  return Value::list(std::move(out));
}
Value d_keys(const Value& d, const CallArgs& a) {
  Args("dict.keys", a, {});
  return Value::list(iterate(d, a.line));
}
Value d_values(const Value& d, const CallArgs& a) {
  Args("dict.values", a, {});
  std::vector<Value> out;
  for (const auto& kv : d.as_dict().items) out.push_back(kv.second);
  return Value::list(std::move(out));
}
Value d_get(const Value& d, const CallArgs& a) {
  Args p("dict.get", a, {"key", "default"});
  const Value* v = p.get(0).is_string() ? d.as_dict().find(p.get(0).as_string()) : nullptr;
  return v ? *v : p.get_or(1, Value(nullptr));
}
Value d_copy(const Value& d, const CallArgs& a) { Args("copy", a, {}); return d; }

const std::map<std::string, MethodFn>& dict_methods() {
  static const std::map<std::string, MethodFn> m = {
      {"items", d_items}, {"keys", d_keys}, {"values", d_values}, {"get", d_get}, {"copy", d_copy}};
  return m;
}

Value l_index(const Value& l, const CallArgs& a) {
  Args p("list.index", a, {"value"});
  const auto& items = l.as_list().items;
  for (size_t i = 0; i < items.size(); ++i)
    if (equals(items[i], p.get(0))) return static_cast<int64_t>(i);
  fail_at(a.line, repr(p.get(0)), " is not in list");
}
Value l_count(const Value& l, const CallArgs& a) {
  Args p("list.count", a, {"value"});
  int64_t n = 0;
  for (const auto& it : l.as_list().items) n += equals(it, p.get(0));
  return n;
}

const std::map<std::string, MethodFn>& list_methods() {
  static const std::map<std::string, MethodFn> m = {{"index", l_index}, {"count", l_count}, {"copy", d_copy}};
  return m;
}

// Python attribute names that exist but are not implemented here, or that HF's immutable
// sandbox refuses: calling them must fail loudly rather than act as undefined.
const std::set<std::string>& other_str_methods() {
  static const std::set<std::string> s = {
      "casefold", "center", "encode", "expandtabs", "format_map", "index", "isascii", "isdecimal",
      "isidentifier", "islower", "isnumeric", "isprintable", "istitle", "isupper", "ljust",
      "maketrans", "partition", "rindex", "rjust", "rpartition", "swapcase", "translate", "zfill"};
  return s;
}
const std::set<std::string>& mutating_methods() {
  static const std::set<std::string> s = {"append", "clear", "extend", "insert", "pop", "remove",
                                          "reverse", "sort", "popitem", "setdefault", "update"};
  return s;
}

Value bind(const Value& self, const std::string& name, MethodFn fn) {
  return Value::function(name, [self, fn](const CallArgs& a) { return fn(self, a); });
}

Value refuse(const std::string& type, const std::string& name, bool sandbox) {
  return Value::function(name, [type, name, sandbox](const CallArgs& a) -> Value {
    if (sandbox)
      fail_at(a.line, "access to attribute '", name, "' of '", type, "' object is unsafe (HF renders templates in an immutable sandbox)");
    fail_at(a.line, "unsupported method ", type, ".", name, "()");
  });
}

// Python getattr() on the value: methods (or nothing).
std::optional<Value> method_of(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    const auto it = str_methods().find(name);
    if (it != str_methods().end()) return bind(obj, name, it->second);
    if (other_str_methods().count(name)) return refuse("str", name, false);
  } else if (obj.is_dict()) {
    const auto it = dict_methods().find(name);
    if (it != dict_methods().end()) return bind(obj, name, it->second);
    if (mutating_methods().count(name)) return refuse("dict", name, true);
    if (name == "fromkeys") return refuse("dict", name, false);
  } else if (obj.is_list()) {
    const auto it = list_methods().find(name);
    if (it != list_methods().end()) return bind(obj, name, it->second);
    if (mutating_methods().count(name) && !obj.as_list().is_tuple) return refuse("list", name, true);
  }
  return std::nullopt;
}

std::string object_desc(const Value& v) { return "'" + type_name(v) + " object'"; }

[[noreturn]] void undefined_use(const Value& v, int line) { fail_at(line, v.as_undefined().hint); }

// Python index normalisation; nullopt when out of range.
std::optional<size_t> norm_index(int64_t i, size_t n) {
  if (i < 0) i += static_cast<int64_t>(n);
  if (i < 0 || i >= static_cast<int64_t>(n)) return std::nullopt;
  return static_cast<size_t>(i);
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name, int line) {
  if (obj.is_undefined()) undefined_use(obj, line);
  if (name.size() > 1 && name[0] == '_' && name[1] == '_') fail_at(line, "unsupported: access to attribute '", name, "'");
  if (auto m = method_of(obj, name)) return *m;
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
  } else if (obj.is_namespace()) {
    if (const Value* v = obj.as_namespace().attrs->find(name)) return *v;
  }
  return Value::undefined(object_desc(obj) + " has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined()) undefined_use(obj, line);
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
  } else if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    const int64_t i = key.is_int() ? key.as_int() : key.as_bool();
    if (obj.is_list()) {
      const auto& items = obj.as_list().items;
      if (auto k = norm_index(i, items.size())) return items[*k];
    } else {
      const auto cps = utf8_decode(obj.as_string());
      if (auto k = norm_index(i, cps.size())) return utf8_encode({cps[*k]});
    }
    return Value::undefined(object_desc(obj) + " has no element " + std::to_string(i));
  }
  if (key.is_string()) {  // jinja2 falls back to attribute lookup for string keys
    if (obj.is_namespace() || !obj.is_dict()) return get_attr(obj, key.as_string(), line);
    if (auto m = method_of(obj, key.as_string())) return *m;
    return Value::undefined(object_desc(obj) + " has no attribute '" + key.as_string() + "'");
  }
  return Value::undefined(object_desc(obj) + " has no element " + repr(key));
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step, int line) {
  if (obj.is_undefined()) undefined_use(obj, line);
  auto part = [&](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (v.is_int()) return v.as_int();
    if (v.is_bool()) return v.as_bool();
    fail_at(line, "slice ", what, " must be an integer or None, got ", type_name(v));
  };
  const int64_t st = part(step, "step").value_or(1);
  if (st == 0) fail_at(line, "slice step cannot be zero");
  std::vector<Value> items;
  std::vector<char32_t> cps;
  if (obj.is_string()) cps = utf8_decode(obj.as_string());
  else if (obj.is_list()) items = obj.as_list().items;
  else fail_at(line, "'", type_name(obj), "' object is not subscriptable");
  const int64_t n = obj.is_string() ? static_cast<int64_t>(cps.size()) : static_cast<int64_t>(items.size());
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x = std::max<int64_t>(x + n, st < 0 ? -1 : 0);
    else x = std::min<int64_t>(x, st < 0 ? n - 1 : n);
    return x;
  };
  const int64_t b = adjust(part(start, "start"), st < 0 ? n - 1 : 0);
  const int64_t e = adjust(part(stop, "stop"), st < 0 ? -1 : n);
  std::vector<Value> out_items;
  std::vector<char32_t> out_cps;
  for (int64_t i = b; st > 0 ? i < e : i > e;) {
    if (obj.is_string()) out_cps.push_back(cps[static_cast<size_t>(i)]);
    else out_items.push_back(items[static_cast<size_t>(i)]);
    if (__builtin_add_overflow(i, st, &i)) break;
  }
  if (obj.is_string()) return utf8_encode(out_cps);
  return Value::list(std::move(out_items), obj.as_list().is_tuple);
}

Value get_attr_path(const Value& obj, const std::string& path, int line) {
  Value cur = obj;
  size_t pos = 0;
  while (true) {
    const size_t dot = path.find('.', pos);
    const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = numeric ? get_item(cur, Value(static_cast<int64_t>(std::stoll(part))), line) : get_item(cur, Value(part), line);
    if (dot == std::string::npos) return cur;
    if (cur.is_undefined()) return cur;
    pos = dot + 1;
  }
}

// ---- globals ----

namespace {

Value g_range(const CallArgs& a) {
  if (!a.keyword.empty() || a.positional.empty() || a.positional.size() > 3) fail_at(a.line, "range() takes 1 to 3 integer arguments");
  std::vector<int64_t> v;
  for (const auto& x : a.positional) {
    if (!x.is_int()) fail_at(a.line, "range() arguments must be integers, got ", type_name(x));
    v.push_back(x.as_int());
  }
  const int64_t start = v.size() > 1 ? v[0] : 0;
  const int64_t stop = v.size() > 1 ? v[1] : v[0];
  const int64_t step = v.size() > 2 ? v[2] : 1;
  if (step == 0) fail_at(a.line, "range() arg 3 must not be zero");
  constexpr int64_t kMaxRange = 1000000;  // jinja2's sandbox caps ranges at 100000; stay generous
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange) fail_at(a.line, "range() too big (limit ", kMaxRange, ")");
    out.emplace_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return Value::list(std::move(out));
}

Value g_dict(const CallArgs& a) {
  Dict d;
  for (const auto& x : a.positional) {
    if (!x.is_dict()) fail_at(a.line, "unsupported: dict() with a positional ", type_name(x));
    for (const auto& [k, v] : x.as_dict().items) d.set(k, v);
  }
  for (const auto& [k, v] : a.keyword) d.set(k, v);
  return Value::dict(std::move(d));
}

Value g_namespace(const CallArgs& a) {
  Namespace ns{std::make_shared<Dict>(g_dict(a).as_dict())};
  return Value(std::move(ns));
}

Value g_raise_exception(const CallArgs& a) {
  if (a.positional.size() != 1) fail_at(a.line, "raise_exception() takes one message argument");
  throw trellis::Error(to_str(a.positional[0]));  // HF surfaces the message verbatim
}

}  // namespace

Value builtin_global(const std::string& name) {
  if (name == "range") return Value::function(name, g_range);
  if (name == "dict") return Value::function(name, g_dict);
  if (name == "namespace") return Value::function(name, g_namespace);
  if (name == "raise_exception") return Value::function(name, g_raise_exception);
  if (name == "lipsum" || name == "cycler" || name == "joiner")
    return Value::function(name, [name](const CallArgs& a) -> Value { fail_at(a.line, "unsupported global function '", name, "'"); });
  return Value::undefined("'" + name + "' is undefined");
}

}  // namespace trellis::jinja
