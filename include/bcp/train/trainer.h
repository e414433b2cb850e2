// `bcp train` as a library call: supervised, Mean Teacher and BCP (pre-training then
// self-training) for ACDC (UNet 2D) and LA (VNet), with validation, best/last checkpoints and
// exact resume.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "bcp/distributed/distributed.h"
#include "bcp/train/config.h"

namespace bcp::train {

struct TrainOptions {
  TrainConfig config;
  std::string data_root;         ///< dataset root in the standard layout
  std::string out_dir;           ///< run directory (created)
  bool resume = false;           ///< continue from out_dir/last.h5
  bool echo = true;              ///< mirror the human log to stdout
  bool final_evaluation = true;  ///< evaluate best.h5 and last.h5 on the validation list at the end
  /// Stop (after writing last.h5) once this many steps ran in this call; 0 = run to the end.
  /// Simulates an interruption: a later call with resume = true continues the run.
  int64_t stop_after = 0;
  /// This process's place in a data-parallel run (config.world_size must equal dist.world_size):
  /// rank 0 validates, logs and writes the run's files; every rank reads the checkpoints, so the
  /// run directory must be one that every rank sees.
  distributed::DistEnv dist;
};

struct StageSummary {
  std::string stage;  ///< "train", "pretrain" or "selftrain"
  int64_t iterations = 0;
  double best_dice = -1;  ///< best validation mean Dice (fraction)
  int64_t best_iteration = -1;
  double seconds = 0;  ///< wall time of this session's part of the stage
};

struct TrainResult {
  std::vector<StageSummary> stages;
  std::string best_path;  ///< out_dir/best.h5: the model to evaluate (student at best val Dice)
  std::string last_path;  ///< out_dir/last.h5: everything needed to resume
  nlohmann::json final_metrics;  ///< the evaluation of best.h5 on the val list (null if skipped)
  nlohmann::json final_metrics_last;  ///< the same of last.h5's student (the run's end)
  double seconds = 0;
  bool interrupted = false;  ///< stopped by stop_after before the end
};

/// Runs the whole recipe of `options.config`. Files in out_dir: config.json (effective),
/// log.txt, metrics.jsonl, last.h5, best.h5 (+ pretrain_best.h5 for BCP), eval/ (final
/// evaluation of best.h5, with masks) and eval_last/ (of last.h5, metrics only). Throws on bad
/// input with messages naming the file or key. Calls `apply_process_settings` first.
TrainResult train(const TrainOptions& options);

/// The process-wide settings a run needs, in one visible place: LibTorch's intra-op threads
/// (config.threads; 0 = this machine's cores shared among its ranks) and the seed of LibTorch's
/// global generator, from which the networks' initial weights and dropout draw.
void apply_process_settings(const TrainConfig& config, const distributed::DistEnv& dist);

}  // namespace bcp::train
