// What a training run folder holds, read back for reports: the config, the curves of
// metrics.jsonl per stage, and the final evaluation. Also reads `bcp ablate` folders.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace bcp::analysis {

struct Curve {
  std::vector<double> x, y;
};

/// One stage's curves, by iteration. A resumed run repeats some iterations in metrics.jsonl;
/// the last record of an iteration wins, as the run's final state does.
struct StageCurves {
  std::string stage;        ///< "pretrain", "selftrain", "train"
  Curve loss;               ///< training loss per logged step
  Curve mean_dice;          ///< validation mean Dice
  Curve mean_hd95;          ///< validation mean 95HD
  std::vector<Curve> dice;  ///< validation Dice of class 1, 2, ...
};

struct RunRecord {
  std::string dir;                  ///< as given
  std::string name;                 ///< the folder's name
  nlohmann::json config;            ///< config.json; null when absent
  std::vector<StageCurves> stages;  ///< in the order the run went through them
  nlohmann::json evaluation;        ///< eval/metrics.json (the final evaluation); null when absent
  nlohmann::json evaluation_last;   ///< eval_last/metrics.json (of last.h5); null when absent
  int skipped_lines = 0;  ///< metrics.jsonl lines that were not JSON (cut by a kill), skipped
};

/// Reads a run folder. Throws std::runtime_error naming the path when it is not one (no
/// metrics.jsonl and no eval/metrics.json) or config.json / eval/metrics.json are not JSON;
/// metrics.jsonl lines that are not JSON (cut by a kill) are skipped and counted.
RunRecord read_run(const std::string& dir);

/// A `bcp ablate` folder's table (ablation.json) and its runs' folders.
struct AblationRecord {
  std::string dir;
  nlohmann::json rows;                ///< ablation.json as written
  std::vector<std::string> run_dirs;  ///< dir/<row.run>, in the table's order
};

/// True when `dir` holds an ablation.json.
bool is_ablation_dir(const std::string& dir);
/// Reads ablation.json; run names that would leave `dir` are refused.
AblationRecord read_ablation(const std::string& dir);

}  // namespace bcp::analysis
