// Sub-command registry for the `trellis` executable. Each sub-command lives in its own
// file (cmd_<name>.cpp), registers itself with a static CommandRegistrar, and stays thin
// over the library. Commands parse their options with CLI11 and return an exit status;
// a trellis::Error escaping a command is printed as one line by the dispatcher.
#pragma once

namespace trellis::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is "trellis <name>"
  int order = 100;                    // position in `trellis --help`
};

struct CommandRegistrar {
  explicit CommandRegistrar(const Command& c);
};

int dispatch(int argc, char** argv);

}  // namespace trellis::cli
