// `bcp report`: one self-contained HTML page (plots and pictures embedded) that compares training
// runs: loss and validation curves per stage, the final evaluation tables, pictures of the best,
// median and worst validation cases, `bcp ablate` tables, and each run's config.
#pragma once
#include <string>
#include <vector>

namespace bcp::analysis {

struct ReportOptions {
  /// Run folders (`bcp train --out`) or ablation folders (`bcp ablate --out`: its table plus
  /// every run in it), in the order they should appear.
  std::vector<std::string> runs;
  std::string out_path;   ///< the .html file to write (atomically); its folder is created
  std::string data_root;  ///< images for the pictures; "" = the root each evaluation names
  int slices = 3;         ///< slices pictured per case
  std::string title = "bcp report";
};

struct ReportSummary {
  int runs = 0;                    ///< run folders read
  int plots = 0;                   ///< gnuplot figures embedded
  int pictures = 0;                ///< case pictures embedded
  std::vector<std::string> notes;  ///< what could not be shown and why (also in the page)
};

/// Reads every run, draws the page and writes it. Throws std::runtime_error naming the folder or
/// file when a run cannot be read, gnuplot is missing, or the page cannot be written.
ReportSummary write_html_report(const ReportOptions& options);

}  // namespace bcp::analysis
