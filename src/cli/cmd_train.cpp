// trellis train: LoRA fine-tuning on the CPU, writing a PEFT adapter directory (and, with
// --gguf-lora, the same adapter as GGUF-LoRA in OUT/adapter.gguf), or, with --full, training
// every weight and writing a GGUF model.
#include <csignal>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "train/memory_plan.h"
#include "train/trainer.h"

namespace trellis::cli {
namespace {

std::atomic<bool> g_interrupt{false};

extern "C" void on_sigint(int) {
  // First Ctrl-C: finish the step, checkpoint, exit. Second: default (immediate) behaviour.
  if (g_interrupt.exchange(true)) std::signal(SIGINT, SIG_DFL);
}

struct TrainCli {
  TrainerConfig c;
  std::string targets = "all", schedule = "cosine", on_bad_line = "stop", on_too_long = "truncate";
  bool no_packing = false, no_plot = false, checkpointing = false, no_checkpointing = false;
  int threads = 0;

  void add_to(CLI::App& app) {
    app.add_option("--data", c.data_path, "training data: .txt, or .jsonl with text / prompt+completion / messages")->required();
    app.add_option("--eval-data", c.eval_path, "held-out data in the same formats");
    app.add_option("--eval-split", c.eval_split, "hold out this fraction of the examples for eval (e.g. 0.05)");
    app.add_option("-o,--out", c.out_dir, "output directory (PEFT adapter, metrics.jsonl, loss.png, checkpoint)")->required();
    app.add_option("--ctx", c.data.ctx, "window length in tokens")->capture_default_str();
    app.add_flag("--train-on-inputs", c.data.train_on_inputs, "loss on prompts and user turns too");
    app.add_flag("--no-packing", no_packing, "one example per window (default: pack short examples, isolated)");
    app.add_option("--on-bad-line", on_bad_line, "malformed JSONL line: skip or stop")->capture_default_str();
    app.add_option("--on-too-long", on_too_long, "example longer than --ctx: truncate or error")->capture_default_str();
    app.add_flag("--gguf-lora", c.gguf_lora,
                 "also write the adapter as GGUF-LoRA (llama.cpp's format) in OUT/adapter.gguf (and OUT/best/)");
    app.add_flag("--dry-run", c.dry_run, "show tokenized examples with the loss mask and the plan; train nothing");
    app.add_flag("--full", c.full, "train every weight (full fine-tuning / pre-training) and write OUT/model.gguf "
                 "instead of an adapter; the LoRA options do not apply");
    app.add_option("--save-type", c.save_type, "--full: tensor type of the written model (F32, F16, BF16, Q8_0, ...)")
        ->capture_default_str();
    app.add_option("--name", c.model_name, "--full: general.name of the written model (default: the base's)");
    app.add_option("--rank", c.lora.rank, "LoRA rank r")->capture_default_str();
    app.add_option("--alpha", c.lora.alpha, "LoRA alpha (scale alpha/r)")->capture_default_str();
    app.add_option("--targets", targets, "projections: any of q,k,v,o,gate,up,down, or all")->capture_default_str();
    app.add_option("--dropout", c.lora.dropout, "LoRA dropout")->capture_default_str();
    app.add_flag("--rslora", c.lora.rslora, "rank-stabilised scale alpha/sqrt(r)");
    app.add_option("--lr", c.lr, "peak learning rate")->capture_default_str();
    app.add_option("--schedule", schedule, "cosine, linear or constant")->capture_default_str();
    app.add_option("--warmup", c.warmup, "warmup steps")->capture_default_str();
    app.add_option("--min-lr-ratio", c.min_lr_ratio, "final learning rate as a fraction of --lr")->capture_default_str();
    app.add_option("--beta1", c.adam.beta1, "AdamW beta1")->capture_default_str();
    app.add_option("--beta2", c.adam.beta2, "AdamW beta2")->capture_default_str();
    app.add_option("--eps", c.adam.eps, "AdamW epsilon")->capture_default_str();
    app.add_option("--weight-decay", c.adam.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
    app.add_option("--clip", c.clip, "global gradient-norm clip (0: off)")->capture_default_str();
    app.add_option("--epochs", c.epochs, "passes over the data")->capture_default_str();
    app.add_option("--steps", c.steps, "optimizer steps (overrides --epochs)");
    app.add_option("--micro-batch", c.micro_batch, "windows per forward/backward")->capture_default_str();
    app.add_option("--grad-accum", c.grad_accum, "micro-batches per optimizer step")->capture_default_str();
    app.add_option("--seed", c.seed, "seed (initialisation, data order, dropout)")->capture_default_str();
    app.add_option("--eval-every", c.eval_every, "evaluate every N steps (0: at the end)")->capture_default_str();
    app.add_option("--save-every", c.save_every, "checkpoint every N steps (0: on Ctrl-C and at the end)")->capture_default_str();
    app.add_option("--early-stopping", c.early_stopping, "stop after N evals without improvement")->capture_default_str();
    app.add_option("--log-every", c.log_every, "progress line every N steps")->capture_default_str();
    app.add_flag("--checkpointing", checkpointing, "gradient checkpointing on (default: automatic)");
    app.add_flag("--no-checkpointing", no_checkpointing, "gradient checkpointing off");
    app.add_option("--max-memory", c.max_memory_gib, "refuse plans above this many GiB");
    app.add_flag("--resume", c.resume, "continue the run checkpointed in the output directory");
    app.add_flag("--no-plot", no_plot, "do not write loss.png");
    app.add_option("--stop-after", c.stop_after, "checkpoint and stop after N steps, as Ctrl-C does (testing)");
    app.add_option("-t,--threads", threads, "threads (default: all cores)");
  }

  void finish() {
    c.lora.targets = LoraSpec::parse_targets(targets);
    c.schedule = LrSchedule::parse(schedule);
    c.packing = !no_packing;
    c.plot = !no_plot;
    if (checkpointing && no_checkpointing) fail("--checkpointing and --no-checkpointing contradict each other");
    c.checkpointing = checkpointing ? 1 : no_checkpointing ? 0 : -1;
    if (on_bad_line != "skip" && on_bad_line != "stop") fail("--on-bad-line must be skip or stop");
    c.data.on_bad_line = on_bad_line == "skip" ? BadLinePolicy::Skip : BadLinePolicy::Stop;
    if (on_too_long != "truncate" && on_too_long != "error") fail("--on-too-long must be truncate or error");
    c.data.on_too_long = on_too_long == "error" ? TooLongPolicy::Error : TooLongPolicy::Truncate;
    if (!c.eval_path.empty() && c.eval_split > 0) fail("give either --eval-data or --eval-split, not both");
  }
};

int train_main(int argc, char** argv) {
  CLI::App app{"Fine-tune a LoRA adapter on your own data, on the CPU; writes a PEFT adapter directory.\n"
               "With --full, trains every weight instead (full fine-tuning, or pre-training a model made by\n"
               "`trellis gen-model`) and writes OUT/model.gguf."};
  ModelOptions model_opt;
  model_opt.add_to(app);
  TrainCli t;
  t.add_to(app);
  if (int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  t.finish();
  auto model = model_opt.load();
  ThreadPool pool(resolve_threads(t.threads));
  Trainer trainer(*model, t.c, pool, [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  });
  g_interrupt = false;
  std::signal(SIGINT, on_sigint);
  const TrainResult r = trainer.run(&g_interrupt);
  std::signal(SIGINT, SIG_DFL);
  if (!t.c.dry_run) {
    std::fprintf(stderr, "%s\npeak memory measured: %.2f GiB\n", r.message.c_str(),
                 static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0 * 1024.0));
  }
  return r.interrupted ? 130 : 0;
}

const CommandRegistrar kTrain({"train", "fine-tune a LoRA adapter on your data (CPU)", &train_main, 60});

}  // namespace
}  // namespace trellis::cli
