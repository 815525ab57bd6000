#include "tokenizer/jinja_parser.h"

#include <algorithm>
#include <set>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_lexer.h"

namespace trellis::jinja {
namespace {

constexpr int kMaxDepth = 200;  // nesting of expressions and blocks: guards the C++ stack

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  TemplateAst parse() {
    TemplateAst ast;
    ast.body = parse_body({}, nullptr);
    return ast;
  }

 private:
  std::vector<Token> t_;
  size_t p_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;

  struct DepthGuard {
    int& d;
    DepthGuard(int& depth, int line) : d(depth) {
      if (++d > kMaxDepth) fail_at(line, "template nesting too deep (limit ", kMaxDepth, ")");
    }
    ~DepthGuard() { --d; }
  };

  const Token& cur() const { return t_[p_]; }
  const Token& peek(size_t n = 1) const { return t_[std::min(p_ + n, t_.size() - 1)]; }
  int line() const { return cur().line; }
  void next() {
    if (p_ + 1 < t_.size()) ++p_;
  }
  bool is_op(const char* op) const { return cur().kind == TokKind::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == TokKind::Name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokKind::Eof: return "end of template";
      case TokKind::VarEnd: return "'}}'";
      case TokKind::BlockEnd: return "'%}'";
      case TokKind::VarBegin: return "'{{'";
      case TokKind::BlockBegin: return "'{%'";
      case TokKind::String: return "string";
      case TokKind::Text: return "template text";
      default: return "'" + t.text + "'";
    }
  }

  [[noreturn]] void unexpected(const char* wanted) const {
    fail_at(line(), "expected ", wanted, ", got ", describe(cur()));
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) unexpected((std::string("'") + op + "'").c_str());
  }
  std::string expect_name() {
    if (cur().kind != TokKind::Name) unexpected("a name");
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_block_end() {
    if (cur().kind != TokKind::BlockEnd) unexpected("end of statement '%}'");
    next();
  }

  static ExprPtr make(Expr::Kind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }
  static NodePtr make_node(Node::Kind k, int line) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->line = line;
    return n;
  }

  // ---- statements ----

  // Parses nodes until a block tag named in `ends`; stops after that name token.
  Body parse_body(const std::vector<std::string>& ends, std::string* found) {
    DepthGuard g(depth_, line());
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.kind == TokKind::Eof) {
        if (ends.empty()) return body;
        std::string want;
        for (const auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
        fail_at(t.line, "unexpected end of template, expected ", want);
      }
      if (t.kind == TokKind::Text) {
        auto n = make_node(Node::Kind::Text, t.line);
        n->text = t.text;
        body.push_back(std::move(n));
        next();
      } else if (t.kind == TokKind::VarBegin) {
        body.push_back(parse_output());
      } else if (t.kind == TokKind::BlockBegin) {
        next();
        if (cur().kind == TokKind::Name && std::find(ends.begin(), ends.end(), cur().text) != ends.end()) {
          *found = cur().text;
          next();
          return body;
        }
        if (cur().kind == TokKind::Name && is_closing_tag(cur().text)) {
          std::string want;
          for (const auto& e : ends) want += (want.empty() ? " (expected '" : "' or '") + e;
          fail_at(cur().line, "unexpected '", cur().text, "'", want.empty() ? "" : want + "')");
        }
        body.push_back(parse_statement());
      } else {
        fail_at(t.line, "unexpected ", describe(t));
      }
    }
  }

  static bool is_closing_tag(const std::string& n) {
    return n.rfind("end", 0) == 0 || n == "elif" || n == "else";
  }

  NodePtr parse_output() {
    auto n = make_node(Node::Kind::Output, line());
    next();
    n->expr = parse_tuple(true, false);
    if (cur().kind != TokKind::VarEnd) unexpected("end of print statement '}}'");
    next();
    return n;
  }

  NodePtr parse_statement() {
    if (cur().kind != TokKind::Name) unexpected("a statement name");
    const std::string name = cur().text;
    const int ln = line();
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "with" || name == "generation") return parse_scope(name);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail_at(ln, "'", name, "' outside of a loop");
      next();
      expect_block_end();
      return make_node(name == "break" ? Node::Kind::Break : Node::Kind::Continue, ln);
    }
    static const std::set<std::string> known = {"block", "extends", "include", "import", "from", "call",
                                                "filter", "autoescape", "do", "trans", "endblock"};
    if (known.count(name)) fail_at(ln, "unsupported tag '", name, "'");
    fail_at(ln, "unknown tag '", name, "'");
  }

  NodePtr parse_if() {
    auto n = make_node(Node::Kind::If, line());
    next();
    std::string found;
    while (true) {
      ExprPtr cond = parse_tuple(false, false);
      expect_block_end();
      Body body = parse_body({"elif", "else", "endif"}, &found);
      n->branches.emplace_back(std::move(cond), std::move(body));
      if (found != "elif") break;
    }
    if (found == "else") {
      expect_block_end();
      n->else_body = parse_body({"endif"}, &found);
    }
    expect_block_end();
    return n;
  }

  std::vector<std::string> parse_targets() {
    const bool paren = skip_op("(");
    std::vector<std::string> names{expect_name()};
    while (skip_op(",")) {
      if (paren && is_op(")")) break;
      names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return names;
  }

  NodePtr parse_for() {
    auto n = make_node(Node::Kind::For, line());
    next();
    n->targets = parse_targets();
    if (!skip_name("in")) unexpected("'in'");
    n->expr = parse_tuple(false, false);
    if (skip_name("if")) n->cond = parse_expression(true);
    if (is_name("recursive")) fail_at(line(), "unsupported: recursive for-loops");
    expect_block_end();
    std::string found;
    ++loop_depth_;
    n->body = parse_body({"endfor", "else"}, &found);
    --loop_depth_;
    if (found == "else") {
      expect_block_end();
      n->else_body = parse_body({"endfor"}, &found);
    }
    expect_block_end();
    return n;
  }

  NodePtr parse_set() {
    auto n = make_node(Node::Kind::Set, line());
    next();
    const std::string first = expect_name();
    n->targets.push_back(first);
    if (skip_op(".")) {
      n->attr = expect_name();
    } else {
      while (skip_op(",")) n->targets.push_back(expect_name());
    }
    if (skip_op("=")) {
      n->expr = parse_tuple(true, false);
      expect_block_end();
      return n;
    }
    if (!n->attr.empty() || n->targets.size() != 1) unexpected("'='");
    if (is_op("|")) fail_at(line(), "unsupported: filtered set blocks");
    expect_block_end();
    n->kind = Node::Kind::SetBlock;
    std::string found;
    n->body = parse_body({"endset"}, &found);
    expect_block_end();
    return n;
  }

  NodePtr parse_macro() {
    auto n = make_node(Node::Kind::Macro, line());
    next();
    n->macro = std::make_shared<Macro>();
    n->macro->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!n->macro->params.empty()) expect_op(",");
      if (is_op(")")) break;
      std::string pname = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression(true);
      n->macro->params.emplace_back(std::move(pname), std::move(def));
    }
    next();
    expect_block_end();
    std::string found;
    const int outer_loops = loop_depth_;
    loop_depth_ = 0;  // a macro body cannot break out of the caller's loop
    n->macro->body = parse_body({"endmacro"}, &found);
    loop_depth_ = outer_loops;
    if (cur().kind == TokKind::Name) next();  // `{% endmacro name %}`
    expect_block_end();
    return n;
  }

  // {% with a = 1 %}...{% endwith %} and HF's {% generation %}...{% endgeneration %}.
  NodePtr parse_scope(const std::string& name) {
    auto n = make_node(Node::Kind::Scope, line());
    next();
    while (name == "with" && cur().kind != TokKind::BlockEnd) {
      if (!n->with_vars.empty()) expect_op(",");
      std::string var = expect_name();
      expect_op("=");
      n->with_vars.emplace_back(std::move(var), parse_expression(true));
    }
    expect_block_end();
    std::string found;
    n->body = parse_body({"end" + name}, &found);
    expect_block_end();
    return n;
  }

  // ---- expressions (jinja2's precedence, loosest first) ----

  bool is_tuple_end() const {
    const auto k = cur().kind;
    return k == TokKind::VarEnd || k == TokKind::BlockEnd || is_op(")") || is_name("recursive") || k == TokKind::Eof;
  }

  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parens) {
    const int ln = line();
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end()) break;
      items.push_back(with_condexpr ? parse_expression(true) : parse_or());
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) unexpected("an expression");
    }
    auto e = make(Expr::Kind::Tuple, ln);
    e->args = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard g(depth_, line());
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr e = parse_or();
    while (is_name("if")) {
      auto c = make(Expr::Kind::Cond, line());
      next();
      c->args.push_back(parse_or());
      c->args.push_back(std::move(e));
      c->args.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(Expr::Kind k, std::string op, ExprPtr l, ExprPtr r, int ln) {
    auto e = make(k, ln);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const int ln = line();
      next();
      e = binary(Expr::Kind::Or, "or", std::move(e), parse_and(), ln);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const int ln = line();
      next();
      e = binary(Expr::Kind::And, "and", std::move(e), parse_not(), ln);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (!is_name("not")) return parse_compare();
    DepthGuard g(depth_, line());
    auto e = make(Expr::Kind::Unary, line());
    next();
    e->name = "not";
    e->args.push_back(parse_not());
    return e;
  }

  ExprPtr parse_compare() {
    const int ln = line();
    ExprPtr first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    while (true) {
      static const std::set<std::string> cmp = {"==", "!=", "<", "<=", ">", ">="};
      if (cur().kind == TokKind::Op && cmp.count(cur().text)) {
        ops.push_back(cur().text);
        next();
      } else if (is_name("in")) {
        ops.push_back("in");
        next();
      } else if (is_name("not") && peek().kind == TokKind::Name && peek().text == "in") {
        ops.push_back("not in");
        next();
        next();
      } else {
        break;
      }
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto e = make(Expr::Kind::Compare, ln);
    e->args.push_back(std::move(first));
    for (auto& o : operands) e->args.push_back(std::move(o));
    e->ops = std::move(ops);
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = cur().text;
      const int ln = line();
      next();
      e = binary(Expr::Kind::Binary, op, std::move(e), parse_concat(), ln);
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const int ln = line();
      next();
      e = binary(Expr::Kind::Binary, "~", std::move(e), parse_math2(), ln);
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = cur().text;
      const int ln = line();
      next();
      e = binary(Expr::Kind::Binary, op, std::move(e), parse_pow(), ln);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      const int ln = line();
      next();
      e = binary(Expr::Kind::Binary, "**", std::move(e), parse_unary(true), ln);
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(depth_, line());
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = make(Expr::Kind::Unary, line());
      e->name = cur().text;
      next();
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr literal(Value v, int ln) {
    auto e = make(Expr::Kind::Literal, ln);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const int ln = t.line;
    switch (t.kind) {
      case TokKind::Name: return parse_name();
      case TokKind::String: {
        std::string s;
        while (cur().kind == TokKind::String) {  // adjacent literals concatenate
          s += cur().text;
          next();
        }
        return literal(Value(std::move(s)), ln);
      }
      case TokKind::Int: next(); return literal(Value(t_[p_ - 1].int_value), ln);
      case TokKind::Float: next(); return literal(Value(t_[p_ - 1].float_value), ln);
      default: break;
    }
    if (skip_op("(")) {
      ExprPtr e = parse_tuple(true, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) return parse_list();
    if (is_op("{")) return parse_dict();
    fail_at(ln, "unexpected ", describe(t));
  }

  ExprPtr parse_name() {
    const std::string n = cur().text;
    const int ln = line();
    next();
    if (n == "true" || n == "True") return literal(Value(true), ln);
    if (n == "false" || n == "False") return literal(Value(false), ln);
    if (n == "none" || n == "None") return literal(Value(nullptr), ln);
    auto e = make(Expr::Kind::Name, ln);
    e->name = n;
    return e;
  }

  ExprPtr parse_list() {
    auto e = make(Expr::Kind::List, line());
    next();
    while (!is_op("]")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("]")) break;
      e->args.push_back(parse_expression(true));
    }
    next();
    return e;
  }

  ExprPtr parse_dict() {
    auto e = make(Expr::Kind::Dict, line());
    next();
    while (!is_op("}")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("}")) break;
      e->args.push_back(parse_expression(true));
      expect_op(":");
      e->args.push_back(parse_expression(true));
    }
    next();
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".") || is_op("[")) e = parse_subscript(std::move(e));
      else if (is_op("(")) e = parse_call(std::move(e));
      else return e;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) e = parse_filter(std::move(e));
      else if (is_name("is")) e = parse_test(std::move(e));
      else if (is_op("(")) e = parse_call(std::move(e));
      else return e;
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const int ln = line();
    if (skip_op(".")) {
      if (cur().kind == TokKind::Int) {
        auto e = make(Expr::Kind::Item, ln);
        e->args.push_back(std::move(obj));
        e->args.push_back(literal(Value(cur().int_value), ln));
        next();
        return e;
      }
      auto e = make(Expr::Kind::Attr, ln);
      e->name = expect_name();
      e->args.push_back(std::move(obj));
      return e;
    }
    next();  // '['
    ExprPtr e = parse_subscribed(std::move(obj), ln);
    if (is_op(",")) fail_at(line(), "unsupported: tuple subscripts");
    expect_op("]");
    return e;
  }

  ExprPtr parse_subscribed(ExprPtr obj, int ln) {
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (!is_op(":")) {
        auto e = make(Expr::Kind::Item, ln);
        e->args.push_back(std::move(obj));
        e->args.push_back(std::move(start));
        return e;
      }
    }
    next();  // first ':'
    auto e = make(Expr::Kind::Slice, ln);
    e->args.push_back(std::move(obj));
    e->args.push_back(std::move(start));
    e->args.push_back(is_op(":") || is_op("]") || is_op(",") ? nullptr : parse_expression(true));
    ExprPtr step;
    if (skip_op(":") && !is_op("]") && !is_op(",")) step = parse_expression(true);
    e->args.push_back(std::move(step));
    return e;
  }

  // Arguments of a call, filter or test: appended to e->args / e->kwargs.
  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail_at(line(), "unsupported: *args/**kwargs in calls");
      if (cur().kind == TokKind::Name && peek().kind == TokKind::Op && peek().text == "=") {
        std::string key = cur().text;
        next();
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail_at(line(), "positional argument follows keyword argument");
        e.args.push_back(parse_expression(true));
      }
    }
    next();
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(Expr::Kind::Call, line());
    e->args.push_back(std::move(callee));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().kind == TokKind::Name) {
      next();
      n += "." + expect_name();
    }
    return n;
  }

  ExprPtr parse_filter(ExprPtr value) {
    next();  // '|'
    auto e = make(Expr::Kind::Filter, line());
    e->name = dotted_name();
    if (!is_jinja2_filter(e->name)) fail_at(e->line, "no filter named '", e->name, "'");
    e->args.push_back(std::move(value));
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  ExprPtr parse_test(ExprPtr value) {
    next();  // 'is'
    auto e = make(Expr::Kind::Test, line());
    e->negated = skip_name("not");
    e->name = dotted_name();
    if (!is_jinja2_test(e->name)) fail_at(e->line, "no test named '", e->name, "'");
    e->args.push_back(std::move(value));
    if (is_op("(")) {
      parse_call_args(*e);
    } else if (starts_test_arg()) {  // `x is divisibleby 3`: one bare argument
      if (is_name("is")) fail_at(line(), "cannot chain multiple tests with 'is'");
      e->args.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }

  bool starts_test_arg() const {
    const auto k = cur().kind;
    if (k == TokKind::Name) return !is_name("else") && !is_name("or") && !is_name("and");
    return k == TokKind::String || k == TokKind::Int || k == TokKind::Float || is_op("(") || is_op("[") || is_op("{");
  }
};

}  // namespace

TemplateAst parse_template(const std::string& source) { return Parser(lex(source)).parse(); }

}  // namespace trellis::jinja
