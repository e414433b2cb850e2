// `bcp train`: one experiment from a config file or preset, into a run directory.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "bcp/train/budget.h"
#include "bcp/train/run_folder.h"
#include "bcp/train/trainer.h"
#include "command.h"
#include "config_args.h"
#include "local_ranks.h"
#include "number_checks.h"
#include "path_option.h"

namespace {

struct TrainArgs {
  bcp::cli::ConfigArgs config;
  std::string data;
  std::string out;
  bool resume = false;
  bool no_eval = false;
  int nproc = 0;
  std::string budget;
  bool keep_recipe = false;
  double rendezvous_timeout = 300;  ///< seconds
};

void setup_train(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "Train supervised, mean-teacher or BCP (pre-train + self-train) on ACDC or LA");
  auto args = std::make_shared<TrainArgs>();
  bcp::cli::add_config_args(*cmd, args->config);
  cmd->add_option("--data", args->data, "Dataset root (standard ACDC or LA layout)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--out", args->out, "Run directory (created)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_flag("--resume", args->resume, "Continue the run in --out from its last.h5");
  cmd->add_flag("--no-eval", args->no_eval,
                "Skip the final evaluations of best.h5 and last.h5 on the val list");
  cmd->add_option("--nproc", args->nproc,
                  "Start N local ranks of data-parallel training (sets world_size; each rank takes "
                  "1/N of every step's batch). Under torchrun-style launchers use their variables "
                  "instead")
      ->check(CLI::Range(1, 64));
  cmd->add_option(
      "--budget", args->budget,
      "Fit the run into this wall-clock time on this machine (20m, 1.5h, 900s) with the "
      "short-run recipe (BCP's stages in equal steps, a 2-D patch halved): times a few steps "
      "and a validation first, then sets schedule.* (about ten validations) and prints the "
      "plan");
  cmd->add_flag("--keep-recipe", args->keep_recipe,
                "With --budget: plan the step counts only, keeping the config's patch and stage "
                "ratio");
  cmd->add_option("--rendezvous-timeout", args->rendezvous_timeout,
                  "Seconds a rank of a distributed run may take to resolve MASTER_ADDR and meet "
                  "the other ranks before it fails")
      ->capture_default_str()
      ->check(bcp::cli::positive())
      ->check(CLI::Range(0.0, 86400.0));
  cmd->callback([args] {
    bcp::cli::stop_with_launcher();
    if (args->nproc > 1 && std::getenv("WORLD_SIZE"))
      throw std::invalid_argument(
          "--nproc: this process is already one rank of a group (WORLD_SIZE is set)");
    bcp::train::TrainOptions o;
    o.dist = bcp::distributed::dist_env_from_environment();
    o.dist.rendezvous_timeout =
        std::chrono::milliseconds(static_cast<int64_t>(std::ceil(args->rendezvous_timeout * 1000)));
    if (args->resume && args->config.file.empty() && args->config.preset.empty()) {
      // A resumed run reads its own effective config unless another is given.
      args->config.file = args->out + "/config.json";
    }
    o.config = bcp::cli::resolve_config(args->config);
    double budget_seconds = 0;
    if (!args->budget.empty()) {
      try {
        budget_seconds = bcp::train::parse_duration(args->budget, "--budget");
      } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--budget", e.what());
      }
      // A resumed run keeps the schedule it planned; ranks would each time and plan alone.
      if (args->resume)
        throw CLI::ValidationError("--budget", "not with --resume (the run keeps its schedule)");
      if (args->nproc > 1 || std::getenv("WORLD_SIZE"))
        throw CLI::ValidationError("--budget", "one process only for now (not with --nproc)");
    } else if (args->keep_recipe) {
      throw CLI::ValidationError("--keep-recipe", "only with --budget");
    }
    if (args->nproc > 0) {
      o.config.world_size = args->nproc;
    } else if (o.dist.distributed() && o.config.world_size == 1) {
      o.config.world_size = o.dist.world_size;  // started by a launcher
    }
    if (args->nproc > 1) {
      // Checked here, so a bad config fails once and not in every rank.
      bcp::train::validate_config(o.config);
      const std::vector<std::string>& line = bcp::cli::command_line();
      std::vector<std::string> rank_args = bcp::cli::without_nproc({line.begin() + 1, line.end()});
      rank_args.push_back("--set");
      rank_args.push_back("world_size=" + std::to_string(args->nproc));
      const int code = bcp::cli::run_local_ranks(args->nproc, rank_args);
      if (code != 0)
        throw std::runtime_error("--nproc " + std::to_string(args->nproc) +
                                 ": a rank failed (exit " + std::to_string(code) +
                                 "); its error is above");
      return;
    }
    o.data_root = args->data;
    o.out_dir = args->out;
    o.resume = args->resume;
    o.final_evaluation = !args->no_eval;
    const auto started = std::chrono::steady_clock::now();
    if (budget_seconds > 0) {
      // Refused before the timing, as train() would refuse after it.
      bcp::train::validate_config(o.config);
      bcp::train::refuse_existing_run(o.out_dir);
      bcp::train::apply_process_settings(o.config, o.dist);
      const bcp::train::BudgetPlan plan = bcp::train::plan_budget(
          o.config, o.data_root, budget_seconds, o.final_evaluation, !args->keep_recipe);
      for (const std::string& line : plan.lines) std::cout << line << "\n";
      std::cout << std::flush;
      o.config = plan.config;
    }
    bcp::train::TrainResult r;
    try {
      r = bcp::train::train(o);
    } catch (const std::exception& e) {
      if (!o.dist.distributed()) throw;
      throw std::runtime_error("rank " + std::to_string(o.dist.rank) + ": " + e.what());
    }
    if (o.dist.rank != 0) return;  // rank 0 reports
    for (const auto& s : r.stages)
      std::cout << s.stage << ": " << s.iterations << " iterations, best val mean Dice "
                << s.best_dice << " at " << s.best_iteration << " (" << s.seconds << " s)\n";
    std::cout << "best model: " << r.best_path << "\n"
              << "wall time: " << r.seconds << " s\n";
    if (budget_seconds > 0)
      std::cout << "budget: " << budget_seconds << " s, took "
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
                << " s in all, timing included\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("train", setup_train);
