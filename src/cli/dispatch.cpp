#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "trellis_commit.h"  // generated: TRELLIS_GIT_COMMIT

namespace trellis::cli {

namespace {

std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}

void print_usage() {
  std::printf(
      "trellis - an engine for open language models built around LoRA adapters\n\n"
      "usage: trellis <command> [options]   (trellis <command> --help for details)\n\ncommands:\n");
  auto cmds = registry();
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) {
    return a.order != b.order ? a.order < b.order : std::strcmp(a.name, b.name) < 0;
  });
  for (const auto& c : cmds) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf("  %-10s %s\n", "version", "print the version (git commit)");
}

}  // namespace

CommandRegistrar::CommandRegistrar(const Command& c) { registry().push_back(c); }

int dispatch(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 1 : 0;
  }
  const std::string name = argv[1];
  if (name == "version" || name == "--version") {
    std::printf("trellis %s\n", TRELLIS_GIT_COMMIT);
    return 0;
  }
  for (const auto& c : registry()) {
    if (name != c.name) continue;
    std::string prog = std::string("trellis ") + c.name;
    std::vector<char*> args(argv + 1, argv + argc);
    args[0] = prog.data();
    try {
      return c.run(static_cast<int>(args.size()), args.data());
    } catch (const Error& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fflush(stdout);
      std::fprintf(stderr, "error: out of memory\n");
      return 1;
    } catch (const std::exception& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "error: unknown command '%s' (see trellis --help)\n", name.c_str());
  return 1;
}

}  // namespace trellis::cli
