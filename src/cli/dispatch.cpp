#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "core/error.h"

namespace trellis::cli {

namespace {
void print_usage() {
  std::printf(
      "trellis - an engine for open language models built around LoRA adapters\n\n"
      "usage: trellis <command> [options]   (trellis <command> --help for details)\n\n"
      "commands:\n"
      "  version    print the version\n");
}
}  // namespace

int dispatch(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage();
    return argc < 2 ? 1 : 0;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "version" || cmd == "--version") {
      std::printf("trellis %s\n", TRELLIS_GIT_COMMIT);
      return 0;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "error: unknown command '%s' (see trellis --help)\n", cmd.c_str());
  return 1;
}

}  // namespace trellis::cli
