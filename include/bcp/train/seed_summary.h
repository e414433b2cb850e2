// An ablation grid's runs over several seeds, summarised per grid point as mean and standard
// deviation: how results are reported (three seeds at least, never one lucky run).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <utility>
#include <vector>

#include "bcp/train/ablation.h"

namespace bcp::train {

/// Mean and sample standard deviation (n - 1) of one number over a point's seeds; `n` runs had it.
struct SeedStat {
  double mean = 0;
  double sd = 0;
  int n = 0;
};

/// One checkpoint's final evaluation over the seeds.
struct ScoreStats {
  SeedStat dice, jaccard, hd95, asd;
};

/// One point of the grid (every setting but the seed) over its finished runs.
struct SeedSummary {
  std::vector<std::pair<std::string, std::string>> settings;  ///< in the axes' order, seed left out
  std::vector<std::string> seeds;                             ///< of the finished runs, in order
  SeedStat best_val_dice;  ///< the best validation Dice (what selected best.h5)
  ScoreStats best;         ///< the final evaluation of best.h5 (selected on the validation list)
  ScoreStats last;         ///< of last.h5 (the run's end, not selected)
  SeedStat minutes;
};

/// Groups `rows` by their settings other than "seed" (in order of first appearance); empty when
/// the grid varies no seed. Interrupted runs are left out.
std::vector<SeedSummary> summarize_seeds(const std::vector<AblationRow>& rows);

/// "mean +- sd (n)" columns per metric, one line per grid point.
std::string format_seed_table(const std::vector<SeedSummary>& summaries,
                              const std::vector<AblationAxis>& axes);

/// What ablation_seeds.json holds: one object per point, each metric as {mean, sd, n}.
nlohmann::json seed_summaries_to_json(const std::vector<SeedSummary>& summaries);

}  // namespace bcp::train
