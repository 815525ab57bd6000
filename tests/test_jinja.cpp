// Jinja2-subset engine and HF chat templates, checked byte for byte against Python jinja2:
// tests/data/templates/*.golden and snippets.json come from scripts/gen_template_goldens.py.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/jinja_eval.h"
#include "tokenizer/jinja_parser.h"

using namespace trellis;
using ojson = nlohmann::ordered_json;

namespace {

std::string data_dir() { return std::string(TRELLIS_SOURCE_DIR) + "/tests/data/templates/"; }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST(ChatTemplate, GoldensMatchPythonJinja2) {
  const ojson manifest = ojson::parse(read_file(data_dir() + "conversations.json"));
  int checked = 0;
  for (const auto& c : manifest["cases"]) {
    const std::string name = c["template"].get<std::string>() + "." + c["case"].get<std::string>();
    SCOPED_TRACE(name);
    ChatTemplateInputs in;
    in.messages = manifest["conversations"][c["conversation"].get<std::string>()];
    in.add_generation_prompt = c["add_generation_prompt"];
    in.bos_token = c["bos_token"];
    in.eos_token = c["eos_token"];
    in.extra = c["extra"];
    in.now_unix_seconds = manifest["strftime_epoch"].get<int64_t>();
    const ChatTemplate tmpl(read_file(data_dir() + c["template"].get<std::string>() + ".jinja"));
    if (c["expect"] == "golden") {
      EXPECT_EQ(tmpl.render(in), read_file(data_dir() + name + ".golden"));
    } else {
      try {
        tmpl.render(in);
        ADD_FAILURE() << "expected raise_exception";
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), read_file(data_dir() + name + ".error"));
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

// Construct-level cases rendered by jinja2 (scripts/gen_template_goldens.py): same output,
// or an Error where jinja2 raises.
TEST(Jinja, SnippetsMatchPythonJinja2) {
  const ojson data = ojson::parse(read_file(data_dir() + "snippets.json"));
  int checked = 0;
  for (const auto& c : data["cases"]) {
    const std::string src = c["template"];
    SCOPED_TRACE(src);
    ChatTemplateInputs in;
    in.extra = data["vars"];
    in.now_unix_seconds = 1721952000;
    if (c.contains("output")) {
      try {
        EXPECT_EQ(render_chat_template(src, in), c["output"].get<std::string>());
      } catch (const Error& e) {
        ADD_FAILURE() << "threw: " << e.what();
      }
    } else {
      EXPECT_THROW(render_chat_template(src, in), Error) << "jinja2 raised " << c["error"];
    }
    ++checked;
  }
  EXPECT_GE(checked, 80);
}

namespace {

// Renders `src` with `vars` as template variables (no messages).
std::string render_with(const std::string& src, const ojson& vars = ojson::object()) {
  ChatTemplateInputs in;
  in.extra = vars;
  return render_chat_template(src, in);
}

// The Error message `src` raises ("" if it renders).
std::string error_of(const std::string& src, const ojson& vars = ojson::object()) {
  try {
    render_with(src, vars);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Jinja, UnsupportedConstructsNameTheLine) {
  EXPECT_EQ(error_of("a\nb\n{{ x|wordwrap }}"), "template line 3: unsupported filter 'wordwrap'");
  EXPECT_EQ(error_of("\n{{ x|no_such_filter }}"), "template line 2: no filter named 'no_such_filter'");
  EXPECT_EQ(error_of("{% if x is no_such_test %}{% endif %}"), "template line 1: no test named 'no_such_test'");
  EXPECT_EQ(error_of("\n\n\n{% include 'other.jinja' %}"), "template line 4: unsupported tag 'include'");
  EXPECT_EQ(error_of("{% for x in y recursive %}{% endfor %}"), "template line 1: unsupported: recursive for-loops");
  EXPECT_EQ(error_of("{{ 'abc'.zfill(5) }}"), "template line 1: unsupported method str.zfill()");
  EXPECT_EQ(error_of("{{ lipsum() }}"), "template line 1: unsupported global function 'lipsum'");
  EXPECT_EQ(error_of("{% set m = [] %}\n{{ m.append(1) }}"),
            "template line 2: access to attribute 'append' of 'list' object is unsafe (HF renders templates in an immutable sandbox)");
  EXPECT_EQ(error_of("{{ '%s' % 1 }}"), "template line 1: unsupported: printf-style '%' string formatting");
}

TEST(Jinja, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(error_of("ok\n{% if x %}\nunclosed"), "template line 3: unexpected end of template, expected 'elif' or 'else' or 'endif'");
  EXPECT_EQ(error_of("{% for x in y %}\n{% endif %}"), "template line 2: unexpected 'endif' (expected 'endfor' or 'else')");
  EXPECT_EQ(error_of("\n{{ 'abc }}"), "template line 2: unterminated string");
  EXPECT_EQ(error_of("one\ntwo {{ x + }}"), "template line 2: unexpected '}}'");
  EXPECT_EQ(error_of("{{ x"), "template line 1: unclosed '{{' tag");
  EXPECT_EQ(error_of("{# never closed"), "template line 1: unclosed comment");
  EXPECT_EQ(error_of("{% break %}"), "template line 1: 'break' outside of a loop");
  EXPECT_EQ(error_of("{{ (1, 2 }}"), "template line 1: unexpected '}'");
  EXPECT_EQ(error_of("{% frobnicate %}"), "template line 1: unknown tag 'frobnicate'");
}

TEST(Jinja, RuntimeErrorsNameTheLine) {
  EXPECT_EQ(error_of("\n{{ missing.attr }}"), "template line 2: 'missing' is undefined");
  EXPECT_EQ(error_of("{{ missing + 1 }}"), "template line 1: 'missing' is undefined");
  EXPECT_EQ(error_of("{{ 1 + 'a' }}"), "template line 1: unsupported operand type(s) for +: 'int' and 'str'");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "template line 1: integer division or modulo by zero");
  EXPECT_EQ(error_of("{{ 9223372036854775807 + 1 }}"), "template line 1: integer overflow (values beyond 64 bits are unsupported)");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"), "template line 1: cannot assign attribute on non-namespace object 'x'");
  EXPECT_EQ(error_of("{% for a, b in [1] %}{% endfor %}"), "template line 1: cannot unpack a 'int' into 2 names");
}

TEST(Jinja, RaiseExceptionThrowsTheMessage) {
  EXPECT_EQ(error_of("{{ raise_exception('Conversation roles must alternate!') }}"), "Conversation roles must alternate!");
  EXPECT_EQ(error_of("{% if messages|length == 0 %}{{ raise_exception('no messages: ' ~ n) }}{% endif %}", {{"n", 0}}),
            "no messages: 0");
}

TEST(Jinja, LimitsGuardRunawayTemplates) {
  std::string deep = "{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}";
  EXPECT_NE(error_of(deep).find("nesting too deep"), std::string::npos);
  std::string nested;
  for (int i = 0; i < 300; ++i) nested += "{% if true %}";
  EXPECT_NE(error_of(nested).find("nesting too deep"), std::string::npos);
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("macro call depth"), std::string::npos);
  jinja::RenderLimits small;
  small.max_loop_iterations = 1000;
  const auto nested_loops = jinja::parse_template("{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}");
  try {
    jinja::render(nested_loops, {}, small);
    ADD_FAILURE() << "expected the loop limit";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "template line 1: loop iteration limit of 1000 exceeded");
  }
  EXPECT_NE(error_of("{% for i in range(100) %}{{ 'xxxxxxxxxx' * 1000000 }}{% endfor %}").find("output exceeds"), std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000000 }}").find("too large"), std::string::npos);
  EXPECT_NE(error_of("{{ range(100000000)|length }}").find("range() too big"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}")
                .find("nest deeper"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(x=[1]) %}{% for i in range(40) %}{% set ns.x = ns.x + ns.x %}{% endfor %}")
                .find("too large"),
            std::string::npos);
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns.me = [ns] %}"),
            "template line 1: unsupported: storing a namespace inside a namespace");
  EXPECT_EQ(error_of("{{ range(9223372036854775800, 9223372036854775807, 5)|length }}"), "");
  EXPECT_EQ(render_with("{{ [1,2,3][1::9223372036854775807] }}"), "[2]");
}

TEST(Jinja, UndefinedBehavesLikeJinja2Default) {
  EXPECT_EQ(render_with("[{{ nope }}]{% if nope %}t{% else %}f{% endif %}{{ nope|length }}{% for x in nope %}x{% endfor %}"), "[]f0");
  EXPECT_EQ(render_with("{{ d.missing is defined }} {{ d.missing|default('dflt') }} {{ d.k.missing is defined }}", {{"d", {{"k", "v"}}}}),
            "False dflt False");
  EXPECT_EQ(error_of("{{ d.missing.deeper }}", {{"d", ojson::object()}}), "template line 1: 'dict object' has no attribute 'missing'");
}

TEST(Jinja, ValuesPrintLikePython) {
  EXPECT_EQ(render_with("{{ 1.0 }} {{ 2.5e-5 }} {{ 1e16 }} {{ 10**15 * 1.0 }} {{ x }} {{ l }}",
                        {{"x", 3.0}, {"l", ojson::parse(R"([1, 2.0, "a'b", null, true, {"k": "v"}])")}}),
            "1.0 2.5e-05 1e+16 1000000000000000.0 3.0 [1, 2.0, \"a'b\", None, True, {'k': 'v'}]");
}

TEST(Jinja, TojsonKeepsInputKeyOrder) {
  const ojson tool = ojson::parse(R"({"name": "f", "description": "d", "parameters": {"type": "object", "a": [1, 2.5]}})");
  EXPECT_EQ(render_with("{{ t|tojson }}", {{"t", tool}}),
            R"({"name": "f", "description": "d", "parameters": {"type": "object", "a": [1, 2.5]}})");
  EXPECT_EQ(render_with("{{ t|tojson(indent=2) }}", {{"t", ojson::parse(R"({"b": [], "a": {}})")}}), "{\n  \"b\": [],\n  \"a\": {}\n}");
  EXPECT_EQ(render_with("{{ s|tojson }}", {{"s", "caf\u00e9 \"q\" \n \x01"}}), "\"caf\u00e9 \\\"q\\\" \\n \\u0001\"");
}

TEST(ChatTemplate, ParseOnceRenderMany) {
  const ChatTemplate t("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
  ChatTemplateInputs in;
  in.messages = nlohmann::json::parse(R"([{"role": "user", "content": "a"}])");  // plain json converts
  EXPECT_EQ(t.render(in), "<user>a<assistant>");
  in.add_generation_prompt = false;
  in.messages.push_back({{"role", "assistant"}, {"content", "b"}});
  EXPECT_EQ(t.render(in), "<user>a<assistant>b");
}

TEST(ChatTemplate, VariablesAndClock) {
  ChatTemplateInputs in;
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.now_unix_seconds = 1721952000;  // 2024-07-26
  EXPECT_EQ(render_chat_template("{{ bos_token }}{{ eos_token }} {{ tools is none }} {{ documents is none }} {{ strftime_now('%d %b %Y') }}", in),
            "<s></s> True True 26 Jul 2024");
  in.extra = {{"date_string", "01 Jan 2025"}, {"enable_thinking", false}, {"bos_token", "<B>"}};
  EXPECT_EQ(render_chat_template("{{ bos_token }} {{ date_string }} {{ enable_thinking is false }}", in), "<B> 01 Jan 2025 True");
  in.tools = ojson::parse(R"([{"name": "t"}])");
  EXPECT_EQ(render_chat_template("{{ tools[0].name }}", in), "t");
  in.now_unix_seconds.reset();  // real clock: just check it produces a 4-digit year
  EXPECT_EQ(render_chat_template("{{ strftime_now('%Y')|length }}", in), "4");
}

// Mangled real templates must render or throw trellis::Error: never crash, hang or throw
// anything else (bad_variant_access, out_of_range, ...).
TEST(Jinja, MutatedTemplatesFailCleanly) {
  const ojson manifest = ojson::parse(read_file(data_dir() + "conversations.json"));
  ChatTemplateInputs in;
  in.messages = manifest["conversations"]["system"];
  in.now_unix_seconds = 0;
  const char* names[] = {"llama3_1", "qwen3", "mistral_v0_3", "zephyr", "smollm2"};
  const std::string alphabet = "{}%#-+()[]|.,:'\"~=<>!* \n\tabcdefxyz0129_";
  std::mt19937 rng(1234);
  int rendered = 0, failed = 0;
  for (const char* name : names) {
    const std::string base = read_file(data_dir() + name + ".jinja");
    for (int trial = 0; trial < 300; ++trial) {
      std::string s = base;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !s.empty(); ++e) {
        const size_t at = rng() % s.size();
        switch (rng() % 3) {
          case 0: s.erase(at, 1 + rng() % 8); break;
          case 1: s.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
          default: s[at] = alphabet[rng() % alphabet.size()];
        }
      }
      try {
        render_chat_template(s, in);
        ++rendered;
      } catch (const Error&) {
        ++failed;
      } catch (const std::exception& ex) {
        ADD_FAILURE() << name << " trial " << trial << ": non-Error exception " << ex.what() << "\n" << s;
      }
    }
  }
  EXPECT_GT(rendered, 0);
  EXPECT_GT(failed, 0);
}
