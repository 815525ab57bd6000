// The machine's ceilings (kernels/ceilings.h), measured on request by a child process forked
// before the benchmark starts any thread. The child holds the bandwidth buffer (hundreds of
// MiB), so it never counts towards the benchmark's peak RSS, and it stays alive so that a
// ceiling can be measured right before and right after each test: on a shared host the
// read bandwidth and FMA rate a VM gets change over minutes (2x swings were seen on the
// development machine), so a ceiling measured once at the start says little about a test
// run minutes later.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "kernels/ceilings.h"

namespace trellis::cli {

// Which ceiling a figure is compared with; the names are the bench report's `ceiling_kind`.
enum class CeilingKind { ReadBandwidth, Fp32Fma, Int8Dot };
const char* ceiling_kind_name(CeilingKind kind);  // "read_bw", "fp32_fma", "int8_dot"

// The report's form of a set of ceilings.
nlohmann::json ceilings_to_json(const Ceilings& c);

class CeilingProbe {
 public:
  // Forks the child. Call before this process starts any thread.
  CeilingProbe();
  // Closes the connection; the child exits and is reaped.
  ~CeilingProbe();
  CeilingProbe(const CeilingProbe&) = delete;
  CeilingProbe& operator=(const CeilingProbe&) = delete;

  // All three ceilings on `threads` threads (a second or so).
  Ceilings measure_all(int threads);
  // One ceiling: GB/s, GFLOPS or GOPS.
  double measure(int threads, CeilingKind kind);

 private:
  // Sends one request line, returns the child's one-line JSON reply (throws Error on failure).
  std::string request(const std::string& line);
  // Asks for `what` ("all" or a ceiling_kind_name) on `threads` threads: the reply object,
  // or Error when the child reports one or the reply is not an object.
  nlohmann::json ask(int threads, const char* what);

  int fd_ = -1;
  pid_t pid_ = -1;
};

}  // namespace trellis::cli
