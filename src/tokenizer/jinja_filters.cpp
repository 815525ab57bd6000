// Filters and tests of the Jinja2-subset engine, each mirroring jinja2's own definition
// (jinja2/filters.py, jinja2/tests.py) and HF's tojson override.
#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <optional>
#include <cstdio>
#include <map>
#include <set>

#include "tokenizer/jinja_args.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_strings.h"

namespace trellis::jinja {
namespace {

using FilterFn = Value (*)(const Value&, const CallArgs&);
using TestFn = bool (*)(const Value&, const CallArgs&);

std::string filter_what(const char* name) { return std::string("filter '") + name + "'"; }

// ---- string filters ----

Value f_trim(const Value& v, const CallArgs& a) {
  Args p(filter_what("trim"), a, {"chars"});
  std::optional<std::string> chars;
  if (p.has(0) && !p.get(0).is_none()) chars = p.get_str(0, "");
  return py_strip(to_str(v), chars, true, true);
}
Value f_upper(const Value& v, const CallArgs& a) { Args(filter_what("upper"), a, {}); return py_upper(to_str(v)); }
Value f_lower(const Value& v, const CallArgs& a) { Args(filter_what("lower"), a, {}); return py_lower(to_str(v)); }
Value f_capitalize(const Value& v, const CallArgs& a) { Args(filter_what("capitalize"), a, {}); return py_capitalize(to_str(v)); }
Value f_title(const Value& v, const CallArgs& a) { Args(filter_what("title"), a, {}); return jinja_title(to_str(v)); }
Value f_string(const Value& v, const CallArgs& a) { Args(filter_what("string"), a, {}); return to_str(v); }
Value f_safe(const Value& v, const CallArgs& a) { Args(filter_what("safe"), a, {}); return v; }
Value f_escape(const Value& v, const CallArgs& a) { Args(filter_what("escape"), a, {}); return html_escape(to_str(v)); }

Value f_replace(const Value& v, const CallArgs& a) {
  Args p(filter_what("replace"), a, {"old", "new", "count"});
  if (!p.has(0) || !p.has(1)) fail_at(a.line, "filter 'replace' needs old and new");
  const int64_t count = p.has(2) && !p.get(2).is_none() ? p.get_int(2, -1) : -1;
  return py_replace(to_str(v), to_str(p.get(0)), to_str(p.get(1)), count);
}

Value f_indent(const Value& v, const CallArgs& a) {
  Args p(filter_what("indent"), a, {"width", "first", "blank"});
  std::string ind = p.has(0) && p.get(0).is_string() ? p.get(0).as_string() : std::string(static_cast<size_t>(std::max<int64_t>(0, p.get_int(0, 4))), ' ');
  const auto lines = py_splitlines(to_str(v) + "\n");
  std::string rv;
  if (p.get_bool(2, false)) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind) + lines[i];
  }
  return p.get_bool(1, false) ? ind + rv : rv;
}

// ---- sequence filters ----

Value f_length(const Value& v, const CallArgs& a) {
  Args(filter_what("length"), a, {});
  return length(v, a.line);
}

Value f_first(const Value& v, const CallArgs& a) {
  Args(filter_what("first"), a, {});
  auto items = iterate(v, a.line);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(const Value& v, const CallArgs& a) {
  Args(filter_what("last"), a, {});
  auto items = iterate(v, a.line);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_list(const Value& v, const CallArgs& a) {
  Args(filter_what("list"), a, {});
  return Value::list(iterate(v, a.line));
}

Value f_reverse(const Value& v, const CallArgs& a) {
  Args(filter_what("reverse"), a, {});
  if (v.is_string()) {
    auto cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return utf8_encode(cps);
  }
  auto items = iterate(v, a.line);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_items(const Value& v, const CallArgs& a) {
  Args(filter_what("items"), a, {});
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) fail_at(a.line, "Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.as_dict().items) out.push_back(Value::list({Value(k), val}, true));
  return Value::list(std::move(out));
}

std::vector<Value> map_attr(const std::vector<Value>& items, const Value& attr, int line) {
  std::vector<Value> out;
  for (const auto& it : items)
    out.push_back(attr.is_int() ? get_item(it, attr, line) : get_attr_path(it, to_str(attr), line));
  return out;
}

Value f_join(const Value& v, const CallArgs& a) {
  Args p(filter_what("join"), a, {"d", "attribute"});
  auto items = iterate(v, a.line);
  if (p.has(1) && !p.get(1).is_none()) items = map_attr(items, p.get(1), a.line);
  const std::string sep = p.has(0) ? to_str(p.get(0)) : "";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + to_str(items[i]);
  return out;
}

Value f_default(const Value& v, const CallArgs& a) {
  Args p(filter_what("default"), a, {"default_value", "boolean"});
  const bool use_default = v.is_undefined() || (p.get_bool(1, false) && !truthy(v));
  return use_default ? p.get_or(0, Value("")) : v;
}

// Sort key: attribute lookup, then lower-casing strings unless case_sensitive.
Value sort_key(const Value& v, const Value& attr, bool case_sensitive, int line) {
  Value k = attr.is_none() || attr.is_undefined() ? v : (attr.is_int() ? get_item(v, attr, line) : get_attr_path(v, to_str(attr), line));
  if (!case_sensitive && k.is_string()) return py_lower(k.as_string());
  return k;
}

Value f_sort(const Value& v, const CallArgs& a) {
  Args p(filter_what("sort"), a, {"reverse", "case_sensitive", "attribute"});
  auto items = iterate(v, a.line);
  const bool cs = p.get_bool(1, false);
  const Value attr = p.get_or(2, Value(nullptr));
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& it : items) keyed.emplace_back(sort_key(it, attr, cs, a.line), it);
  const bool rev = p.get_bool(0, false);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return rev ? compare(y.first, x.first, a.line) < 0 : compare(x.first, y.first, a.line) < 0;
  });
  std::vector<Value> out;
  for (auto& kv : keyed) out.push_back(kv.second);
  return Value::list(std::move(out));
}

Value f_dictsort(const Value& v, const CallArgs& a) {
  Args p(filter_what("dictsort"), a, {"case_sensitive", "by", "reverse"});
  if (!v.is_dict()) fail_at(a.line, "filter 'dictsort' expects a dict, got ", type_name(v));
  const std::string by = p.get_str(1, "key");
  if (by != "key" && by != "value") fail_at(a.line, "You can only sort by either 'key' or 'value'");
  const bool cs = p.get_bool(0, false), rev = p.get_bool(2, false);
  std::vector<Value> pairs;
  for (const auto& [k, val] : v.as_dict().items) pairs.push_back(Value::list({Value(k), val}, true));
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    const size_t i = by == "key" ? 0 : 1;
    const Value kx = sort_key(x.as_list().items[i], Value(nullptr), cs, a.line);
    const Value ky = sort_key(y.as_list().items[i], Value(nullptr), cs, a.line);
    return rev ? compare(ky, kx, a.line) < 0 : compare(kx, ky, a.line) < 0;
  });
  return Value::list(std::move(pairs));
}

Value f_unique(const Value& v, const CallArgs& a) {
  Args p(filter_what("unique"), a, {"case_sensitive", "attribute"});
  const bool cs = p.get_bool(0, false);
  const Value attr = p.get_or(1, Value(nullptr));
  std::vector<Value> seen, out;
  for (const auto& it : iterate(v, a.line)) {
    Value k = sort_key(it, attr, cs, a.line);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) continue;
    seen.push_back(std::move(k));
    out.push_back(it);
  }
  return Value::list(std::move(out));
}

Value min_max(const Value& v, const CallArgs& a, const char* name, bool want_max) {
  Args p(filter_what(name), a, {"case_sensitive", "attribute"});
  const auto items = iterate(v, a.line);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  const bool cs = p.get_bool(0, false);
  const Value attr = p.get_or(1, Value(nullptr));
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const int c = compare(sort_key(items[i], attr, cs, a.line), sort_key(items[best], attr, cs, a.line), a.line);
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}
Value f_min(const Value& v, const CallArgs& a) { return min_max(v, a, "min", false); }
Value f_max(const Value& v, const CallArgs& a) { return min_max(v, a, "max", true); }

Value add_values(const Value& x, const Value& y, int line);

Value f_sum(const Value& v, const CallArgs& a) {
  Args p(filter_what("sum"), a, {"attribute", "start"});
  auto items = iterate(v, a.line);
  if (p.has(0) && !p.get(0).is_none()) items = map_attr(items, p.get(0), a.line);
  Value total = p.get_or(1, Value(int64_t{0}));
  for (const auto& it : items) total = add_values(total, it, a.line);
  return total;
}

// Python's + on numbers (the only use sum() has in templates).
Value add_values(const Value& x, const Value& y, int line) {
  if (!x.is_number() || !y.is_number()) fail_at(line, "filter 'sum': unsupported operand types ", type_name(x), " and ", type_name(y));
  if (x.is_float() || y.is_float()) return x.as_number() + y.as_number();
  int64_t r;
  const int64_t xi = x.is_int() ? x.as_int() : x.as_bool(), yi = y.is_int() ? y.as_int() : y.as_bool();
  if (__builtin_add_overflow(xi, yi, &r))
    fail_at(line, "integer overflow");
  return r;
}

// select/reject and their attr variants: items passing (or failing) a test.
Value select_impl(const Value& v, const CallArgs& a, bool by_attr, bool keep, const char* name) {
  const size_t skip = by_attr ? 1 : 0;
  if (by_attr && a.positional.empty()) fail_at(a.line, "filter '", name, "' needs an attribute name");
  CallArgs test_args;
  test_args.line = a.line;
  std::string test;
  if (a.positional.size() > skip) {
    test = to_str(a.positional[skip]);
    test_args.positional.assign(a.positional.begin() + static_cast<long>(skip) + 1, a.positional.end());
  }
  test_args.keyword = a.keyword;
  if (!test.empty() && !is_jinja2_test(test)) fail_at(a.line, "no test named '", test, "'");
  std::vector<Value> out;
  for (const auto& it : iterate(v, a.line)) {
    const Value subject = by_attr ? get_attr_path(it, to_str(a.positional[0]), a.line) : it;
    const bool ok = test.empty() ? truthy(subject) : apply_test(test, subject, test_args);
    if (ok == keep) out.push_back(it);
  }
  return Value::list(std::move(out));
}
Value f_select(const Value& v, const CallArgs& a) { return select_impl(v, a, false, true, "select"); }
Value f_reject(const Value& v, const CallArgs& a) { return select_impl(v, a, false, false, "reject"); }
Value f_selectattr(const Value& v, const CallArgs& a) { return select_impl(v, a, true, true, "selectattr"); }
Value f_rejectattr(const Value& v, const CallArgs& a) { return select_impl(v, a, true, false, "rejectattr"); }

Value f_map(const Value& v, const CallArgs& a) {
  const auto items = iterate(v, a.line);
  if (a.positional.empty()) {  // map(attribute='x', default=...)
    Args p(filter_what("map"), a, {"attribute", "default"});
    if (!p.has(0)) fail_at(a.line, "filter 'map' needs a filter name or attribute=");
    std::vector<Value> out;
    for (const auto& it : items) {
      Value r = p.get(0).is_int() ? get_item(it, p.get(0), a.line) : get_attr_path(it, to_str(p.get(0)), a.line);
      out.push_back(r.is_undefined() && p.has(1) ? p.get(1) : r);
    }
    return Value::list(std::move(out));
  }
  const std::string filter = to_str(a.positional[0]);
  if (!is_jinja2_filter(filter)) fail_at(a.line, "no filter named '", filter, "'");
  CallArgs fa;
  fa.line = a.line;
  fa.positional.assign(a.positional.begin() + 1, a.positional.end());
  fa.keyword = a.keyword;
  std::vector<Value> out;
  for (const auto& it : items) out.push_back(apply_filter(filter, it, fa));
  return Value::list(std::move(out));
}

Value f_attr(const Value& v, const CallArgs& a) {
  Args p(filter_what("attr"), a, {"name"});
  if (v.is_dict()) return Value::undefined("'dict object' has no attribute '" + to_str(p.get(0)) + "'");
  return get_attr(v, to_str(p.get(0)), a.line);
}

// ---- numbers ----

// Python int(str): optional sign and whitespace, digits with single underscores.
bool parse_py_int(const std::string& s, int64_t base, int64_t& out) {
  const std::string t = py_strip(s, std::nullopt, true, true);
  std::string digits;
  for (char c : t) if (c != '_') digits.push_back(c);
  if (digits.empty() || base < 2 || base > 36) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
  if (*end || errno == ERANGE || std::isspace(static_cast<unsigned char>(digits[0]))) return false;
  out = v;
  return true;
}

bool parse_py_float(const std::string& s, double& out) {
  const std::string t = py_strip(s, std::nullopt, true, true);
  if (t.empty()) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return *end == 0;
}

Value f_int(const Value& v, const CallArgs& a) {
  Args p(filter_what("int"), a, {"default", "base"});
  const Value def = p.get_or(0, Value(int64_t{0}));
  int64_t i = 0;
  double d = 0;
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(int64_t{v.as_bool()});
  if (v.is_float()) d = v.as_float();
  else if (v.is_string() && parse_py_int(v.as_string(), p.get_int(1, 10), i)) return i;
  else if (!v.is_string() || !parse_py_float(v.as_string(), d)) return def;
  if (!std::isfinite(d)) fail_at(a.line, "filter 'int': cannot convert ", format_float(d), " to integer");
  if (std::fabs(d) >= 9.2e18) fail_at(a.line, "filter 'int': value too large");
  return static_cast<int64_t>(std::trunc(d));
}

Value f_float(const Value& v, const CallArgs& a) {
  Args p(filter_what("float"), a, {"default"});
  double d = 0;
  if (v.is_number()) return v.as_number();
  if (v.is_string() && parse_py_float(v.as_string(), d)) return d;
  return p.get_or(0, Value(0.0));
}

Value f_abs(const Value& v, const CallArgs& a) {
  Args(filter_what("abs"), a, {});
  if (v.is_int()) {
    if (v.as_int() == INT64_MIN) fail_at(a.line, "integer overflow");
    return Value(static_cast<int64_t>(std::llabs(v.as_int())));
  }
  if (v.is_bool()) return Value(int64_t{v.as_bool()});
  if (v.is_float()) return std::fabs(v.as_float());
  fail_at(a.line, "bad operand type for abs(): '", type_name(v), "'");
}

// Python's round(x, n) for floats: correctly rounded, ties to even.
double py_round(double x, int64_t n) {
  if (!std::isfinite(x) || n > 300) return x;
  if (n < 0) {
    const double m = std::pow(10.0, static_cast<double>(-n));
    return std::nearbyint(x / m) * m;
  }
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), x);
  return std::strtod(buf, nullptr);
}

Value f_round(const Value& v, const CallArgs& a) {
  Args p(filter_what("round"), a, {"precision", "method"});
  const int64_t prec = p.get_int(0, 0);
  const std::string method = p.get_str(1, "common");
  if (!v.is_number()) fail_at(a.line, "filter 'round' expects a number, got ", type_name(v));
  if (method == "common") {
    if (!v.is_float()) return v.is_bool() ? Value(int64_t{v.as_bool()}) : v;  // round(int, n) stays int
    return py_round(v.as_float(), prec);
  }
  if (method != "floor" && method != "ceil") fail_at(a.line, "method must be 'common', 'ceil', or 'floor'");
  const double m = std::pow(10.0, static_cast<double>(prec));
  const double scaled = v.as_number() * m;
  return (method == "floor" ? std::floor(scaled) : std::ceil(scaled)) / m;
}

// ---- JSON (HF's override: json.dumps(x, ensure_ascii=False, indent=..., ...)) ----

Value f_tojson(const Value& v, const CallArgs& a) {
  Args p(filter_what("tojson"), a, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions o;
  o.ensure_ascii = p.get_bool(0, false);
  o.sort_keys = p.get_bool(3, false);
  if (p.has(1) && !p.get(1).is_none()) {
    if (p.get(1).is_string()) o.indent_str = p.get(1).as_string();
    else o.indent_str = std::string(static_cast<size_t>(std::max<int64_t>(0, p.get_int(1, 0))), ' ');
    o.use_indent_str = true;
    o.item_sep = ",";
  }
  if (p.has(2) && !p.get(2).is_none()) {
    const Value& s = p.get(2);
    if (!s.is_list() || s.as_list().items.size() != 2) fail_at(a.line, "filter 'tojson': separators must be a pair");
    o.item_sep = to_str(s.as_list().items[0]);
    o.key_sep = to_str(s.as_list().items[1]);
  }
  return to_json(v, o, a.line);
}

const std::map<std::string, FilterFn>& filters() {
  static const std::map<std::string, FilterFn> m = {
      {"abs", f_abs}, {"attr", f_attr}, {"capitalize", f_capitalize}, {"count", f_length},
      {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape}, {"first", f_first}, {"float", f_float}, {"indent", f_indent},
      {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
      {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
      {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace},
      {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
      {"selectattr", f_selectattr}, {"sort", f_sort}, {"string", f_string}, {"sum", f_sum},
      {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"unique", f_unique},
      {"upper", f_upper},
  };
  return m;
}

// ---- tests ----

bool t_defined(const Value& v, const CallArgs&) { return !v.is_undefined(); }
bool t_undefined(const Value& v, const CallArgs&) { return v.is_undefined(); }
bool t_none(const Value& v, const CallArgs&) { return v.is_none(); }
bool t_boolean(const Value& v, const CallArgs&) { return v.is_bool(); }
bool t_true(const Value& v, const CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_false(const Value& v, const CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(const Value& v, const CallArgs&) { return v.is_int(); }
bool t_float(const Value& v, const CallArgs&) { return v.is_float(); }
bool t_number(const Value& v, const CallArgs&) { return v.is_number(); }
bool t_string(const Value& v, const CallArgs&) { return v.is_string(); }
bool t_mapping(const Value& v, const CallArgs&) { return v.is_dict(); }
bool t_callable(const Value& v, const CallArgs&) { return v.is_callable(); }
// Python's iter()/len()+__getitem__ succeed on these (jinja2's Undefined included).
bool t_iterable(const Value& v, const CallArgs&) { return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined(); }
bool t_sequence(const Value& v, const CallArgs& a) { return t_iterable(v, a); }
bool t_lower(const Value& v, const CallArgs&) { const auto s = to_str(v); return py_lower(s) == s && py_upper(s) != s; }
bool t_upper(const Value& v, const CallArgs&) { const auto s = to_str(v); return py_upper(s) == s && py_lower(s) != s; }
bool t_escaped(const Value&, const CallArgs&) { return false; }

int64_t int_operand(const Value& v, const char* test, int line) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return v.as_bool();
  fail_at(line, "test '", test, "' expects an integer, got ", type_name(v));
}
bool t_odd(const Value& v, const CallArgs& a) { return (int_operand(v, "odd", a.line) % 2 + 2) % 2 == 1; }
bool t_even(const Value& v, const CallArgs& a) { return int_operand(v, "even", a.line) % 2 == 0; }
bool t_divisibleby(const Value& v, const CallArgs& a) {
  Args p("test 'divisibleby'", a, {"num"});
  const int64_t n = int_operand(p.get(0), "divisibleby", a.line);
  if (n == 0) fail_at(a.line, "integer division or modulo by zero");
  return int_operand(v, "divisibleby", a.line) % n == 0;
}

const Value& other(const CallArgs& a, const char* test) {
  if (a.positional.size() != 1 || !a.keyword.empty()) fail_at(a.line, "test '", test, "' takes exactly one argument");
  return a.positional[0];
}
bool t_eq(const Value& v, const CallArgs& a) { return equals(v, other(a, "eq")); }
bool t_ne(const Value& v, const CallArgs& a) { return !equals(v, other(a, "ne")); }
bool t_lt(const Value& v, const CallArgs& a) { return compare(v, other(a, "lt"), a.line) < 0; }
bool t_le(const Value& v, const CallArgs& a) { return compare(v, other(a, "le"), a.line) <= 0; }
bool t_gt(const Value& v, const CallArgs& a) { return compare(v, other(a, "gt"), a.line) > 0; }
bool t_ge(const Value& v, const CallArgs& a) { return compare(v, other(a, "ge"), a.line) >= 0; }
bool t_in(const Value& v, const CallArgs& a) {
  const Value& seq = other(a, "in");
  if (seq.is_string()) return v.is_string() && seq.as_string().find(v.as_string()) != std::string::npos;
  for (const auto& it : iterate(seq, a.line))
    if (equals(it, v)) return true;
  return false;
}
// Python `is`: exact for None/True/False; shared containers compare by identity.
bool t_sameas(const Value& v, const CallArgs& a) {
  const Value& o = other(a, "sameas");
  if (v.is_list() && o.is_list()) return &v.as_list() == &o.as_list();
  if (v.is_dict() && o.is_dict()) return &v.as_dict() == &o.as_dict();
  if (v.is_none() || v.is_bool() || o.is_none() || o.is_bool()) return type_name(v) == type_name(o) && equals(v, o);
  fail_at(a.line, "unsupported: test 'sameas' on ", type_name(v), " values (depends on Python object identity)");
}

const std::map<std::string, TestFn>& tests() {
  static const std::map<std::string, TestFn> m = {
      {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined},
      {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq}, {"==", t_eq},
      {"escaped", t_escaped}, {"even", t_even}, {"false", t_false}, {"float", t_float},
      {"ge", t_ge}, {">=", t_ge}, {"gt", t_gt}, {">", t_gt}, {"greaterthan", t_gt}, {"in", t_in},
      {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le}, {"<=", t_le},
      {"lower", t_lower}, {"lt", t_lt}, {"<", t_lt}, {"lessthan", t_lt}, {"mapping", t_mapping},
      {"ne", t_ne}, {"!=", t_ne}, {"none", t_none}, {"number", t_number}, {"odd", t_odd},
      {"sameas", t_sameas}, {"sequence", t_sequence}, {"string", t_string}, {"true", t_true},
      {"undefined", t_undefined}, {"upper", t_upper},
  };
  return m;
}

}  // namespace

bool is_jinja2_filter(const std::string& name) {
  static const std::set<std::string> others = {
      "batch", "center", "filesizeformat", "forceescape", "format", "groupby", "pprint", "random",
      "slice", "striptags", "truncate", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr"};
  return filters().count(name) || others.count(name);
}

bool is_jinja2_test(const std::string& name) { return tests().count(name) || name == "filter" || name == "test"; }

Value apply_filter(const std::string& name, const Value& value, const CallArgs& args) {
  const auto it = filters().find(name);
  if (it == filters().end()) fail_at(args.line, "unsupported filter '", name, "'");
  return it->second(value, args);
}

bool apply_test(const std::string& name, const Value& value, const CallArgs& args) {
  const auto it = tests().find(name);
  if (it == tests().end()) fail_at(args.line, "unsupported test '", name, "'");
  return it->second(value, args);
}

std::vector<std::string> py_splitlines(const std::string& s) {
  std::vector<std::string> lines;
  const auto cps = utf8_decode(s);
  std::vector<char32_t> line;
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) ||
                     c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      line.push_back(c);
      continue;
    }
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    lines.push_back(utf8_encode(line));
    line.clear();
  }
  if (!line.empty()) lines.push_back(utf8_encode(line));
  return lines;
}

}  // namespace trellis::jinja
