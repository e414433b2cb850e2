// `bcp train`: one experiment from a config file or preset, into a run directory.
#include <iostream>

#include "bcp/train/trainer.h"
#include "command.h"
#include "config_args.h"

namespace {

struct TrainArgs {
  bcp::cli::ConfigArgs config;
  std::string data;
  std::string out;
  bool resume = false;
  bool no_eval = false;
};

void setup_train(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "Train supervised, mean-teacher or BCP (pre-train + self-train) on ACDC or LA");
  auto args = std::make_shared<TrainArgs>();
  bcp::cli::add_config_args(*cmd, args->config);
  cmd->add_option("--data", args->data, "Dataset root (standard ACDC or LA layout)")->required();
  cmd->add_option("--out", args->out, "Run directory (created)")->required();
  cmd->add_flag("--resume", args->resume, "Continue the run in --out from its last.h5");
  cmd->add_flag("--no-eval", args->no_eval, "Skip the final evaluation of best.h5 on the val list");
  cmd->callback([args] {
    bcp::train::TrainOptions o;
    if (args->resume && args->config.file.empty() && args->config.preset.empty()) {
      // A resumed run reads its own effective config unless another is given.
      args->config.file = args->out + "/config.json";
    }
    o.config = bcp::cli::resolve_config(args->config);
    o.data_root = args->data;
    o.out_dir = args->out;
    o.resume = args->resume;
    o.final_evaluation = !args->no_eval;
    bcp::train::TrainResult r = bcp::train::train(o);
    for (const auto& s : r.stages)
      std::cout << s.stage << ": " << s.iterations << " iterations, best val mean Dice "
                << s.best_dice << " at " << s.best_iteration << " (" << s.seconds << " s)\n";
    std::cout << "best model: " << r.best_path << "\n"
              << "wall time: " << r.seconds << " s\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("train", setup_train);
