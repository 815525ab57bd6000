// Jinja2-subset engine and HF chat templates, checked byte for byte against Python jinja2:
// tests/data/templates/*.golden and snippets.json come from scripts/gen_template_goldens.py.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tokenizer/chat_template.h"

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
