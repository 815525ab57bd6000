#include "tokenizer/jinja_eval.h"

#include <memory>
#include <unordered_map>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_operators.h"

namespace trellis::jinja {
namespace {

using Frame = std::unordered_map<std::string, Value>;

enum class Flow { Normal, Break, Continue };

class Evaluator {
 public:
  Evaluator(const Variables& vars, const RenderLimits& limits) : lim_(limits) {
    auto root = std::make_shared<Frame>();
    for (const auto& [k, v] : vars) (*root)[k] = v;
    frames_.push_back(std::move(root));
  }

  std::string run(const Body& body) {
    std::string out;
    out_ = &out;
    exec_body(body);
    return out;
  }

 private:
  const RenderLimits& lim_;
  std::vector<std::shared_ptr<Frame>> frames_;
  std::string* out_ = nullptr;
  int call_depth_ = 0;
  int64_t iterations_ = 0;

  // ---- output and scopes ----

  void write(const std::string& s, int line) {
    if (out_->size() + s.size() > lim_.max_output_bytes)
      fail_at(line, "rendered output exceeds the limit of ", lim_.max_output_bytes, " bytes");
    *out_ += s;
  }

  Value lookup(const std::string& name) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      const auto f = (*it)->find(name);
      if (f != (*it)->end()) return f->second;
    }
    return builtin_global(name);
  }

  void assign(const std::string& name, Value v) { (*frames_.back())[name] = std::move(v); }

  // Binds loop/set targets: one name takes the value, several unpack a sequence.
  void bind_targets(const std::vector<std::string>& targets, const Value& v, int line) {
    if (targets.size() == 1) return assign(targets[0], v);
    if (!v.is_list()) fail_at(line, "cannot unpack a '", type_name(v), "' into ", targets.size(), " names");
    const auto& items = v.as_list().items;
    if (items.size() != targets.size())
      fail_at(line, items.size() < targets.size() ? "not enough" : "too many", " values to unpack (expected ", targets.size(), ", got ", items.size(), ")");
    for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
  }

  struct ScopeGuard {
    Evaluator& e;
    explicit ScopeGuard(Evaluator& ev) : e(ev) { e.frames_.push_back(std::make_shared<Frame>()); }
    ~ScopeGuard() { e.frames_.pop_back(); }
  };

  // ---- statements ----

  Flow exec_body(const Body& body) {
    for (const auto& n : body) {
      const Flow f = exec(*n);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Node& n) {
    switch (n.kind) {
      case Node::Kind::Text: write(n.text, n.line); return Flow::Normal;
      case Node::Kind::Output: output(n); return Flow::Normal;
      case Node::Kind::If: return exec_if(n);
      case Node::Kind::For: return exec_for(n);
      case Node::Kind::Set: exec_set(n); return Flow::Normal;
      case Node::Kind::SetBlock: assign(n.targets[0], capture(n.body)); return Flow::Normal;
      case Node::Kind::Macro: define_macro(n); return Flow::Normal;
      case Node::Kind::Break: return Flow::Break;
      case Node::Kind::Continue: return Flow::Continue;
      case Node::Kind::Scope: return exec_scope(n);
    }
    return Flow::Normal;
  }

  void output(const Node& n) {
    const Value v = eval(*n.expr);
    if (v.is_callable()) fail_at(n.line, "unsupported: printing function '", v.as_callable().name, "'");
    write(to_str(v), n.line);
  }

  Flow exec_if(const Node& n) {
    for (const auto& [cond, body] : n.branches)
      if (truthy(eval(*cond))) return exec_body(body);
    return exec_body(n.else_body);
  }

  void exec_set(const Node& n) {
    Value v = eval(*n.expr);
    if (n.attr.empty()) return bind_targets(n.targets, v, n.line);
    const Value ns = lookup(n.targets[0]);
    if (!ns.is_namespace()) fail_at(n.line, "cannot assign attribute on non-namespace object '", n.targets[0], "'");
    if (contains_namespace(v)) fail_at(n.line, "unsupported: storing a namespace inside a namespace");
    ns.as_namespace().attrs->set(n.attr, std::move(v));
  }

  // Renders `body` into a string (set blocks, macros).
  std::string capture(const Body& body) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    try {
      exec_body(body);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    return buf;
  }

  Flow exec_scope(const Node& n) {
    std::vector<std::pair<std::string, Value>> vals;
    for (const auto& [name, e] : n.with_vars) vals.emplace_back(name, eval(*e));
    ScopeGuard g(*this);
    for (auto& [name, v] : vals) assign(name, std::move(v));
    return exec_body(n.body);
  }

  // Items of a for-loop after its `if` filter (the filter sees the targets, not `loop`).
  std::vector<Value> loop_items(const Node& n) {
    std::vector<Value> items = iterate(eval(*n.expr), n.line);
    if (!n.cond) return items;
    std::vector<Value> kept;
    for (auto& it : items) {
      ScopeGuard g(*this);
      bind_targets(n.targets, it, n.line);
      if (truthy(eval(*n.cond))) kept.push_back(std::move(it));
    }
    return kept;
  }

  static Value make_loop(const std::vector<Value>& items, size_t i) {
    const auto n = static_cast<int64_t>(items.size());
    const auto k = static_cast<int64_t>(i);
    Dict d;
    d.items = {{"index", Value(k + 1)}, {"index0", Value(k)}, {"revindex", Value(n - k)},
               {"revindex0", Value(n - k - 1)}, {"first", Value(i == 0)}, {"last", Value(k == n - 1)},
               {"length", Value(n)}, {"depth", Value(int64_t{1})}, {"depth0", Value(int64_t{0})}};
    if (i > 0) d.items.emplace_back("previtem", items[i - 1]);
    if (k + 1 < n) d.items.emplace_back("nextitem", items[i + 1]);
    d.items.emplace_back("cycle", Value::function("cycle", [k](const CallArgs& a) -> Value {
                           if (a.positional.empty()) fail_at(a.line, "no items for cycling given");
                           return a.positional[static_cast<size_t>(k) % a.positional.size()];
                         }));
    return Value::dict(std::move(d));
  }

  Flow exec_for(const Node& n) {
    const std::vector<Value> items = loop_items(n);
    for (size_t i = 0; i < items.size(); ++i) {
      if (++iterations_ > lim_.max_loop_iterations)
        fail_at(n.line, "loop iteration limit of ", lim_.max_loop_iterations, " exceeded");
      ScopeGuard g(*this);  // jinja2 gives each iteration a fresh scope
      assign("loop", make_loop(items, i));
      bind_targets(n.targets, items[i], n.line);
      if (exec_body(n.body) == Flow::Break) break;
    }
    if (items.empty()) {
      ScopeGuard g(*this);
      return exec_body(n.else_body);  // the else block sits outside the loop
    }
    return Flow::Normal;
  }

  void define_macro(const Node& n) {
    std::shared_ptr<const Macro> m = n.macro;
    // Weak: the macro value usually lives in the root frame itself (a strong ref would leak).
    std::weak_ptr<Frame> root = frames_.front();
    assign(m->name, Value::function(m->name, [this, m, root](const CallArgs& a) { return call_macro(*m, root.lock(), a); }));
  }

  Value call_macro(const Macro& m, const std::shared_ptr<Frame>& root, const CallArgs& a) {
    if (call_depth_ >= lim_.max_call_depth) fail_at(a.line, "macro call depth limit of ", lim_.max_call_depth, " exceeded");
    if (a.positional.size() > m.params.size())
      fail_at(a.line, "macro '", m.name, "' takes not more than ", m.params.size(), " argument(s)");
    auto saved = std::move(frames_);
    frames_ = {root, std::make_shared<Frame>()};
    ++call_depth_;
    struct Restore {
      Evaluator& e;
      std::vector<std::shared_ptr<Frame>>& saved;
      ~Restore() {
        e.frames_ = std::move(saved);
        --e.call_depth_;
      }
    } restore{*this, saved};
    bind_macro_args(m, a);
    return Value(capture(m.body));
  }

  void bind_macro_args(const Macro& m, const CallArgs& a) {
    for (const auto& [k, v] : a.keyword) {
      bool known = false;
      for (const auto& p : m.params) known = known || p.first == k;
      if (!known) fail_at(a.line, "macro '", m.name, "' takes no keyword argument '", k, "'");
    }
    for (size_t i = 0; i < m.params.size(); ++i) {
      const auto& [name, def] = m.params[i];
      Value v = Value::undefined("parameter '" + name + "' was not provided");
      if (i < a.positional.size()) v = a.positional[i];
      for (const auto& [k, kv] : a.keyword)
        if (k == name) v = kv;
      if (v.is_undefined() && def) v = eval(*def);
      assign(name, std::move(v));
    }
  }

  // ---- expressions ----

  CallArgs eval_args(const Expr& e, size_t first) {
    CallArgs a;
    a.line = e.line;
    for (size_t i = first; i < e.args.size(); ++i) a.positional.push_back(eval(*e.args[i]));
    for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v));
    return a;
  }

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.literal;
      case Expr::Kind::Name: return lookup(e.name);
      case Expr::Kind::Attr: return get_attr(eval(*e.args[0]), e.name, e.line);
      case Expr::Kind::Item: return get_item(eval(*e.args[0]), eval(*e.args[1]), e.line);
      case Expr::Kind::Slice: return eval_slice(e);
      case Expr::Kind::Call: return eval_call(e);
      case Expr::Kind::Filter: return apply_filter(e.name, eval(*e.args[0]), eval_args(e, 1));
      case Expr::Kind::Test: return apply_test(e.name, eval(*e.args[0]), eval_args(e, 1)) != e.negated;
      case Expr::Kind::Unary: {
        const Value v = eval(*e.args[0]);
        return e.name == "not" ? Value(!truthy(v)) : unary_op(e.name, v, e.line);
      }
      case Expr::Kind::Binary:
        return binary_op(e.name, eval(*e.args[0]), eval(*e.args[1]), e.line, lim_.max_output_bytes);
      case Expr::Kind::Compare: return eval_compare(e);
      case Expr::Kind::And: {
        Value l = eval(*e.args[0]);
        return truthy(l) ? eval(*e.args[1]) : l;
      }
      case Expr::Kind::Or: {
        Value l = eval(*e.args[0]);
        return truthy(l) ? l : eval(*e.args[1]);
      }
      case Expr::Kind::Cond:
        if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        std::vector<Value> items;
        for (const auto& x : e.args) items.push_back(eval(*x));
        return Value::list(std::move(items), e.kind == Expr::Kind::Tuple);
      }
      case Expr::Kind::Dict: return eval_dict(e);
    }
    fail_at(e.line, "internal error: unknown expression");
  }

  Value eval_slice(const Expr& e) {
    auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value(nullptr); };
    const Value obj = eval(*e.args[0]);
    return get_slice(obj, part(1), part(2), part(3), e.line);
  }

  Value eval_call(const Expr& e) {
    const Value callee = eval(*e.args[0]);
    CallArgs a = eval_args(e, 1);
    if (callee.is_callable()) return callee.as_callable().fn(a);
    if (callee.is_undefined()) fail_at(e.line, callee.as_undefined().hint);
    fail_at(e.line, "'", type_name(callee), "' object is not callable");
  }

  Value eval_compare(const Expr& e) {
    Value left = eval(*e.args[0]);
    for (size_t i = 0; i < e.ops.size(); ++i) {
      Value right = eval(*e.args[i + 1]);
      const std::string& op = e.ops[i];
      bool ok;
      if (op == "==") ok = equals(left, right);
      else if (op == "!=") ok = !equals(left, right);
      else if (op == "in") ok = contains(right, left, e.line);
      else if (op == "not in") ok = !contains(right, left, e.line);
      else {
        const int c = compare(left, right, e.line);
        ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
      }
      if (!ok) return Value(false);
      left = std::move(right);
    }
    return Value(true);
  }

  Value eval_dict(const Expr& e) {
    Dict d;
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      const Value k = eval(*e.args[i]);
      if (!k.is_string()) fail_at(e.line, "unsupported: dict key of type '", type_name(k), "' (only string keys)");
      d.set(k.as_string(), eval(*e.args[i + 1]));
    }
    return Value::dict(std::move(d));
  }
};

}  // namespace

std::string render(const TemplateAst& ast, const Variables& vars, const RenderLimits& limits) {
  return Evaluator(vars, limits).run(ast.body);
}

}  // namespace trellis::jinja
