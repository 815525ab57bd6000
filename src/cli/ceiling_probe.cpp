#include "cli/ceiling_probe.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/thread_pool.h"

namespace trellis::cli {
namespace {

using nlohmann::json;

constexpr int kMaxThreads = 4096;      // a request asking for more is refused, not obeyed
constexpr size_t kMaxLineBytes = 1 << 16;  // requests and replies are one short line

Ceilings ceilings_from_json(const json& j) {
  Ceilings c;
  c.threads = j.at("threads");
  c.read_gbps = j.at("read_gbps");
  c.fp32_gflops = j.at("fp32_gflops");
  c.int8_gops = j.at("int8_gops");
  c.read_buffer_bytes = j.at("read_bytes");
  c.read_isa = j.at("read_isa");
  c.fp32_isa = j.at("fp32_isa");
  c.int8_isa = j.at("int8_isa");
  return c;
}

bool write_all(int fd, const std::string& s) {
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// One '\n'-terminated line (without it); false at end of stream, on error or on a line
// longer than kMaxLineBytes.
bool read_line(int fd, std::string& line) {
  line.clear();
  for (char ch;;) {
    const ssize_t n = read(fd, &ch, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (ch == '\n') return true;
    if (line.size() >= kMaxLineBytes) return false;
    line.push_back(ch);
  }
}

// Answers one request "<threads> <all|read_bw|fp32_fma|int8_dot>".
json answer(const std::string& line, std::map<int, std::unique_ptr<ThreadPool>>& pools) {
  std::istringstream in(line);
  int threads = 0;
  std::string what;
  if (!(in >> threads >> what) || threads < 1 || threads > kMaxThreads) return {{"error", "bad request: " + line}};
  auto& pool = pools[threads];
  if (!pool) pool = std::make_unique<ThreadPool>(threads);
  const CeilingOptions opt;
  if (what == "all") return ceilings_to_json(measure_ceilings(*pool, opt));
  if (what == "read_bw") return {{"value", measure_read_bandwidth(*pool, default_read_buffer_bytes(), opt.read_passes)}};
  if (what == "fp32_fma") return {{"value", measure_fp32_peak(*pool, opt.compute_pass_seconds, opt.compute_passes)}};
  if (what == "int8_dot") return {{"value", measure_int8_peak(*pool, opt.compute_pass_seconds, opt.compute_passes)}};
  return {{"error", "unknown ceiling '" + what + "'"}};
}

[[noreturn]] void serve(int fd) {
  std::map<int, std::unique_ptr<ThreadPool>> pools;
  for (std::string line; read_line(fd, line);) {
    json reply;
    try {
      reply = answer(line, pools);
    } catch (const std::exception& e) {
      reply = {{"error", e.what()}};
    }
    if (!write_all(fd, reply.dump() + "\n")) break;
  }
  pools.clear();
  _exit(0);
}

}  // namespace

json ceilings_to_json(const Ceilings& c) {
  return {{"threads", c.threads},     {"read_gbps", c.read_gbps},       {"fp32_gflops", c.fp32_gflops},
          {"int8_gops", c.int8_gops}, {"read_bytes", c.read_buffer_bytes}, {"read_isa", c.read_isa},
          {"fp32_isa", c.fp32_isa},   {"int8_isa", c.int8_isa}};
}

const char* ceiling_kind_name(CeilingKind kind) {
  switch (kind) {
    case CeilingKind::ReadBandwidth: return "read_bw";
    case CeilingKind::Fp32Fma: return "fp32_fma";
    case CeilingKind::Int8Dot: return "int8_dot";
  }
  return "?";
}

CeilingProbe::CeilingProbe() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) fail("cannot create a socket for the ceiling probe");
  std::fflush(stdout);
  std::fflush(stderr);
  pid_ = fork();
  if (pid_ < 0) {
    close(fds[0]);
    close(fds[1]);
    fail("cannot fork the ceiling probe");
  }
  if (pid_ == 0) {
    close(fds[0]);
    serve(fds[1]);
  }
  close(fds[1]);
  fd_ = fds[0];
}

CeilingProbe::~CeilingProbe() {
  if (fd_ >= 0) close(fd_);  // the child sees end of stream and exits
  int status = 0;
  while (pid_ > 0 && waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string CeilingProbe::request(const std::string& line) {
  std::string reply;
  if (!write_all(fd_, line + "\n") || !read_line(fd_, reply)) fail("the ceiling measurement failed (its process ended)");
  return reply;
}

json CeilingProbe::ask(int threads, const char* what) {
  json j = json::parse(request(std::to_string(threads) + " " + what), nullptr, false);
  if (!j.is_object()) fail("the ceiling measurement sent a malformed reply");
  if (j.contains("error")) fail("measuring the ceilings: ", j["error"].get<std::string>());
  return j;
}

Ceilings CeilingProbe::measure_all(int threads) {
  const json j = ask(threads, "all");
  try {
    return ceilings_from_json(j);
  } catch (const json::exception&) {
    fail("the ceiling measurement sent a malformed reply");
  }
}

double CeilingProbe::measure(int threads, CeilingKind kind) {
  const json j = ask(threads, ceiling_kind_name(kind));
  if (!j.contains("value") || !j["value"].is_number()) fail("the ceiling measurement sent a malformed reply");
  return j["value"].get<double>();
}


}  // namespace trellis::cli
