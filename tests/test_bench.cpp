// `trellis bench` and its pieces: ceilings are positive and plausible, the per-token work
// model matches the tensors, the JSON output parses with every field, bad input is refused
// with one line. No test asserts a speed: timings here run on a shared, noisy machine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/ceilings.h"
#include "kernels/interleave.h"
#include "model/bench_runner.h"
#include "model/model.h"
#include "test_paths.h"

using namespace trellis;
using namespace trellis::test;
using nlohmann::json;

namespace {

const char* kStories = "models/stories260K/stories260K.gguf";

// Error output is one line starting with "error:".
void expect_one_line_error(const CliResult& r) {
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Ceilings, PositiveAndPlausible) {
  ThreadPool pool(1);
  CeilingOptions opt;
  opt.read_buffer_bytes = size_t(64) << 20;  // small: the test must be quick
  opt.read_passes = 2;
  opt.compute_pass_seconds = 0.02;
  opt.compute_passes = 2;
  const Ceilings c = measure_ceilings(pool, opt);
  EXPECT_EQ(c.threads, 1);
  EXPECT_GT(c.read_gbps, 1.0);        // any machine of this century
  EXPECT_LT(c.read_gbps, 10000.0);    // a timing bug, not a machine
  EXPECT_GT(c.fp32_gflops, 0.5);
  EXPECT_LT(c.fp32_gflops, 100000.0);
  EXPECT_GT(c.int8_gops, 0.5);
  EXPECT_LT(c.int8_gops, 1000000.0);
  EXPECT_FALSE(c.read_isa.empty());
  EXPECT_EQ(c.fp32_isa, std::string(ceiling_isa()));
}

TEST(Ceilings, MachineFacts) {
  EXPECT_GT(mem_available_bytes(), size_t(0));
  const CpuInfo cpu = cpu_info();
  EXPECT_FALSE(cpu.model.empty());
  EXPECT_EQ(join_flags({"avx2", "fma"}), "avx2 fma");
}

TEST(BenchRunner, TestNames) {
  EXPECT_EQ((BenchTest{512, 0, 0}.name()), "pp512");
  EXPECT_EQ((BenchTest{0, 128, 0}.name()), "tg128");
  EXPECT_EQ((BenchTest{0, 128, 2048}.name()), "tg128@d2048");
  EXPECT_EQ((BenchTest{512, 0, 2048}.name()), "pp512@d2048");
  EXPECT_EQ((BenchTest{0, 128, 2048}.n_ctx()), 2176);
}

TEST(BenchRunner, MeanAndSampleStdev) {
  EXPECT_DOUBLE_EQ(mean_of({1, 2, 3, 4}), 2.5);
  EXPECT_NEAR(stdev_of({1, 2, 3, 4}), 1.2909944487, 1e-9);
  EXPECT_EQ(stdev_of({5}), 0.0);
}

TEST(BenchRunner, KvBytesAveragePositions) {
  Hparams hp;
  hp.n_layer = 2;
  hp.n_head_kv = 2;
  hp.head_dim = 4;
  // tg4 at depth 10: tokens read 11, 12, 13, 14 positions -> mean 12.5; K and V, 2 layers, kv_dim 8.
  EXPECT_DOUBLE_EQ(kv_read_bytes_per_token(hp, DType::F32, BenchTest{0, 4, 10}), 12.5 * 2 * 2 * 8 * 4);
  EXPECT_DOUBLE_EQ(kv_read_bytes_per_token(hp, DType::F16, BenchTest{0, 4, 10}), 12.5 * 2 * 2 * 8 * 2);
  EXPECT_EQ(kv_cache_bytes(hp, 100, DType::F16), size_t(2 * 2 * 100 * 8 * 2));
}

// Tied: the output projection streams the whole embedding table; untied: the separate
// output matrix does and the table is only looked up.
TEST(BenchRunner, DecodeBytesCountOutputNotEmbedding) {
  for (const char* name : {"models/llama_tied", "models/llama_untied"}) {
    auto m = Model::load(data_path(name));
    const size_t row = m->tok_embd().row_stride();
    const size_t expected = m->hparams().tied_embeddings ? m->weight_bytes() + row
                                                         : m->weight_bytes() - m->tok_embd().nbytes + row;
    EXPECT_EQ(decode_weight_bytes(*m), expected) << name;
    int64_t layer_params = 0;
    for (const TensorView* t : m->all_tensors()) {
      if (t->n_dims == 2 && t->data != m->tok_embd().data && t->data != m->output().data) layer_params += t->n_elements();
    }
    EXPECT_EQ(prompt_matmul_params(*m), layer_params) << name;
  }
}

TEST(BenchRunner, RunsTimedRepetitions) {
  TRELLIS_REQUIRE_SHARED(kStories);
  auto m = Model::load(shared_path(kStories));
  ThreadPool pool(1);
  BenchConfig cfg;
  cfg.repetitions = 2;
  for (const BenchTest t : {BenchTest{8, 0, 0}, BenchTest{0, 4, 0}, BenchTest{0, 4, 16}}) {
    const BenchTiming r = run_bench_test(*m, pool, t, cfg);
    ASSERT_EQ(r.seconds.size(), 2u) << t.name();
    EXPECT_GT(r.mean_tps, 0.0) << t.name();
    EXPECT_GE(r.stdev_tps, 0.0) << t.name();
  }
  cfg.depth_fill = DepthFill::Random;  // the same test over a cache of random K/V values
  const BenchTiming deep = run_bench_test(*m, pool, BenchTest{0, 4, 16}, cfg);
  EXPECT_GT(deep.mean_tps, 0.0);
  EXPECT_EQ(model_type_label(*m), "F32");
  EXPECT_FALSE(integer_weights(*m));
  EXPECT_THROW(check_bench_test(*m, BenchTest{0, 4, m->hparams().n_ctx_train}), Error);
}

TEST(BenchRunner, InterleavedRoundsTimeEveryTest) {
  TRELLIS_REQUIRE_SHARED(kStories);
  auto m = Model::load(shared_path(kStories));
  ThreadPool pool(1);
  BenchConfig cfg;
  cfg.repetitions = 3;
  cfg.depth_fill = DepthFill::Random;
  const std::vector<BenchTest> tests{{8, 0, 0}, {0, 4, 0}, {0, 4, 16}};
  const std::vector<BenchTiming> r = run_bench_tests_interleaved(*m, pool, tests, cfg);
  ASSERT_EQ(r.size(), tests.size());
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].test.name(), tests[i].name());
    ASSERT_EQ(r[i].seconds.size(), 3u) << tests[i].name();
    EXPECT_GT(r[i].mean_tps, 0.0);
    double sum = 0.0;
    for (double sec : r[i].seconds) sum += static_cast<double>(tests[i].n_tokens()) / sec;
    EXPECT_DOUBLE_EQ(r[i].mean_tps, sum / 3.0) << "the mean of the runs' tokens/s";
  }
  // A test that does not fit refuses before anything runs.
  EXPECT_THROW(run_bench_tests_interleaved(*m, pool, std::vector<BenchTest>{{0, 4, m->hparams().n_ctx_train}}, cfg),
               Error);
}

TEST(BenchCli, InterleavedRoundsShareTheirCeilings) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const CliResult r = run_cli({"bench", "-m", shared_path(kStories), "-p", "0", "-n", "4", "-r", "2", "-t", "1",
                               "--depth", "0,16", "--depth-fill", "random", "--interleave", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0].at("test"), "tg4");
  EXPECT_EQ(j[1].at("test"), "tg4@d16");
  for (const json& o : j) {
    EXPECT_EQ(o.at("interleaved"), true);
    EXPECT_EQ(o.at("samples_ts").size(), 2u);
    EXPECT_GT(o.at("tokens_per_s").get<double>(), 0.0);
  }
  // Both tests ran between the same two measurements of the read ceiling.
  EXPECT_EQ(j[0].at("ceiling_before"), j[1].at("ceiling_before"));
  EXPECT_EQ(j[0].at("ceiling_after"), j[1].at("ceiling_after"));
  // Both caches are alive at once: the RSS allowance counts both, where one after the other
  // counts the larger.
  const CliResult seq = run_cli({"bench", "-m", shared_path(kStories), "-p", "0", "-n", "4", "-r", "1", "-t", "1",
                                 "--depth", "0,16", "--depth-fill", "random", "--json"});
  ASSERT_EQ(seq.exit_code, 0) << seq.all();
  const json js = json::parse(seq.out);
  EXPECT_EQ(js[0].at("interleaved"), false);
  auto m = Model::load(shared_path(kStories));
  EXPECT_EQ(j[0].at("rss_limit_bytes").get<size_t>() - js[0].at("rss_limit_bytes").get<size_t>(),
            kv_cache_bytes(m->hparams(), 4, DType::F16));

  const CliResult human = run_cli({"bench", "-m", shared_path(kStories), "-p", "0", "-n", "2", "-r", "1", "-t", "1",
                                   "--interleave"});
  ASSERT_EQ(human.exit_code, 0) << human.all();
  EXPECT_NE(human.out.find("rounds of one run each (--interleave)"), std::string::npos) << human.out;
}

TEST(BenchCli, JsonHasEveryField) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const CliResult r = run_cli({"bench", "-m", shared_path(kStories), "-p", "8", "-n", "4", "-r", "2", "-t", "1",
                               "--depth", "0,16", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json j = json::parse(r.out);  // the whole of stdout is the array
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  const std::vector<std::string> names{"pp8", "tg4", "pp8@d16", "tg4@d16"};
  for (size_t i = 0; i < j.size(); ++i) {
    const json& o = j[i];
    EXPECT_EQ(o.at("test"), names[i]);
    for (const char* k : {"tokens_per_s", "achieved", "pct_of_ceiling", "ceiling", "model_size_bytes", "n_params",
                          "peak_rss_bytes", "load_time_s"}) {
      EXPECT_GT(o.at(k).get<double>(), 0.0) << k << " of " << names[i];
    }
    EXPECT_GE(o.at("stdev").get<double>(), 0.0);
    EXPECT_EQ(o.at("samples_ts").size(), 2u);
    EXPECT_EQ(o.at("threads"), 1);
    EXPECT_EQ(o.at("model_type"), "F32");
    EXPECT_EQ(o.at("ceiling_kind"), i % 2 == 0 ? "fp32_fma" : "read_bw");
    EXPECT_EQ(o.at("achieved_unit"), i % 2 == 0 ? "GOPS" : "GB/s");
    EXPECT_FALSE(o.at("commit").get<std::string>().empty());
    EXPECT_FALSE(o.at("cpu").get<std::string>().empty());
    EXPECT_TRUE(o.at("cpu_flags").is_string());
    EXPECT_TRUE(o.at("rss_ok").is_boolean());
    EXPECT_GT(o.at("ceilings").at("read_gbps").get<double>(), 1.0);
    // The ceiling is the higher of the two measured next to the test, and the percentage is of it.
    const double before = o.at("ceiling_before").get<double>(), after = o.at("ceiling_after").get<double>();
    EXPECT_GT(before, 0.0);
    EXPECT_GT(after, 0.0);
    EXPECT_DOUBLE_EQ(o.at("ceiling").get<double>(), std::max(before, after));
    EXPECT_NEAR(o.at("pct_of_ceiling").get<double>(),
                100.0 * o.at("achieved").get<double>() / o.at("ceiling").get<double>(), 1e-9);
    // Every matrix is copied; F32 ones of rows of a multiple of 64 elements interleaved where
    // the active ISA has the kernel for it, the rest as they are.
    EXPECT_GE(o.at("decode_copy_bytes").get<double>(), 0.9 * o.at("model_size_bytes").get<double>());
    if (interleave_preferred(DType::F32, 64, active_isa())) {
      EXPECT_GT(o.at("interleaved_bytes").get<double>(), 0.0);
      EXPECT_LE(o.at("interleaved_bytes").get<double>(), o.at("decode_copy_bytes").get<double>());
    } else {
      EXPECT_EQ(o.at("interleaved_bytes"), 0);
    }
  }
}

TEST(BenchCli, NoDecodeCopiesRunsFromTheFile) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const CliResult r = run_cli({"bench", "-m", shared_path(kStories), "-p", "0", "-n", "2", "-r", "1", "-t", "1",
                               "--no-decode-copies", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0].at("decode_copy_bytes"), 0);
  EXPECT_GT(j[0].at("tokens_per_s").get<double>(), 0.0);
}

TEST(BenchCli, HumanTablePrintsCeilingsAndRss) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const CliResult r = run_cli({"bench", "-m", shared_path(kStories), "-p", "8", "-n", "4", "-r", "1", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  for (const char* s : {"ceilings at the start (-t 1): read", "GFLOPS", "GOPS", "| pp8 ", "| tg4 ", "read_bw", "fp32_fma", "peak RSS", "model load",
                        "commit: "}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
}

TEST(BenchCli, TooManyThreads) {
  TRELLIS_REQUIRE_SHARED(kStories);
  expect_one_line_error(run_cli({"bench", "-m", shared_path(kStories), "-t", std::to_string(available_cores() + 1)}));
}

TEST(BenchCli, DepthBeyondContext) {
  TRELLIS_REQUIRE_SHARED(kStories);
  const CliResult r = run_cli({"bench", "-m", shared_path(kStories), "-n", "4", "-p", "0", "--depth", "100000"});
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
}

// A sparse file larger than the free memory: refused from its size, before it is read.
TEST(BenchCli, ModelLargerThanMemory) {
  TempDir tmp;
  const std::string path = tmp.file("huge.gguf");
  { std::ofstream(path) << "GGUF"; }
  const size_t size = mem_available_bytes() * 2 + (size_t(1) << 30);
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(size)), 0);
  const CliResult r = run_cli({"bench", "-m", path, "-p", "8", "-n", "4"});
  expect_one_line_error(r);
  EXPECT_NE(r.err.find("available"), std::string::npos) << r.err;
}

// A context long enough that the KV cache alone exceeds the free memory: refused before the
// cache is allocated (tiny shape: 4 KiB of F32 K/V per position).
TEST(BenchCli, KvCacheLargerThanMemory) {
  TempDir tmp;
  const std::string path = tmp.file("tiny.gguf");
  ASSERT_EQ(run_cli({"gen-model", "--shape", "tiny", "--ctx", "16777216", "-o", path}).exit_code, 0);
  // The tiny shape's cache takes 4096 bytes a position in F32, 2048 in F16 (the default).
  for (const auto& [kv_type, bytes_per_pos] : {std::pair{"f32", 4096}, std::pair{"f16", 2048}}) {
    // A quarter over what is free now: other tests running beside this one (ctest -j) can free
    // gigabytes between this reading and bench's, and a cache that then fits gets filled (minutes).
    const int64_t depth = static_cast<int64_t>(mem_available_bytes() / bytes_per_pos * 5 / 4);
    if (depth + 4 > 16777216) GTEST_SKIP() << "more free memory than a 16M-position KV cache of the tiny shape";
    const CliResult r =
        run_cli({"bench", "-m", path, "-p", "0", "-n", "4", "-d", std::to_string(depth), "--kv-type", kv_type});
    expect_one_line_error(r);
    EXPECT_NE(r.err.find("KV cache"), std::string::npos) << kv_type << ": " << r.err;
  }
}

TEST(BenchCli, BadKvTypeAndEmptyRun) {
  TRELLIS_REQUIRE_SHARED(kStories);
  expect_one_line_error(run_cli({"bench", "-m", shared_path(kStories), "--kv-type", "q8_0"}));
  expect_one_line_error(run_cli({"bench", "-m", shared_path(kStories), "-p", "0", "-n", "0"}));
}

}  // namespace
