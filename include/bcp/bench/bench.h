// `bcp bench`: what a machine does with bcp, in the manner of llama.cpp's llama-bench. Full
// training steps at the paper's shapes, one volume through the official inference protocol, and
// the paper's four metrics, each timed after an untimed warm-up and repeated; results as a table
// and as JSON lines. Every variant of one invocation runs in the same process, so ratios between
// them (fp32 against bf16) are like for like.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bcp/data/dataset_kind.h"
#include "bcp/distributed/distributed.h"
#include "bcp/nets/precision.h"
#include "bcp/train/config.h"

namespace bcp::bench {

/// Repeated timings of one thing.
struct Timing {
  std::vector<double> seconds;  ///< one entry per timed repeat
  double median() const;
  double min() const;
};

/// Times `fn` `repeats` times after `warmup` untimed calls.
Timing time_repeats(int warmup, int repeats, const std::function<void()>& fn);

/// The process's peak resident memory (VmHWM) in MiB since the last `reset_peak_memory()`
/// (Linux; -1 where /proc is not available).
double peak_memory_mib();
/// Restarts the peak-memory watermark (writes 5 to /proc/self/clear_refs; no-op elsewhere).
void reset_peak_memory();

/// Shared by the three benchmarks.
struct CommonOptions {
  std::vector<nets::Precision> precisions{nets::Precision::kFp32, nets::Precision::kBf16};
  std::string device = "cpu";
  int threads = 0;        ///< intra-op threads; 0 = OMP_NUM_THREADS, else all cores
  int repeats = 5;        ///< timed repeats
  int warmup = 1;         ///< untimed runs first (oneDNN builds its kernels on first use)
  std::string data_root;  ///< real data (ACDC or LA layout); empty = synthetic stand-ins
};

/// `bcp bench step`: full training steps as the trainer takes them (sampler, augmentation, batch
/// assembly, passes, losses, SGD, EMA) at the preset's shapes (ACDC 256x256 with 12 + 12, LA
/// 112x112x80 with 4 + 4).
struct StepBenchOptions {
  CommonOptions common;
  data::Dataset dataset = data::Dataset::kAcdc;
  train::Method method = train::Method::kBcp;
  std::string stage = "selftrain";  ///< BCP only: "pretrain" | "selftrain"
  /// This process's place in a group of ranks (`bcp bench step --nproc N`): rank 0 times one
  /// process on the whole batch with all its threads, then every rank its share of each step
  /// (gradients averaged as in training) with cores / N threads; only rank 0 returns rows.
  distributed::DistEnv dist;
  /// After the timed steps, one more step per precision under LibTorch's profiler: the rows get
  /// `profile`, its `profile_top` largest operators by self time (0 = no profile; not with ranks).
  int profile_top = 0;
  /// With the profile: one entry per operator and input shapes (which convolution, which pooling).
  bool profile_shapes = false;
};

/// `bcp bench infer`: one validation volume through the dataset's protocol (LA sliding window,
/// stride 18/18/4; ACDC slice-wise at 256x256) with a randomly initialised network (or
/// `model_path`'s); the warm-up is one network call, not a whole volume.
struct InferBenchOptions {
  CommonOptions common;
  data::Dataset dataset = data::Dataset::kLa;
  std::string model_path;    ///< checkpoint to run; empty = fresh weights (same cost)
  std::string case_name;     ///< case of the data root's val.list; empty = its first
  int64_t window_batch = 4;  ///< LA windows per network call
};

/// `bcp bench metrics`: Dice, Jaccard, 95HD and ASD of one LA label volume against itself
/// shifted by 3 voxels.
struct MetricsBenchOptions {
  CommonOptions common;
};

/// One JSON object per timed variant, with at least benchmark, dataset, precision, device,
/// threads, seconds_median, seconds_min, repeats, warmup and peak_memory_mib (infer adds windows,
/// seconds_per_volume and, for non-fp32 precisions timed after fp32, label_agreement).
/// `progress` (may be empty) receives a line per variant as it starts.
using Progress = std::function<void(const std::string&)>;
std::vector<nlohmann::json> bench_step(const StepBenchOptions& options, const Progress& progress);
std::vector<nlohmann::json> bench_infer(const InferBenchOptions& options, const Progress& progress);
std::vector<nlohmann::json> bench_metrics(const MetricsBenchOptions& options,
                                          const Progress& progress);

/// A Markdown table of `rows` (the columns every row shares, in a fixed order).
std::string format_table(const std::vector<nlohmann::json>& rows);
/// For each row with a `profile` (bench step --profile), a table of where its step went.
std::string format_profiles(const std::vector<nlohmann::json>& rows);

}  // namespace bcp::bench
