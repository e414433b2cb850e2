// `bcp score`: Dice, Jaccard, 95HD and ASD of a folder of predicted label files against a folder
// of references, as the paper reports them.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bcp/eval/score_report.h"
#include "bcp/io/output_rules.h"
#include "command.h"
#include "path_option.h"

namespace {

struct ScoreCommandOptions {
  /// What to score (folders, spacing, classes).
  bcp::eval::ScoreDirsOptions dirs;
  /// JSON report path; the CSV goes beside it.
  std::string out;
  /// --spacing as typed, "z,y,x".
  std::string spacing;
};

/// A voxel side of a kilometre is already no scanner's; far above it squares overflow.
constexpr double kMaxSpacing = 1e6;

std::vector<double> parse_spacing(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    // Distances are squared sums of spacings: 1e308 would overflow to inf and score as NaN.
    if (used == 0 || used != item.size() || !std::isfinite(v) || v <= 0 || v > kMaxSpacing)
      throw CLI::ValidationError(
          "--spacing",
          "'" + text +
              "': expected positive numbers up to 1e6 (mm) separated by commas, e.g. 10,1.5,1.25");
    out.push_back(v);
  }
  if (out.size() < 2 || out.size() > 3 || (!text.empty() && text.back() == ','))
    throw CLI::ValidationError("--spacing",
                               "'" + text + "': expected 2 or 3 values (z,y,x or y,x)");
  return out;
}

void setup_score(CLI::App& app) {
  auto opts = std::make_shared<ScoreCommandOptions>();
  auto* cmd = app.add_subcommand(
      "score", "Score predicted label files against references (Dice, Jaccard, 95HD, ASD)");
  cmd->add_option("--pred", opts->dirs.pred_dir,
                  "Folder of predicted labels (.h5 with 'label' or 'pred', .nii, .nii.gz)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--ref", opts->dirs.ref_dir,
                  "Folder of reference labels with the same file names")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--out", opts->out, "JSON report to write; the CSV goes beside it (.csv)")
      ->check(bcp::cli::non_empty_path())
      ->required();
  cmd->add_option("--spacing", opts->spacing,
                  "Voxel spacing z,y,x (mm) for every case; default: the reference header (NIfTI), "
                  "else voxel units");
  cmd->add_option("--classes", opts->dirs.num_classes,
                  "Number of classes K incl. background, 2 to 256 (default: from a dataset.json "
                  "beside the references; never from the largest label value)")
      ->check(CLI::Range(2, 256));
  cmd->callback([opts] {
    if (!opts->spacing.empty()) opts->dirs.spacing = parse_spacing(opts->spacing);
    std::filesystem::path csv(opts->out);
    csv.replace_extension(".csv");
    for (const std::string& out : {opts->out, csv.string()})
      bcp::io::refuse_output_over_input(out, "--out", {opts->dirs.pred_dir, opts->dirs.ref_dir});
    const bcp::eval::ScoreReport report = bcp::eval::score_mask_dirs(opts->dirs);
    bcp::eval::write_report(report, opts->out);
    std::cout << bcp::eval::format_table(report) << "unit: " << report.unit << "\n";
    if (const size_t n = report.unscored_references.size())
      std::cout << "note: " << n << " reference file" << (n == 1 ? " has" : "s have")
                << " no prediction and " << (n == 1 ? "was" : "were")
                << " not scored (first: " << report.unscored_references.front()
                << "; all under \"unscored_references\" in the JSON)\n";
    std::cout << "wrote " << opts->out << "\n";
  });
}

}  // namespace

BCP_REGISTER_COMMAND("score", setup_score);
