// `bcp bench step|infer|metrics`: how fast this machine trains and runs bcp, as a table and,
// with --json, one JSON object per line (see bcp/bench/bench.h).
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bcp/bench/bench.h"
#include "bcp/io/atomic_file.h"
#include "bcp/train/config.h"
#include "command.h"
#include "enum_option.h"
#include "local_ranks.h"
#include "number_checks.h"
#include "path_option.h"

namespace {

struct BenchCommandOptions {
  bcp::bench::CommonOptions common;
  std::string precision = "all";
  int repeats = 0;  // 0 = the subcommand's default
  std::string json;
};

/// `repeats_names`: the option's names (`bench step` also takes `--steps`, timed steps).
void add_common(CLI::App* cmd, BenchCommandOptions& o,
                const std::string& repeats_names = "--repeats") {
  cmd->add_option("--precision", o.precision, "fp32, bf16 or all (both, fp32 first)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "all"}));
  cmd->add_option("--device", o.common.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", o.common.threads,
                  "Intra-op threads (0 = OMP_NUM_THREADS, else all cores)")
      ->capture_default_str()
      ->check(bcp::cli::non_negative())
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const double v = std::strtod(text.c_str(), nullptr);
            if (v > static_cast<double>(bcp::train::max_threads()))
              return "must be at most " + std::to_string(bcp::train::max_threads()) +
                     " (4 x this machine's cores), got " + text;
            return {};
          },
          "at most 4 x cores"));
  cmd->add_option(repeats_names, o.repeats, "Timed repeats (default: step 5, infer 3, LA infer 1)")
      ->check(bcp::cli::positive());
  cmd->add_option("--warmup", o.common.warmup, "Untimed runs before timing")
      ->capture_default_str()
      ->check(bcp::cli::non_negative());
  cmd->add_option("--data", o.common.data_root,
                  "Real data root (ACDC or LA layout); default: synthetic data of the real shapes")
      ->check(bcp::cli::non_empty_path());
  cmd->add_option("--json", o.json, "Also write one JSON object per line to this file")
      ->check(bcp::cli::non_empty_path());
}

/// Applies the shared options, runs, prints the table and writes the JSON lines.
void finish(const BenchCommandOptions& o, int default_repeats,
            const std::function<std::vector<nlohmann::json>(const bcp::bench::CommonOptions&)>& run,
            bool report = true) {
  bcp::bench::CommonOptions common = o.common;
  common.repeats = o.repeats > 0 ? o.repeats : default_repeats;
  if (o.precision != "all")
    common.precisions = {bcp::util::parse_enum<bcp::nets::Precision>(o.precision)};
  if (!o.json.empty()) {
    if (std::filesystem::is_directory(o.json))
      throw std::runtime_error(o.json + ": is a folder; --json names the file to write");
    const auto dir = std::filesystem::path(o.json).parent_path();
    if (!dir.empty() && !std::filesystem::is_directory(dir))
      throw std::runtime_error(o.json + ": folder does not exist");
  }
  const auto rows = run(common);
  if (!report) return;  // a rank other than 0
  std::cout << bcp::bench::format_table(rows)
            << "(median and minimum of the timed repeats; warm-up runs excluded)\n"
            << bcp::bench::format_profiles(rows);
  if (!o.json.empty()) {
    std::string lines;
    for (const auto& r : rows) lines += r.dump() + "\n";
    bcp::io::write_file_atomically(o.json, lines);
    std::cout << "wrote " << o.json << "\n";
  }
}

void print_progress(const std::string& line) {
  std::cerr << line << std::endl;
}

void setup_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Time training steps, inference and metrics here");
  bench->require_subcommand(1);

  auto step = std::make_shared<bcp::bench::StepBenchOptions>();
  auto step_o = std::make_shared<BenchCommandOptions>();
  auto* s = bench->add_subcommand(
      "step", "Full training steps at the paper's shapes (ACDC 256x256 12+12, LA 112x112x80 4+4)");
  bcp::cli::add_enum_option(*s, "--dataset", step->dataset, "Dataset, default acdc");
  bcp::cli::add_enum_option(*s, "--method", step->method, "Method, default bcp");
  s->add_option("--stage", step->stage, "BCP stage: pretrain or selftrain")
      ->capture_default_str()
      ->check(CLI::IsMember({"pretrain", "selftrain"}));
  add_common(s, *step_o, "--repeats,--steps");
  auto nproc = std::make_shared<int>(1);
  s->add_option("--nproc", *nproc,
                "Also time N local ranks of data-parallel training (each takes 1/N of every "
                "step's batch, cores / N threads) against one process with all cores")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  s->add_option("--profile", step->profile_top,
                "Then profile one more step per precision and list its N largest operators by "
                "self time (LibTorch's profiler; one process only)")
      ->check(CLI::Range(1, 1000));
  s->add_flag("--profile-shapes", step->profile_shapes,
              "With --profile: tell an operator's calls apart by their input shapes");
  s->callback([step, step_o, nproc] {
    if (step->profile_shapes && step->profile_top == 0)
      throw CLI::ValidationError("--profile-shapes", "needs --profile N");
    if (*nproc > 1 && step->profile_top > 0)
      throw CLI::ValidationError("--profile", "profiles one process; leave out --nproc");
    if (*nproc > 1) {
      if (std::getenv("WORLD_SIZE"))
        throw std::invalid_argument(
            "--nproc: this process is already one rank of a group (WORLD_SIZE is set)");
      const std::vector<std::string>& line = bcp::cli::command_line();
      const int code = bcp::cli::run_local_ranks(
          *nproc, bcp::cli::without_nproc({line.begin() + 1, line.end()}));
      if (code != 0)
        throw std::runtime_error("--nproc " + std::to_string(*nproc) + ": a rank failed (exit " +
                                 std::to_string(code) + "); its error is above");
      return;
    }
    step->dist = bcp::distributed::dist_env_from_environment();
    finish(
        *step_o, 5,
        [&](const bcp::bench::CommonOptions& c) {
          step->common = c;
          return bcp::bench::bench_step(*step, step->dist.rank == 0
                                                   ? bcp::bench::Progress(print_progress)
                                                   : bcp::bench::Progress());
        },
        step->dist.rank == 0);
  });

  auto infer = std::make_shared<bcp::bench::InferBenchOptions>();
  auto infer_o = std::make_shared<BenchCommandOptions>();
  auto* i = bench->add_subcommand(
      "infer", "One volume through the evaluation protocol (LA sliding window, ACDC slice-wise)");
  bcp::cli::add_enum_option(*i, "--dataset", infer->dataset, "Dataset, default la");
  i->add_option("--model", infer->model_path, "Checkpoint to run (default: fresh weights)")
      ->check(bcp::cli::non_empty_path());
  i->add_option("--case", infer->case_name, "Case of the root's val.list (default: the first)");
  i->add_option("--window-batch", infer->window_batch, "LA: windows per network call")
      ->capture_default_str()
      ->check(bcp::cli::positive());
  add_common(i, *infer_o);
  i->callback([infer, infer_o] {
    finish(*infer_o, infer->dataset == bcp::data::Dataset::kLa ? 1 : 3,
           [&](const bcp::bench::CommonOptions& c) {
             infer->common = c;
             return bcp::bench::bench_infer(*infer, print_progress);
           });
  });

  auto metrics = std::make_shared<bcp::bench::MetricsBenchOptions>();
  auto metrics_o = std::make_shared<BenchCommandOptions>();
  auto* m = bench->add_subcommand("metrics", "Dice, Jaccard, 95HD and ASD on one LA volume");
  add_common(m, *metrics_o);
  m->callback([metrics, metrics_o] {
    finish(*metrics_o, 5, [&](const bcp::bench::CommonOptions& c) {
      metrics->common = c;
      return bcp::bench::bench_metrics(*metrics, print_progress);
    });
  });
}

}  // namespace

BCP_REGISTER_COMMAND("bench", setup_bench);
