// `bcp demo`: what unlabeled data buys, shown in minutes on a laptop CPU. Trains supervised-only
// and BCP with the same labeled slices, evaluates both on held-out cases, and prints the paper's
// table side by side.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace bcp::train {

struct DemoOptions {
  std::string data_root;  ///< real ACDC root; empty = generate a synthetic one in out_dir/data
  std::string out_dir = "bcp_demo";
  uint64_t seed = 1337;
  std::string device = "cpu";
  /// Intra-op CPU threads of both runs; 0 = OMP_NUM_THREADS, else the available cores.
  int64_t threads = 0;
  bool echo = true;  ///< print progress
  /// Iterations (supervised gets pretrain + selftrain, the same number of updates as BCP).
  // 64x64 keeps the default run near 6 minutes on 2 cores, well inside the 10-minute budget
  // (fp32: supervised about 0.2 s an iteration, BCP self-training 0.15 s); 128 costs about 4x.
  int64_t pretrain_iters = 200;
  int64_t selftrain_iters = 600;
  int64_t patch = 64;  ///< training and evaluation resolution
  int64_t val_every = 50;
};

/// Runs the demo and writes out_dir/summary.json:
/// {"supervised": {"dice", "jaccard", "hd95", "asd"}, "bcp": {...}, "labeled": n, "unlabeled": m,
///  "seconds": s} (Dice, Jaccard as fractions). Returns the same JSON.
nlohmann::json run_demo(const DemoOptions& options);

/// The side-by-side table of a summary (Dice %, Jaccard %, 95HD, ASD).
std::string format_demo_table(const nlohmann::json& summary);

}  // namespace bcp::train
