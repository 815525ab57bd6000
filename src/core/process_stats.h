// Facts about the running process, for benchmarks and memory plans.
#pragma once
#include <cstddef>

namespace trellis {

// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
size_t peak_rss_bytes();

}  // namespace trellis
