#include "tokenizer/jinja_operators.h"

#include <cmath>

namespace trellis::jinja {
namespace {

[[noreturn]] void bad_operands(const std::string& op, const Value& a, const Value& b, int line) {
  if (a.is_undefined()) fail_at(line, a.as_undefined().hint);
  if (b.is_undefined()) fail_at(line, b.as_undefined().hint);
  fail_at(line, "unsupported operand type(s) for ", op, ": '", type_name(a), "' and '", type_name(b), "'");
}

bool is_integral(const Value& v) { return v.is_int() || v.is_bool(); }
int64_t to_int(const Value& v) { return v.is_int() ? v.as_int() : int64_t{v.as_bool()}; }

void check_overflow(bool overflow, int line) {
  if (overflow) fail_at(line, "integer overflow (values beyond 64 bits are unsupported)");
}

Value int_arith(const std::string& op, int64_t x, int64_t y, int line) {
  int64_t r = 0;
  if (op == "+") {
    check_overflow(__builtin_add_overflow(x, y, &r), line);
    return r;
  }
  if (op == "-") {
    check_overflow(__builtin_sub_overflow(x, y, &r), line);
    return r;
  }
  if (op == "*") {
    check_overflow(__builtin_mul_overflow(x, y, &r), line);
    return r;
  }
  if (op == "/") {
    if (y == 0) fail_at(line, "division by zero");
    return static_cast<double>(x) / static_cast<double>(y);
  }
  if (y == 0 && (op == "//" || op == "%")) fail_at(line, "integer division or modulo by zero");
  if (x == INT64_MIN && y == -1) fail_at(line, "integer overflow");
  if (op == "//") return x / y - ((x % y != 0) && ((x < 0) != (y < 0)));
  if (op == "%") {
    const int64_t m = x % y;
    return m != 0 && ((m < 0) != (y < 0)) ? m + y : m;
  }
  // "**"
  if (y < 0) return std::pow(static_cast<double>(x), static_cast<double>(y));
  int64_t acc = 1;
  for (int64_t i = 0; i < y; ++i) {
    if (__builtin_mul_overflow(acc, x, &acc)) fail_at(line, "integer overflow (values beyond 64 bits are unsupported)");
    if (acc == 0 || acc == 1) break;
  }
  return acc;
}

Value float_arith(const std::string& op, double x, double y, int line) {
  if (op == "+") return x + y;
  if (op == "-") return x - y;
  if (op == "*") return x * y;
  if (op == "**") return std::pow(x, y);
  if (y == 0.0) fail_at(line, "float division by zero");
  if (op == "/") return x / y;
  double m = std::fmod(x, y);
  if (m != 0.0 && ((m < 0) != (y < 0))) m += y;
  if (op == "%") return m;
  // "//": CPython's float_floor_div
  const double div = (x - m) / y;
  if (div == 0.0) return std::copysign(0.0, x / y);
  double fl = std::floor(div);
  if (div - fl > 0.5) fl += 1.0;
  return fl;
}

Value repeat(const Value& seq, int64_t n, int line, size_t max_bytes) {
  if (n <= 0) return seq.is_string() ? Value(std::string()) : Value::list({}, seq.as_list().is_tuple);
  if (seq.is_string()) {
    if (static_cast<double>(seq.as_string().size()) * static_cast<double>(n) > static_cast<double>(max_bytes))
      fail_at(line, "string repetition too large");
    std::string out;
    out.reserve(seq.as_string().size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return out;
  }
  const auto& items = seq.as_list().items;
  if (static_cast<double>(items.size()) * static_cast<double>(n) > static_cast<double>(kMaxListItems))
    fail_at(line, "list repetition too large");
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.as_list().is_tuple);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b, int line, size_t max_bytes) {
  if (op == "~") {
    std::string s = to_str(a) + to_str(b);
    if (s.size() > max_bytes) fail_at(line, "string too large");
    return s;
  }
  if (a.is_number() && b.is_number()) {
    if (is_integral(a) && is_integral(b)) return int_arith(op, to_int(a), to_int(b), line);
    return float_arith(op, a.as_number(), b.as_number(), line);
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    if (a.as_string().size() + b.as_string().size() > max_bytes) fail_at(line, "string too large");
    return a.as_string() + b.as_string();
  }
  if (op == "+" && a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
    if (a.as_list().items.size() + b.as_list().items.size() > kMaxListItems) fail_at(line, "list too large");
    std::vector<Value> items = a.as_list().items;
    items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
    return Value::list(std::move(items), a.as_list().is_tuple);
  }
  if (op == "*" && (a.is_string() || a.is_list()) && is_integral(b)) return repeat(a, to_int(b), line, max_bytes);
  if (op == "*" && (b.is_string() || b.is_list()) && is_integral(a)) return repeat(b, to_int(a), line, max_bytes);
  if (op == "%" && a.is_string()) fail_at(line, "unsupported: printf-style '%' string formatting");
  bad_operands(op, a, b, line);
}

Value unary_op(const std::string& op, const Value& a, int line) {
  if (a.is_undefined()) fail_at(line, a.as_undefined().hint);
  if (!a.is_number()) fail_at(line, "bad operand type for unary ", op, ": '", type_name(a), "'");
  if (op == "+") return a.is_bool() ? Value(to_int(a)) : a;
  if (a.is_float()) return -a.as_float();
  if (to_int(a) == INT64_MIN) fail_at(line, "integer overflow");
  return -to_int(a);
}

bool contains(const Value& container, const Value& item, int line) {
  if (container.is_string()) {
    if (!item.is_string()) fail_at(line, "'in <string>' requires string as left operand, not ", type_name(item));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
  if (container.is_list()) {
    for (const auto& x : container.as_list().items)
      if (equals(x, item)) return true;
    return false;
  }
  if (container.is_undefined()) return false;
  fail_at(line, "argument of type '", type_name(container), "' is not iterable");
}

}  // namespace trellis::jinja
