// `bcp ablate`: a grid of config overrides as separate runs, and the table that compares them.
#include <iostream>

#include "bcp/train/ablation.h"
#include "bcp/train/seed_summary.h"
#include "command.h"
#include "config_args.h"
#include "path_option.h"

namespace {

struct AblateArgs {
  bcp::cli::ConfigArgs config;
  std::vector<std::string> vary;
  std::string data;
  std::string out;
  bool resume = false;
  bool no_eval = false;
};

void setup_ablate(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "ablate", "Run a grid of config overrides (e.g. bcp.beta) as separate runs and compare them");
  auto args = std::make_shared<AblateArgs>();
  bcp::cli::add_config_args(*cmd, args->config);
  cmd->add_option("--vary", args->vary,
                  "One axis of the grid: key=a,b,c (repeatable; runs are the cartesian product)")
      ->required();
  cmd->add_option("--data", args->data, "Dataset root (standard ACDC or LA layout)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--out", args->out, "Ablation folder: one run folder per grid point")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_flag("--resume", args->resume,
                "Continue an interrupted ablation: finished runs are kept, others resume");
  cmd->add_flag("--no-eval", args->no_eval,
                "Skip each run's final evaluation (the table shows validation Dice only)");
  cmd->callback([args] {
    bcp::train::AblationOptions o;
    o.base = bcp::cli::resolve_config(args->config);
    for (const auto& v : args->vary) {
      try {
        o.axes.push_back(bcp::train::parse_vary(v));
      } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError("--vary", e.what());  // a command-line mistake: exit 2
      }
    }
    o.data_root = args->data;
    o.out_dir = args->out;
    o.resume = args->resume;
    o.final_evaluation = !args->no_eval;
    const auto rows = bcp::train::run_ablation(o);
    std::cout << "\n" << bcp::train::format_ablation_table(rows, o.axes);
    const auto seeds = bcp::train::summarize_seeds(rows);
    if (!seeds.empty())
      std::cout << "\nover seeds: mean +- standard deviation (runs); val Dice selected best.h5, "
                   "whose final evaluation is on the same list\n"
                << bcp::train::format_seed_table(seeds, o.axes);
    std::cout << "wrote " << args->out << "/ablation.csv and ablation.json"
              << (seeds.empty() ? "" : " and ablation_seeds.json") << "\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("ablate", setup_ablate);
