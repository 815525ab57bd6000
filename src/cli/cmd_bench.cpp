// `trellis bench`: llama-bench style pp/tg throughput, reported against the machine's own
// ceilings (read bandwidth, FP32 FMA, int8 dot) measured in the same run at the same thread
// counts: all of them at the start, and the one a test is compared with right before and
// right after that test. Human table by default; --json prints one JSON array and nothing
// else on stdout.
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/ceiling_probe.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/ceilings.h"
#include "model/bench_runner.h"
#include "trellis_commit.h"  // generated: TRELLIS_GIT_COMMIT

namespace trellis::cli {
namespace {

using nlohmann::json;

constexpr size_t kMiB = size_t(1) << 20;
constexpr size_t kRssSlack = 64 * kMiB;  // binary, libraries, tokenizer, allocator slack

struct BenchArgs {
  ModelOptions model;
  std::vector<int64_t> prompts{512}, gens{128}, depths{0};
  std::vector<int> threads;
  int repetitions = 5;
  std::string kv_type = "f16";
  std::string depth_fill = "model";
  bool json = false;
  bool no_decode_copies = false;
  bool interleave = false;
};

// Everything the report needs about one finished test.
struct Row {
  BenchTiming timing;
  int threads = 0;
  double achieved = 0.0, ceiling = 0.0, pct = 0.0;
  double ceiling_before = 0.0, ceiling_after = 0.0;  // measured next to the test; ceiling = the higher
  double work_per_token = 0.0;  // bytes (tg) or ops (pp)
  CeilingKind ceiling_kind = CeilingKind::ReadBandwidth;
  std::string unit;
};

struct ModelFacts {
  std::string name, type;
  size_t file_bytes = 0, weight_bytes = 0, decode_bytes = 0;
  int64_t n_params = 0, matmul_params = 0;
  bool integer = false;
  double load_seconds = 0.0;
  size_t decode_copy_bytes = 0;  // copies of the matrices made at load (their file pages released)
  size_t interleaved_bytes = 0;  // of those, in the interleaved decode layout
};

void add_options(CLI::App& app, BenchArgs& a) {
  a.model.add_to(app);
  app.add_option("-p,--n-prompt", a.prompts, "prompt lengths for pp tests, comma-separated; 0 for none (default 512)")
      ->delimiter(',');
  app.add_option("-n,--n-gen", a.gens, "decode lengths for tg tests, comma-separated; 0 for none (default 128)")
      ->delimiter(',');
  app.add_option("-d,--depth", a.depths, "tokens already in the cache (filled untimed), comma-separated (default 0)")
      ->delimiter(',');
  app.add_option("-t,--threads", a.threads, "thread counts, comma-separated (default: all cores)")->delimiter(',');
  app.add_option("-r,--repetitions", a.repetitions, "timed runs per test, after a short untimed warm-up (default 5)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--kv-type", a.kv_type, "KV cache type: f16 (default, as llama-bench) or f32");
  app.add_option("--depth-fill", a.depth_fill,
                 "how the --depth context is made: model (run D random tokens, default) or random (random K/V "
                 "values written into the cache: the same attention work, no fill time)")
      ->check(CLI::IsMember({"model", "random"}));
  app.add_flag("--interleave", a.interleave,
               "run the tests in rounds (each round one timed run of every test, -r rounds) instead of one "
               "test after another, so a drift of the machine's speed reaches every test alike; the tests' "
               "caches are all allocated at once");
  app.add_flag("--json", a.json, "print one JSON array (an object per test) and nothing else on stdout");
  app.add_flag("--no-decode-copies,--no-interleave", a.no_decode_copies,
               "run from the file's mapped weights instead of the huge-page (interleaved where faster) "
               "copies made at load (for comparison)");
}

std::vector<BenchTest> make_tests(const BenchArgs& a) {
  std::vector<BenchTest> tests;
  for (int64_t d : a.depths) {
    if (d < 0) fail("--depth must not be negative, got ", d);
    for (int64_t p : a.prompts) {
      if (p < 0) fail("--n-prompt must not be negative, got ", p);
      if (p > 0) tests.push_back({p, 0, d});
    }
    for (int64_t n : a.gens) {
      if (n < 0) fail("--n-gen must not be negative, got ", n);
      if (n > 0) tests.push_back({0, n, d});
    }
  }
  if (tests.empty()) fail("nothing to run: every --n-prompt and --n-gen is 0");
  return tests;
}

std::vector<int> resolve_thread_counts(const std::vector<int>& requested) {
  if (requested.empty()) return {resolve_threads(0)};
  std::vector<int> out;
  for (int t : requested) {
    if (t <= 0) fail("--threads must be positive, got ", t);
    out.push_back(resolve_threads(t));
  }
  return out;
}

DType parse_kv_type(const std::string& s) {
  const DType t = dtype_from_name(s);
  if (t != DType::F32 && t != DType::F16) fail("--kv-type must be f32 or f16, got '", s, "'");
  return t;
}

// Refuses before anything is mapped when the file alone cannot stay resident.
void check_file_fits(const std::string& path, size_t file_bytes) {
  const size_t avail = mem_available_bytes();
  if (avail > 0 && file_bytes + kRssSlack > avail) {
    fail(path, " is ", file_bytes / kMiB, " MiB but only ", avail / kMiB,
         " MiB of memory is available; benchmarking it would thrash");
  }
}

// With the model's shape known: weights + the largest test's KV cache and buffers must fit (with
// --interleave, every test's: they are alive at once).
void check_tests_fit(const Model& model, const ModelFacts& f, const std::vector<BenchTest>& tests,
                     const BenchConfig& cfg, bool interleave) {
  size_t state = 0;
  for (const BenchTest& t : tests) {
    check_bench_test(model, t);
    const size_t b = bench_state_bytes(model.hparams(), t, cfg);
    state = interleave ? state + b : std::max(state, b);  // interleaved tests are alive at once
  }
  const size_t avail = mem_available_bytes();
  if (avail > 0 && f.file_bytes + state + kRssSlack > avail) {
    fail(model.path(), ": the model (", f.file_bytes / kMiB, " MiB) plus KV cache and buffers (", state / kMiB,
         " MiB) exceed the ", avail / kMiB, " MiB of available memory");
  }
}

ModelFacts model_facts(const Model& m, size_t file_bytes, double load_seconds) {
  ModelFacts f;
  f.name = m.name();
  f.type = model_type_label(m);
  f.file_bytes = file_bytes;
  f.weight_bytes = m.weight_bytes();
  f.decode_bytes = decode_weight_bytes(m);
  f.n_params = m.n_params();
  f.matmul_params = prompt_matmul_params(m);
  f.integer = integer_weights(m);
  f.load_seconds = load_seconds;
  f.decode_copy_bytes = m.decode_copy_bytes();
  f.interleaved_bytes = m.interleaved_bytes();
  return f;
}

// tg is compared with the read bandwidth, pp with the compute peak for the weight type (int8
// dot for quantized weights, FP32 FMA for float ones).
CeilingKind ceiling_kind_for(const BenchTest& t, const ModelFacts& f) {
  if (!t.is_prompt()) return CeilingKind::ReadBandwidth;
  return f.integer ? CeilingKind::Int8Dot : CeilingKind::Fp32Fma;
}

// A finished test against its ceiling measured before and after it: tg as GB/s of weights +
// KV read, pp as GOPS; the percentage is of the higher of the two measurements.
Row make_row(const Model& model, const BenchTiming& timing, int threads, double before, double after,
             const BenchConfig& cfg, const ModelFacts& f) {
  const BenchTest& test = timing.test;
  Row r;
  r.threads = threads;
  r.ceiling_kind = ceiling_kind_for(test, f);
  r.timing = timing;
  r.ceiling_before = before;
  r.ceiling_after = after;
  r.ceiling = std::max(r.ceiling_before, r.ceiling_after);
  if (test.is_prompt()) {
    r.work_per_token = 2.0 * static_cast<double>(f.matmul_params);
    r.unit = "GOPS";
  } else {
    r.work_per_token = static_cast<double>(f.decode_bytes) + kv_read_bytes_per_token(model.hparams(), cfg.kv_type, test);
    r.unit = "GB/s";
  }
  r.achieved = r.work_per_token * r.timing.mean_tps / 1e9;
  r.pct = r.ceiling > 0 ? 100.0 * r.achieved / r.ceiling : 0.0;
  return r;
}

// Runs one test between two measurements of its ceiling.
Row run_row(const Model& model, ThreadPool& pool, const BenchTest& test, const BenchConfig& cfg,
            const ModelFacts& f, CeilingProbe& probe) {
  const CeilingKind kind = ceiling_kind_for(test, f);
  const double before = probe.measure(pool.size(), kind);
  const BenchTiming timing = run_bench_test(model, pool, test, cfg);
  const double after = probe.measure(pool.size(), kind);
  return make_row(model, timing, pool.size(), before, after, cfg, f);
}

// Runs the tests in rounds (--interleave), between two measurements of each ceiling they use.
std::vector<Row> run_rows_interleaved(const Model& model, ThreadPool& pool, const std::vector<BenchTest>& tests,
                                      const BenchConfig& cfg, const ModelFacts& f, CeilingProbe& probe) {
  std::map<CeilingKind, double> before, after;
  for (const BenchTest& t : tests) before.try_emplace(ceiling_kind_for(t, f), 0.0);
  for (auto& [kind, v] : before) v = probe.measure(pool.size(), kind);
  const std::vector<BenchTiming> timings = run_bench_tests_interleaved(model, pool, tests, cfg);
  for (const auto& [kind, v] : before) after[kind] = probe.measure(pool.size(), kind);
  std::vector<Row> rows;
  for (const BenchTiming& t : timings) {
    const CeilingKind kind = ceiling_kind_for(t.test, f);
    rows.push_back(make_row(model, t, pool.size(), before[kind], after[kind], cfg, f));
  }
  return rows;
}

struct RunFacts {
  CpuInfo cpu;
  size_t peak_rss = 0, rss_limit = 0, kv_bytes = 0;  // kv_bytes: the most KV cache alive at once
  std::string kv_type, depth_fill;
  int repetitions = 0;
  bool interleaved = false;
};

json row_to_json(const Row& r, const ModelFacts& f, const RunFacts& run, const Ceilings& c) {
  const BenchTest& t = r.timing.test;
  json samples = json::array();
  for (double s : r.timing.seconds) samples.push_back(static_cast<double>(t.n_tokens()) / s);
  return {{"test", t.name()},
          {"n_prompt", t.n_prompt},
          {"n_gen", t.n_gen},
          {"depth", t.depth},
          {"tokens_per_s", r.timing.mean_tps},
          {"stdev", r.timing.stdev_tps},
          {"samples_ts", samples},
          {"repetitions", run.repetitions},
          {"interleaved", run.interleaved},
          {"achieved", r.achieved},
          {"achieved_unit", r.unit},
          {"work_per_token", r.work_per_token},
          {"ceiling_kind", ceiling_kind_name(r.ceiling_kind)},
          {"ceiling", r.ceiling},
          {"ceiling_before", r.ceiling_before},
          {"ceiling_after", r.ceiling_after},
          {"pct_of_ceiling", r.pct},
          {"ceilings", ceilings_to_json(c)},
          {"threads", r.threads},
          {"kv_type", run.kv_type},
          {"depth_fill", run.depth_fill},
          {"model", f.name},
          {"model_type", f.type},
          {"model_size_bytes", f.weight_bytes},
          {"model_file_bytes", f.file_bytes},
          {"n_params", f.n_params},
          {"load_time_s", f.load_seconds},
          {"decode_copy_bytes", f.decode_copy_bytes},
          {"interleaved_bytes", f.interleaved_bytes},
          {"peak_rss_bytes", run.peak_rss},
          {"rss_limit_bytes", run.rss_limit},
          {"rss_ok", run.peak_rss <= run.rss_limit},
          {"cpu", run.cpu.model},
          {"cpu_flags", join_flags(run.cpu.simd_flags)},
          {"commit", TRELLIS_GIT_COMMIT}};
}

std::string human_count(double v) {
  char b[32];
  if (v >= 1e9) std::snprintf(b, sizeof b, "%.2f B", v / 1e9);
  else std::snprintf(b, sizeof b, "%.2f M", v / 1e6);
  return b;
}

void print_header(const RunFacts& run, const std::vector<Ceilings>& ceilings) {
  std::printf("cpu: %s (%s), LLC %zu MiB\ncommit: %s, kv cache %s, depth fill %s, %d repetitions after a short warm-up\n",
              run.cpu.model.c_str(), join_flags(run.cpu.simd_flags).c_str(), run.cpu.llc_bytes / kMiB,
              TRELLIS_GIT_COMMIT, run.kv_type.c_str(), run.depth_fill.c_str(), run.repetitions);
  for (const Ceilings& c : ceilings) {
    std::printf("ceilings at the start (-t %d): read %.1f GB/s (%s, %zu MiB buffer), FP32 FMA %.1f GFLOPS (%s), "
                "int8 dot %.1f GOPS (%s)\n",
                c.threads, c.read_gbps, c.read_isa.c_str(), c.read_buffer_bytes / kMiB, c.fp32_gflops,
                c.fp32_isa.c_str(), c.int8_gops, c.int8_isa.c_str());
  }
  if (run.interleaved) {
    std::printf("tests run in %d rounds of one run each (--interleave); each is compared with its ceiling measured "
                "right before the first and right after the last round (the higher)\n", run.repetitions);
  } else {
    std::printf("each test is compared with its ceiling measured right before and right after it (the higher)\n");
  }
  std::printf("\n| %-34s | %-7s | %10s | %9s | %2s | %-13s | %17s | %13s | %-14s | %6s |\n", "model", "type", "size",
              "params", "t", "test", "t/s", "achieved", "ceiling", "%");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(9, '-').c_str(),
              std::string(12, '-').c_str(), std::string(11, '-').c_str(), std::string(4, '-').c_str(),
              std::string(15, '-').c_str(), std::string(19, '-').c_str(), std::string(15, '-').c_str(),
              std::string(16, '-').c_str(), std::string(8, '-').c_str());
}

void print_row(const Row& r, const ModelFacts& f) {
  char tps[48], ach[32], ceil[40], pct[32], size[32];
  std::snprintf(tps, sizeof tps, "%.2f ± %.2f", r.timing.mean_tps, r.timing.stdev_tps);
  std::snprintf(ach, sizeof ach, "%.2f %s", r.achieved, r.unit.c_str());
  std::snprintf(ceil, sizeof ceil, "%.1f %s", r.ceiling, ceiling_kind_name(r.ceiling_kind));
  std::snprintf(pct, sizeof pct, "%.1f%%", r.pct);
  std::snprintf(size, sizeof size, "%.2f MiB", static_cast<double>(f.weight_bytes) / kMiB);
  // "±" is two bytes but one column: pad by one more.
  std::printf("| %-34.34s | %-7s | %10s | %9s | %2d | %-13s | %18s | %13s | %-14s | %6s |\n", f.name.c_str(),
              f.type.c_str(), size, human_count(static_cast<double>(f.n_params)).c_str(), r.threads,
              r.timing.test.name().c_str(), tps, ach, ceil, pct);
  std::fflush(stdout);
}

void print_footer(const ModelFacts& f, const RunFacts& run) {
  if (f.decode_copy_bytes > 0) {
    std::printf("\nmodel load %.3f s (memory-mapped; %.1f MiB of matrices copied into huge pages, %.1f MiB of them "
                "interleaved for decode; their file pages released)\n",
                f.load_seconds, static_cast<double>(f.decode_copy_bytes) / kMiB,
                static_cast<double>(f.interleaved_bytes) / kMiB);
  } else {
    std::printf("\nmodel load %.3f s (memory-mapped; pages are read on first use, during the warm-up)\n",
                f.load_seconds);
  }
  std::printf("peak RSS %.1f MiB %s file %.1f MiB + KV cache %.1f MiB + 64 MiB = %.1f MiB: %s\n",
              static_cast<double>(run.peak_rss) / kMiB, run.peak_rss <= run.rss_limit ? "<=" : ">",
              static_cast<double>(f.file_bytes) / kMiB, static_cast<double>(run.kv_bytes) / kMiB,
              static_cast<double>(run.rss_limit) / kMiB, run.peak_rss <= run.rss_limit ? "satisfied" : "NOT satisfied");
}

BenchConfig make_config(const BenchArgs& a) {
  BenchConfig cfg;
  cfg.repetitions = a.repetitions;
  cfg.kv_type = parse_kv_type(a.kv_type);
  cfg.depth_fill = a.depth_fill == "random" ? DepthFill::Random : DepthFill::Model;
  return cfg;
}

RunFacts run_facts(const BenchArgs& a, const Hparams& hp, const std::vector<BenchTest>& tests, DType kv_type) {
  RunFacts run;
  run.cpu = cpu_info();
  run.kv_type = a.kv_type;
  run.depth_fill = a.depth_fill;
  run.repetitions = a.repetitions;
  run.interleaved = a.interleave;
  for (const BenchTest& t : tests) {
    const size_t kv = kv_cache_bytes(hp, t.n_ctx(), kv_type);
    run.kv_bytes = a.interleave ? run.kv_bytes + kv : std::max(run.kv_bytes, kv);  // interleaved: all at once
  }
  return run;
}

void print_json(const std::vector<std::pair<Row, size_t>>& rows, const ModelFacts& f, const RunFacts& run,
                const std::vector<Ceilings>& ceilings) {
  json out = json::array();
  for (const auto& [r, ci] : rows) out.push_back(row_to_json(r, f, run, ceilings[ci]));
  std::printf("%s\n", out.dump(2).c_str());
}

int run_bench(int argc, char** argv) {
  CLI::App app("Benchmark prompt processing (pp) and generation (tg) against the machine's measured ceilings.",
               "trellis bench");
  BenchArgs a;
  add_options(app, a);
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  // Every check that can refuse the run comes before anything slow.
  const std::vector<int> thread_counts = resolve_thread_counts(a.threads);
  const BenchConfig cfg = make_config(a);
  const std::vector<BenchTest> tests = make_tests(a);
  const size_t file_bytes = model_file_bytes(a.model.model_path);
  check_file_fits(a.model.model_path, file_bytes);
  CeilingProbe probe;  // forked before any thread starts and before the model is mapped
  const auto t0 = std::chrono::steady_clock::now();
  const auto model = a.model.load(ModelLoadOptions{.decode_copies = !a.no_decode_copies});  // starts no thread
  const ModelFacts facts =
      model_facts(*model, file_bytes, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  check_tests_fit(*model, facts, tests, cfg, a.interleave);
  std::vector<Ceilings> ceilings;
  for (int t : thread_counts) ceilings.push_back(probe.measure_all(t));

  RunFacts run = run_facts(a, model->hparams(), tests, cfg.kv_type);
  if (!a.json) print_header(run, ceilings);
  std::vector<std::pair<Row, size_t>> rows;  // with the index of their ceilings
  for (size_t i = 0; i < thread_counts.size(); ++i) {
    ThreadPool pool(thread_counts[i]);
    if (a.interleave) {
      for (Row& r : run_rows_interleaved(*model, pool, tests, cfg, facts, probe)) {
        rows.emplace_back(std::move(r), i);
        if (!a.json) print_row(rows.back().first, facts);
      }
      continue;
    }
    for (const BenchTest& t : tests) {
      rows.emplace_back(run_row(*model, pool, t, cfg, facts, probe), i);
      if (!a.json) print_row(rows.back().first, facts);
    }
  }
  run.peak_rss = peak_rss_bytes();
  run.rss_limit = facts.file_bytes + run.kv_bytes + kRssSlack;
  if (a.json) {
    print_json(rows, facts, run, ceilings);
  } else {
    print_footer(facts, run);
  }
  return 0;
}

const CommandRegistrar reg({"bench", "measure pp/tg throughput against the machine's ceilings", run_bench, 70});

}  // namespace
}  // namespace trellis::cli
