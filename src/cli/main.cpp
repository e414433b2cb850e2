// bcp: one executable, one subcommand per src/cli/cmd_*.cpp.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>

#include "bcp/io/input_path.h"
#include "bcp/util/error_message.h"
#include "bcp/version.h"
#include "command.h"
#include "local_ranks.h"

namespace bcp::cli {
std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
}  // namespace bcp::cli

namespace {
/// Exit codes (README): 0 success, 1 the command failed (input, data, files), 2 bad command line.
constexpr int kUsageExitCode = 2;
}  // namespace

int main(int argc, char** argv) {
  bcp::cli::command_line().assign(argv, argv + argc);
  CLI::App app{"bcp: semi-supervised medical image segmentation (Bidirectional Copy-Paste)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("bcp ") + BCP_VERSION);
  app.add_flag_callback(
      "--follow-links", [] { bcp::io::set_follow_links_out_of_root(true); },
      "Read files that a data root reaches through symbolic links leading outside it (by default "
      "refused)");
  // The subcommands pass options they do not know to this level, so --follow-links may come
  // after the command's name too.
  app.fallthrough();
  auto& registry = bcp::cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& entry : registry) entry.setup(app);
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(registry.begin(), registry.end(),
                   [&](const auto& entry) { return entry.name == argv[1]; })) {
    std::string names;
    for (const auto& entry : registry) names += (names.empty() ? "" : ", ") + entry.name;
    std::cerr << "bcp: error: unknown command '" << argv[1] << "' (commands: " << names << ")\n";
    return kUsageExitCode;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // Usage errors get the same one-line form as every other error, and their own exit code.
    std::string where = "bcp";
    for (const auto* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::cerr << "bcp: error: " << bcp::util::error_message(e) << " (see '" << where
              << " --help')\n";
    return kUsageExitCode;
  } catch (const std::exception& e) {
    std::cerr << "bcp: error: " << bcp::util::error_message(e) << "\n";
    return 1;
  }
  return 0;
}
