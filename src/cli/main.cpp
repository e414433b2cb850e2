// bcp: one executable, one subcommand per src/cli/cmd_*.cpp.
#include <algorithm>
#include <exception>
#include <iostream>

#include "bcp/util/error_message.h"
#include "command.h"

namespace bcp::cli {
std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
}  // namespace bcp::cli

int main(int argc, char** argv) {
  CLI::App app{"bcp: semi-supervised medical image segmentation (Bidirectional Copy-Paste)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bcp 0.1.0");
  auto& registry = bcp::cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& entry : registry) entry.setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "bcp: error: " << bcp::util::error_message(e) << "\n";
    return 1;
  }
  return 0;
}
