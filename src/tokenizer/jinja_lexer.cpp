#include "tokenizer/jinja_lexer.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <regex>

#include "core/error.h"
#include "tokenizer/jinja_strings.h"

namespace trellis::jinja {
namespace {

// jinja2 normalises every line ending to "\n" and drops one trailing newline
// (keep_trailing_newline=False).
std::string normalize_newlines(const std::string& src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out.push_back(src[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                            "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& opt) : src_(std::move(src)), opt_(opt) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t tag = next_tag(pos_);
      if (tag == std::string::npos) {
        emit_text(src_.substr(pos_), src_.size());
        break;
      }
      lex_tag(tag);
    }
    push(TokKind::Eof, "");
    return std::move(out_);
  }

 private:
  std::string src_;
  LexOptions opt_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;  // the previous match ended with "\n" (jinja2's lstrip rule)
  std::vector<Token> out_;

  size_t next_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void push(TokKind k, std::string text, int line = -1) {
    Token t;
    t.kind = k;
    t.text = std::move(text);
    t.line = line < 0 ? line_ : line;
    out_.push_back(std::move(t));
  }

  // Advances pos_ to `to`, counting lines.
  void advance(size_t to) {
    for (size_t i = pos_; i < to; ++i) line_ += src_[i] == '\n';
    pos_ = to;
  }

  void emit_text(std::string text, size_t to) {
    const int line = line_;
    advance(to);
    if (!text.empty()) push(TokKind::Text, std::move(text), line);
  }

  // Whitespace control on the text before a tag: "-" strips all trailing whitespace;
  // lstrip_blocks removes indentation before a block or comment tag on its own line.
  std::string control_left(std::string text, char kind, char mod) const {
    if (mod == '-') return py_strip(text, std::nullopt, false, true);
    if (mod == '+' || kind == '{' || !opt_.lstrip_blocks) return text;
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting_) return text;
    if (l_pos == text.size()) return text;
    for (size_t i = l_pos; i < text.size(); ++i)
      if (!is_space(text[i])) return text;
    return text.substr(0, l_pos);
  }

  // Whitespace control after a tag end: "-" eats all whitespace, trim_blocks one newline.
  void control_right(char mod, bool trim) {
    size_t p = pos_;
    if (mod == '-') {
      while (p < src_.size() && is_space(src_[p])) ++p;
    } else if (mod != '+' && trim && p < src_.size() && src_[p] == '\n') {
      ++p;
    }
    line_starting_ = p > pos_ ? src_[p - 1] == '\n' : false;
    advance(p);
  }

  char modifier_at(size_t p) const {
    return p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
  }

  void lex_tag(size_t tag) {
    const char kind = src_[tag + 1];
    const char mod = modifier_at(tag + 2);
    if (kind == '%' && try_raw(tag, mod)) return;
    emit_text(control_left(src_.substr(pos_, tag - pos_), kind, mod), tag);
    line_starting_ = false;
    const int tag_line = line_;
    advance(tag + 2 + (mod ? 1 : 0));
    if (kind == '#') return lex_comment(tag_line);
    push(kind == '{' ? TokKind::VarBegin : TokKind::BlockBegin, kind == '{' ? "{{" : "{%", tag_line);
    lex_inside(kind, tag_line);
  }

  void lex_comment(int tag_line) {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail("template line ", tag_line, ": unclosed comment");
    const char mod = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    advance(end + 2);
    control_right(mod, opt_.trim_blocks);
  }

  // {% raw %}...{% endraw %}: the body is literal text.
  bool try_raw(size_t tag, char mod) {
    static const std::regex begin_re(R"(^\{%[-+]?\s*raw\s*(-?)%\})");
    static const std::regex end_re(R"(\{%([-+]?)\s*endraw\s*([-+]?)%\})");
    std::smatch m;
    const std::string head = src_.substr(tag, 64);
    if (!std::regex_search(head, m, begin_re)) return false;
    emit_text(control_left(src_.substr(pos_, tag - pos_), '%', mod), tag);
    advance(tag + static_cast<size_t>(m.length(0)));
    if (m[1].length()) control_right('-', false);
    const int body_line = line_;
    std::smatch e;
    const std::string rest = src_.substr(pos_);
    if (!std::regex_search(rest, e, end_re)) fail("template line ", body_line, ": unclosed raw block");
    line_starting_ = false;
    std::string body = control_left(rest.substr(0, static_cast<size_t>(e.position(0))), '%', e[1].str().empty() ? 0 : e[1].str()[0]);
    if (!body.empty()) push(TokKind::Text, std::move(body), body_line);
    advance(pos_ + static_cast<size_t>(e.position(0) + e.length(0)));
    control_right(e[2].str().empty() ? 0 : e[2].str()[0], opt_.trim_blocks);
    return true;
  }

  // Tokens up to the matching }} or %}; braces inside expressions nest.
  void lex_inside(char kind, int tag_line) {
    std::string stack;
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) advance(pos_ + 1);
      if (pos_ >= src_.size())
        fail("template line ", tag_line, ": unclosed '", kind == '{' ? "{{" : "{%", "' tag");
      if (stack.empty() && try_tag_end(kind)) return;
      lex_token(stack);
    }
  }

  bool try_tag_end(char kind) {
    const char* close = kind == '{' ? "}}" : "%}";
    const char mod = modifier_at(pos_);
    const size_t at = pos_ + (mod ? 1 : 0);
    if (src_.compare(at, 2, close) != 0) return false;
    if (mod == '+' && kind == '{') return false;
    push(kind == '{' ? TokKind::VarEnd : TokKind::BlockEnd, close);
    advance(at + 2);
    control_right(mod, kind == '%' && opt_.trim_blocks);
    return true;
  }

  void lex_token(std::string& stack) {
    const char c = src_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return lex_name();
    if (std::isdigit(static_cast<unsigned char>(c))) return lex_number();
    if (c == '\'' || c == '"') return lex_string(c);
    for (const char* op : kOps) {
      const size_t n = std::strlen(op);
      if (src_.compare(pos_, n, op) != 0) continue;
      track_brace(stack, op[0]);
      push(TokKind::Op, op);
      advance(pos_ + n);
      return;
    }
    fail("template line ", line_, ": unexpected character '", std::string(1, c), "'");
  }

  void track_brace(std::string& stack, char c) {
    if (c == '(' || c == '[' || c == '{') {
      stack.push_back(c);
    } else if (c == ')' || c == ']' || c == '}') {
      const char open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (stack.empty() || stack.back() != open)
        fail("template line ", line_, ": unexpected '", std::string(1, c), "'");
      stack.pop_back();
    }
  }

  void lex_name() {
    size_t e = pos_;
    while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
    push(TokKind::Name, src_.substr(pos_, e - pos_));
    advance(e);
  }

  size_t scan_digits(size_t p) const {
    while (p < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[p])) || src_[p] == '_')) ++p;
    return p;
  }

  size_t scan_exponent(size_t p) const {
    if (p >= src_.size() || (src_[p] != 'e' && src_[p] != 'E')) return p;
    size_t q = p + 1;
    if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
    if (q >= src_.size() || !std::isdigit(static_cast<unsigned char>(src_[q]))) return p;
    return scan_digits(q);
  }

  void lex_number() {
    if (src_[pos_] == '0' && pos_ + 1 < src_.size() && std::strchr("xXoObB", src_[pos_ + 1])) return lex_radix();
    size_t e = scan_digits(pos_);
    bool is_float = false;
    const bool after_dot = pos_ > 0 && src_[pos_ - 1] == '.';  // `x.0.1` is two lookups
    if (!after_dot && e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
      e = scan_digits(e + 1);
      is_float = true;
    }
    const size_t ex = after_dot ? e : scan_exponent(e);
    is_float = is_float || ex != e;
    e = ex;
    std::string text;
    for (size_t i = pos_; i < e; ++i)
      if (src_[i] != '_') text.push_back(src_[i]);
    Token t;
    t.kind = is_float ? TokKind::Float : TokKind::Int;
    t.text = text;
    t.line = line_;
    if (is_float) {
      t.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      errno = 0;
      t.int_value = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) fail("template line ", line_, ": integer literal ", text, " is too large");
    }
    out_.push_back(std::move(t));
    advance(e);
  }

  void lex_radix() {
    const char r = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[pos_ + 1])));
    const int base = r == 'x' ? 16 : r == 'o' ? 8 : 2;
    size_t e = pos_ + 2;
    std::string digits;
    while (e < src_.size() && (std::isxdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) {
      if (src_[e] != '_') digits.push_back(src_[e]);
      ++e;
    }
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(digits.c_str(), &end, base);
    if (digits.empty() || *end || errno == ERANGE) fail("template line ", line_, ": bad integer literal");
    Token t;
    t.kind = TokKind::Int;
    t.int_value = v;
    t.line = line_;
    out_.push_back(std::move(t));
    advance(e);
  }

  void lex_string(char quote) {
    size_t e = pos_ + 1;
    while (e < src_.size() && src_[e] != quote) e += src_[e] == '\\' ? 2 : 1;
    if (e >= src_.size()) fail("template line ", line_, ": unterminated string");
    Token t;
    t.kind = TokKind::String;
    t.text = decode_escapes(src_.substr(pos_ + 1, e - pos_ - 1));
    t.line = line_;
    out_.push_back(std::move(t));
    advance(e + 1);
  }

  // Python "unicode-escape" decoding, as jinja2 applies to string literals.
  std::string decode_escapes(const std::string& raw) const {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\' || i + 1 >= raw.size()) {
        out.push_back(raw[i]);
        continue;
      }
      const char c = raw[++i];
      switch (c) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x': i = hex_escape(raw, i, 2, out); break;
        case 'u': i = hex_escape(raw, i, 4, out); break;
        case 'U': i = hex_escape(raw, i, 8, out); break;
        case 'N': fail("template line ", line_, ": unsupported \\N{...} escape in string");
        default:
          if (c >= '0' && c <= '7') {
            i = octal_escape(raw, i, out);
          } else {  // unknown escapes keep their backslash, as in Python
            out.push_back('\\');
            out.push_back(c);
          }
      }
    }
    return out;
  }

  size_t hex_escape(const std::string& raw, size_t i, int n, std::string& out) const {
    if (i + static_cast<size_t>(n) >= raw.size())
      fail("template line ", line_, ": truncated escape in string");
    const std::string digits = raw.substr(i + 1, static_cast<size_t>(n));
    for (char d : digits)
      if (!std::isxdigit(static_cast<unsigned char>(d))) fail("template line ", line_, ": truncated escape in string");
    const unsigned long cp = std::stoul(digits, nullptr, 16);
    if (cp > 0x10FFFF) fail("template line ", line_, ": illegal Unicode character in string");
    utf8_append(out, static_cast<char32_t>(cp));
    return i + static_cast<size_t>(n);
  }

  size_t octal_escape(const std::string& raw, size_t i, std::string& out) const {
    unsigned v = 0;
    size_t k = i;
    for (int n = 0; n < 3 && k < raw.size() && raw[k] >= '0' && raw[k] <= '7'; ++n, ++k) v = v * 8 + static_cast<unsigned>(raw[k] - '0');
    utf8_append(out, static_cast<char32_t>(v));
    return k - 1;
  }
};

}  // namespace

std::vector<Token> lex(const std::string& source, const LexOptions& opt) {
  return Lexer(normalize_newlines(source), opt).run();
}

}  // namespace trellis::jinja
