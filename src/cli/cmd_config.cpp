// `bcp config`: prints an effective training config (a preset or a file, plus overrides).
#include <iostream>
#include <nlohmann/json.hpp>

#include "bcp/train/config.h"
#include "command.h"
#include "config_args.h"

namespace {

void setup_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Print an effective training config as JSON");
  auto args = std::make_shared<bcp::cli::ConfigArgs>();
  bcp::cli::add_config_args(*cmd, *args);
  cmd->callback([args] {
    bcp::train::TrainConfig c = bcp::cli::resolve_config(*args);
    std::cout << bcp::train::config_to_json(c).dump(2) << "\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("config", setup_config);
