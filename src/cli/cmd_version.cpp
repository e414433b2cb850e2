// `bcp info`: build facts a bug report needs (LibTorch version, devices, threads).
#include <torch/torch.h>

#include <iostream>

#include "bcp/version.h"
#include "command.h"

namespace {
void setup_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print build and device information");
  cmd->callback([] {
    std::cout << "bcp " << BCP_VERSION << "\n"
              << "libtorch " << TORCH_VERSION << "\n"
              << "cuda available: " << (torch::cuda::is_available() ? "yes" : "no") << "\n"
              << "threads: " << torch::get_num_threads() << "\n";
  });
}
}  // namespace

BCP_REGISTER_COMMAND("info", setup_info);
