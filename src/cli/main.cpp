// The `trellis` command: dispatches to one file per sub-command.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  return trellis::cli::dispatch(argc, argv);
}
