// `bcp report`: one self-contained HTML page comparing training runs.
#include <iostream>

#include "bcp/analysis/html_report.h"
#include "bcp/io/output_rules.h"
#include "command.h"
#include "path_option.h"

namespace {

void setup_report(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page comparing runs: curves, evaluation tables, "
      "best/median/worst cases, ablation tables, configs");
  auto o = std::make_shared<bcp::analysis::ReportOptions>();
  cmd->add_option("runs", o->runs,
                  "Run folders (bcp train --out) or ablation folders (bcp ablate --out)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--out", o->out_path, "The HTML file to write, e.g. report.html")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--data", o->data_root,
                  "Dataset root for the case pictures (default: the root each evaluation used)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--slices", o->slices, "Slices pictured per case")
      ->check(CLI::Range(1, 20))
      ->default_val(3);
  cmd->add_option("--title", o->title, "Page title")->default_val("bcp report");
  cmd->callback([o] {
    bcp::io::refuse_output_over_input(o->out_path, "--out", o->runs);
    const auto s = bcp::analysis::write_html_report(*o);
    for (const auto& n : s.notes) std::cerr << "bcp report: note: " << n << "\n";
    std::cout << "wrote " << o->out_path << ": " << s.runs << " run" << (s.runs == 1 ? "" : "s")
              << ", " << s.plots << " plots, " << s.pictures << " case pictures\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("report", setup_report);
