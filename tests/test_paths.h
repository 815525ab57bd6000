// Locations of test inputs: the repository's own tests/data and the read-only ../shared.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace trellis::test {

inline std::string source_dir() { return TRELLIS_SOURCE_DIR; }
inline std::string data_path(const std::string& rel) { return source_dir() + "/tests/data/" + rel; }
inline std::string shared_path(const std::string& rel) { return source_dir() + "/../shared/" + rel; }
inline std::string cli_path() { return TRELLIS_CLI_PATH; }

// Skips the current test with a message naming what is missing when ../shared lacks a file.
#define TRELLIS_REQUIRE_SHARED(rel)                                                   \
  do {                                                                                \
    if (!std::filesystem::exists(::trellis::test::shared_path(rel)))                  \
      GTEST_SKIP() << "missing ../shared/" << (rel) << " (shared test material absent)"; \
  } while (0)

}  // namespace trellis::test
