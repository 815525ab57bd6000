// Binds call arguments to a Python-style parameter list for built-in filters, tests,
// methods and globals: positional first, then by keyword; extra or unknown ones are errors.
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include "tokenizer/jinja_value.h"

namespace trellis::jinja {

class Args {
 public:
  // `what` names the callee in errors ("filter 'join'"); `skip` positional arguments
  // are consumed by the caller (e.g. the test name of select()).
  Args(std::string what, const CallArgs& a, std::initializer_list<const char*> names, size_t skip = 0)
      : what_(std::move(what)), line_(a.line), names_(names) {
    vals_.resize(names_.size());
    given_.resize(names_.size(), false);
    if (a.positional.size() > skip + names_.size())
      fail_at(line_, what_, " takes at most ", names_.size(), " argument(s), got ", a.positional.size() - skip);
    for (size_t i = skip; i < a.positional.size(); ++i) set(i - skip, a.positional[i]);
    for (const auto& [k, v] : a.keyword) {
      size_t i = 0;
      while (i < names_.size() && k != names_[i]) ++i;
      if (i == names_.size()) fail_at(line_, what_, " got an unexpected keyword argument '", k, "'");
      if (given_[i]) fail_at(line_, what_, " got multiple values for argument '", k, "'");
      set(i, v);
    }
  }

  bool has(size_t i) const { return given_[i]; }
  const Value& get(size_t i) const { return vals_[i]; }
  Value get_or(size_t i, Value def) const { return given_[i] ? vals_[i] : std::move(def); }

  int64_t get_int(size_t i, int64_t def) const {
    if (!given_[i]) return def;
    if (vals_[i].is_int()) return vals_[i].as_int();
    if (vals_[i].is_bool()) return vals_[i].as_bool();
    fail_at(line_, what_, ": argument '", names_[i], "' must be an integer, got ", type_name(vals_[i]));
  }
  std::string get_str(size_t i, const std::string& def) const {
    if (!given_[i]) return def;
    if (!vals_[i].is_string()) fail_at(line_, what_, ": argument '", names_[i], "' must be a string, got ", type_name(vals_[i]));
    return vals_[i].as_string();
  }
  bool get_bool(size_t i, bool def) const { return given_[i] ? truthy(vals_[i]) : def; }
  int line() const { return line_; }
  const std::string& what() const { return what_; }

 private:
  void set(size_t i, const Value& v) {
    vals_[i] = v;
    given_[i] = true;
  }
  std::string what_;
  int line_;
  std::vector<const char*> names_;
  std::vector<Value> vals_;
  std::vector<bool> given_;
};

}  // namespace trellis::jinja
