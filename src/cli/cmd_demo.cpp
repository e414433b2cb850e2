// `bcp demo`: supervised-only vs BCP at 5% labels, side by side, in minutes on a CPU.
#include <iostream>

#include "bcp/train/demo.h"
#include "command.h"
#include "number_checks.h"
#include "path_option.h"

namespace {

void setup_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo", "Train supervised-only and BCP with the same 5% labeled slices and compare them");
  auto o = std::make_shared<bcp::train::DemoOptions>();
  cmd->add_option("--data", o->data_root,
                  "Real ACDC root (default: generate a synthetic ACDC-like set in OUT/data)")
      ->check(bcp::cli::non_empty_path());
  cmd->add_option("--out", o->out_dir, "Output folder")
      ->check(bcp::cli::non_empty_path())
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of data generation and training")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--pretrain-iters", o->pretrain_iters, "BCP pre-training iterations")
      ->capture_default_str()
      ->check(bcp::cli::positive());
  cmd->add_option("--selftrain-iters", o->selftrain_iters, "BCP self-training iterations")
      ->capture_default_str()
      ->check(bcp::cli::positive());
  cmd->add_option("--patch", o->patch, "Training and evaluation resolution")
      ->capture_default_str()
      ->check(CLI::Range(32, 512))
      ->check(bcp::cli::multiple_of(16));
  cmd->callback([o] {
    nlohmann::json s = bcp::train::run_demo(*o);
    std::cout << "\n"
              << bcp::train::format_demo_table(s) << "summary: " << o->out_dir << "/summary.json\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("demo", setup_demo);
