// `bcp ablate`: a grid of config overrides run as separate, resumable training runs, and the table
// that compares them (the paper's ablations: beta, paste direction, mask shape, ...).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <utility>
#include <vector>

#include "bcp/train/config.h"

namespace bcp::train {

/// One varied key and its values, each as --set would take it (JSON, or a bare word).
struct AblationAxis {
  std::string key;
  std::vector<std::string> values;
};

/// Parses "bcp.beta=0.5,0.667,0.75". Commas inside [...] or "..." do not split, so
/// "data.patch=[128,128],[256,256]" has two values. Throws std::invalid_argument naming the text.
AblationAxis parse_vary(const std::string& text);

/// One run of the grid: its folder name, its settings (key, value) and its full config.
struct AblationRun {
  std::string name;  ///< "bcp.beta=0.5__bcp.direction=inward" (unsafe characters become '_')
  std::vector<std::pair<std::string, std::string>> settings;
  TrainConfig config;
};

/// The cartesian product of `axes` over `base` (first axis slowest), each config validated.
/// Throws std::invalid_argument for an empty grid, a key given twice, or a bad value (naming it).
std::vector<AblationRun> plan_ablation(const TrainConfig& base,
                                       const std::vector<AblationAxis>& axes);

struct AblationOptions {
  TrainConfig base;
  std::vector<AblationAxis> axes;
  std::string data_root;
  std::string out_dir;           ///< one folder per run inside, plus ablation.{json,csv}
  bool resume = false;           ///< skip finished runs, resume interrupted ones
  bool final_evaluation = true;  ///< evaluate each run's best.h5 and last.h5 on the validation list
  bool echo = true;              ///< mirror each run's log to stdout
  int64_t stop_after = 0;        ///< test hook: stop each run after this many steps (0 = never)
};

/// One checkpoint's final evaluation on the validation list: the four metrics' means.
struct FinalScores {
  bool evaluated = false;
  double dice = 0, jaccard = 0, hd95 = 0, asd = 0;
};

/// What one run gave: best validation Dice of its last stage and, with the final evaluation,
/// the scores of best.h5 (selected on the validation list) and of last.h5 (not selected).
struct AblationRow {
  AblationRun run;
  double best_val_dice = -1;
  FinalScores best, last;
  double seconds = 0;
  bool finished = false;  ///< false when the run was interrupted (stop_after)
  bool reused = false;    ///< true when --resume found it finished and did not run it
};

/// Runs (or, with resume, continues) every run of the grid in order, then writes
/// out_dir/ablation.csv and ablation.json. out_dir/plan.json records the grid: without resume a
/// folder that already holds one is refused, and with resume another grid is refused.
std::vector<AblationRow> run_ablation(const AblationOptions& options);

/// The comparison table: one row per run, one column per axis, then the numbers.
std::string format_ablation_table(const std::vector<AblationRow>& rows,
                                  const std::vector<AblationAxis>& axes);

/// Rows as JSON (what ablation.json holds) and as CSV text.
nlohmann::json ablation_to_json(const std::vector<AblationRow>& rows);
std::string ablation_to_csv(const std::vector<AblationRow>& rows,
                            const std::vector<AblationAxis>& axes);

}  // namespace bcp::train
