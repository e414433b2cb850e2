// `bcp bench step`: the trainer's own step function (train::take_step) with its sampler, on data
// held in memory, once per precision.

#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "bcp/bench/bench.h"
#include "bcp/distributed/distributed.h"
#include "bcp/train/config.h"
#include "bcp/train/stage_plan.h"
#include "bcp/train/step_runner.h"
#include "bcp/train/training_set.h"
#include "bcp/util/device.h"
#include "bench_data.h"
#include "op_profile.h"

namespace bcp::bench {

namespace {

/// What every variant of one invocation shares.
struct StepRun {
  const StepBenchOptions& o;
  const train::TrainingSet& set;
  bool uses_unlabeled = false;
  train::StageId stage;
  torch::Device device;
};

/// Times steps of `c` on this process alone (`group` null) or on every rank of `group`, each
/// rank taking its share of every step's batch as training does; with `profile`, profiles one
/// more step.
Timing time_steps(const StepRun& r, const train::TrainConfig& c, distributed::ProcessGroup* group,
                  OpProfile* profile = nullptr) {
  reset_peak_memory();
  train::StepRunner runner(c, r.set, train::step_kind(c, r.stage), r.device, group);
  const auto step = [&] { runner.step(); };
  Timing t = time_repeats(r.o.common.warmup, r.o.common.repeats, step);
  if (profile) *profile = profile_ops(step, r.o.profile_shapes);
  return t;
}

}  // namespace

std::vector<nlohmann::json> bench_step(const StepBenchOptions& o, const Progress& progress) {
  if (o.profile_top > 0 && o.dist.distributed())
    throw std::invalid_argument("bench step: --profile times one process; not with --nproc");
  if (o.stage != "pretrain" && o.stage != "selftrain")
    throw std::invalid_argument("bench step: stage must be pretrain or selftrain, got \"" +
                                o.stage + "\"");
  train::TrainConfig c = train::preset(o.dataset, 5, o.method);
  c.device = o.common.device;
  const torch::Device device = util::parse_device(o.common.device, "bench");
  const bool ranks = o.dist.distributed();
  const bool lead = o.dist.rank == 0;
  // One rank alone gets every core (or --threads); ranks share the machine's cores.
  const int rank_threads = bench_threads(o.common.threads, o.dist.local_world_size);
  set_threads(o.common.threads);
  const train::TrainingSet set = bench_training_set(c, o.common.data_root);
  const train::StageId stage = o.method == train::Method::kBcp
                                   ? util::parse_enum<train::StageId>(o.stage)
                                   : train::StageId::kTrain;
  StepRun run{o, set, false, stage, device};
  run.uses_unlabeled = train::uses_unlabeled(train::step_kind(c, stage));
  std::unique_ptr<distributed::ProcessGroup> group;
  if (ranks) group = std::make_unique<distributed::ProcessGroup>(o.dist, device);

  std::vector<nlohmann::json> rows;
  double fp32_median = 0;
  auto row_of = [&](const std::string& precision_name, const Timing& t, int64_t world) {
    nlohmann::json row =
        common_row("step", std::string(util::name_of(o.dataset)), precision_name, o.common, t);
    row["method"] = o.method;
    row["stage"] = run.stage;
    row["batch"] = {c.batch.labeled, run.uses_unlabeled ? c.batch.unlabeled : 0};
    row["patch"] = c.data.patch;
    if (ranks) row["ranks"] = world;
    return row;
  };
  for (const nets::Precision precision : o.common.precisions) {
    const std::string precision_name(util::name_of(precision));
    c.precision = precision;
    c.world_size = 1;
    train::validate_config(c);
    const std::string what = "step " + std::string(util::name_of(o.dataset)) + " " +
                             std::string(util::name_of(o.method)) + " " +
                             std::string(util::name_of(stage)) + " " + precision_name;
    Timing alone;
    if (lead) {
      // The baseline: one process on the whole batch with all its threads.
      if (progress) progress(what + (ranks ? ", 1 rank" : "") + " ...");
      if (ranks) set_threads(o.common.threads);  // all cores, as without ranks
      OpProfile profile;
      const bool profiled = o.profile_top > 0 && !ranks;
      alone = time_steps(run, c, nullptr, profiled ? &profile : nullptr);
      nlohmann::json row = row_of(precision_name, alone, 1);
      if (profiled) {
        row["profile"] = profile_json(profile, o.profile_top);
        row["profile_seconds"] = profile.seconds;
      }
      if (precision == nets::Precision::kFp32) fp32_median = alone.median();
      if (precision != nets::Precision::kFp32 && fp32_median > 0)
        row["speedup_vs_fp32"] = fp32_median / alone.median();
      rows.push_back(row);
    }
    if (!ranks) continue;
    group->barrier();  // the other ranks idle while rank 0 times the baseline
    c.world_size = o.dist.world_size;
    train::validate_config(c);
    if (lead && progress)
      progress(what + ", " + std::to_string(o.dist.world_size) + " ranks x " +
               std::to_string(rank_threads) + " threads ...");
    torch::set_num_threads(rank_threads);
    const Timing shared = time_steps(run, c, group.get());
    if (lead) {
      nlohmann::json row = row_of(precision_name, shared, o.dist.world_size);
      row["speedup_vs_1_rank"] = alone.median() / shared.median();
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace bcp::bench
