// Python str semantics on UTF-8 strings for the template engine: Python indexes, measures
// and cases strings by code point, so these helpers decode UTF-8 where that matters.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trellis::jinja {

std::vector<char32_t> utf8_decode(const std::string& s);
std::string utf8_encode(const std::vector<char32_t>& cps);
void utf8_append(std::string& out, char32_t cp);
int64_t utf8_length(const std::string& s);

// Python's str.isspace() for one code point.
bool is_py_space(char32_t cp);

// str.strip/lstrip/rstrip; `chars` absent means whitespace.
std::string py_strip(const std::string& s, const std::optional<std::string>& chars, bool left,
                     bool right);
// str.split / str.rsplit; `sep` absent means runs of whitespace.
std::vector<std::string> py_split(const std::string& s, const std::optional<std::string>& sep,
                                  int64_t maxsplit, bool from_right);
std::string py_replace(const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count);
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
std::string py_capitalize(const std::string& s);
// Python's str.title(): a word starts after any non-letter.
std::string py_title(const std::string& s);
// jinja2's |title filter: words start after whitespace, '-', '(', '{', '[' or '<'.
std::string jinja_title(const std::string& s);
// str.find in code points (-1 if absent).
int64_t py_find(const std::string& s, const std::string& sub, bool from_right);
// Python's repr(str).
std::string py_repr(const std::string& s);
// markupsafe.escape: & < > " ' to entities.
std::string html_escape(const std::string& s);

}  // namespace trellis::jinja
