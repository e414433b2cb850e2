// Subcommand registry: each src/cli/cmd_<name>.cpp registers itself with BCP_REGISTER_COMMAND,
// so adding a command never touches main.cpp.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace bcp::cli {

/// Adds a subcommand to `app`; the callback it installs does the work and may throw
/// (std::exception), which main() turns into one line on stderr and exit status 1.
using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandEntry {
  std::string name;
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(setup)});
  }
};

}  // namespace bcp::cli

#define BCP_REGISTER_COMMAND(name, fn) \
  static const ::bcp::cli::CommandRegistrar bcp_command_registrar_##fn(name, fn)
