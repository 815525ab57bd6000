// Helpers shared by the tokenizer tests: reading .inp/.out vector files.
#pragma once
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace trellis::test {

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Cases in a `.inp` file: each case is followed by "\n__ggml_vocab_test__\n" (the newline
// before the marker is the separator's, not the case's), as llama.cpp's test-tokenizer-0 splits.
inline std::vector<std::string> read_vocab_inputs(const std::string& path) {
  const std::string raw = read_all(path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t pos = 0;
  for (size_t at; (at = raw.find(sep, pos)) != std::string::npos; pos = at + sep.size()) {
    cases.push_back(raw.substr(pos, at - pos));
  }
  return cases;
}

// Expected ids, one line per case.
inline std::vector<std::vector<int32_t>> read_vocab_outputs(const std::string& path) {
  std::istringstream in(read_all(path));
  std::vector<std::vector<int32_t>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int32_t id; ls >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

}  // namespace trellis::test
