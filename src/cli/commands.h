// Sub-command registry for the `trellis` executable. Each sub-command lives in its own
// file (cmd_<name>.cpp) and is thin over the library.
#pragma once

namespace trellis::cli {

int dispatch(int argc, char** argv);

}  // namespace trellis::cli
