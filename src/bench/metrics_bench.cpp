// `bcp bench metrics`: the paper's four metrics on one LA label volume against itself shifted by
// 3 voxels along the first axis (a realistic, non-trivial surface distance).
#include <torch/torch.h>

#include "bcp/bench/bench.h"
#include "bcp/eval/binary_metrics.h"
#include "bench_data.h"

namespace bcp::bench {

std::vector<nlohmann::json> bench_metrics(const MetricsBenchOptions& o, const Progress& progress) {
  set_threads(o.common.threads);
  const data::Sample volume = bench_volume(data::Dataset::kLa, o.common.data_root, "");
  const torch::Tensor ref = volume.label;
  const torch::Tensor pred = torch::roll(ref, {3}, {0}).contiguous();
  if (progress) progress("metrics la ...");
  reset_peak_memory();
  eval::BinaryScores s;
  const Timing t = time_repeats(o.common.warmup, o.common.repeats,
                                [&] { s = eval::per_class_scores(pred, ref, 2).at(0); });
  CommonOptions common = o.common;
  common.device = "cpu";
  nlohmann::json row = common_row("metrics", "la", "fp64", common, t);
  row["case"] = volume.name;
  row["shape"] = volume.image.sizes().vec();
  row["dice"] = s.dice;
  row["hd95"] = s.hd95;
  return {row};
}

}  // namespace bcp::bench
