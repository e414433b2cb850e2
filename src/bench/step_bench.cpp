// `bcp bench step`: the trainer's own step function (train::take_step) with its sampler, on data
// held in memory, once per precision.
#include <torch/cuda.h>
#include <torch/optim/sgd.h>

#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>

#include "bcp/bench/bench.h"
#include "bcp/data/two_stream_sampler.h"
#include "bcp/train/config.h"
#include "bcp/train/step_prefetcher.h"
#include "bcp/train/steps.h"
#include "bcp/train/training_set.h"
#include "bcp/util/device.h"
#include "bench_data.h"

namespace bcp::bench {

std::vector<nlohmann::json> bench_step(const StepBenchOptions& o, const Progress& progress) {
  if (o.stage != "pretrain" && o.stage != "selftrain")
    throw std::invalid_argument("bench step: stage must be pretrain or selftrain, got \"" +
                                o.stage + "\"");
  train::TrainConfig c = train::preset(o.dataset, 5, o.method);
  c.device = o.common.device;
  const torch::Device device = util::parse_device(o.common.device, "bench");
  set_threads(o.common.threads);
  const std::string stage = o.method == train::Method::kBcp ? o.stage : "train";
  const train::TrainingSet set = bench_training_set(c, o.common.data_root);
  std::vector<int64_t> labeled(static_cast<size_t>(set.labeled)), unlabeled;
  std::iota(labeled.begin(), labeled.end(), 0);
  for (int64_t i = set.labeled; i < set.size(); ++i) unlabeled.push_back(i);
  const bool uses_unlabeled = o.method != train::Method::kSupervised && stage != "pretrain";
  const bool uses_teacher = uses_unlabeled;

  std::vector<nlohmann::json> rows;
  double fp32_median = 0;
  for (const nets::Precision precision : o.common.precisions) {
    const std::string precision_name(util::name_of(precision));
    c.precision = precision;
    train::validate_config(c);
    if (progress)
      progress("step " + std::string(util::name_of(o.dataset)) + " " +
               std::string(util::name_of(o.method)) + " " + stage + " " + precision_name + " ...");
    torch::manual_seed(c.seed);
    auto student = nets::make_model(train::model_config_for(c));
    student->to(device);
    std::shared_ptr<nets::SegmentationNetImpl> teacher;
    if (uses_teacher) {
      teacher = student->clone_net(device);
      for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    }
    torch::optim::SGD opt = train::make_optimizer(*student, c);
    data::TwoStreamSampler sampler(labeled, uses_unlabeled ? unlabeled : std::vector<int64_t>{},
                                   c.batch.labeled, uses_unlabeled ? c.batch.unlabeled : 0, c.seed);
    std::mt19937_64 rng(c.seed);
    train::StageContext ctx{c, set, device, *student, teacher.get(), opt, rng};
    train::ComputeCopies copies = train::make_compute_copies(c, *student, teacher.get());
    copies.attach(ctx);
    const train::StepKind kind = train::step_kind(c, stage);
    int64_t iteration = 0;
    reset_peak_memory();
    train::StepPrefetcher prefetcher(c, set, kind, sampler, rng);
    const Timing t = time_repeats(o.common.warmup, o.common.repeats, [&] {
      train::take_step(ctx, kind, prefetcher.next(), iteration++);
      if (device.is_cuda()) torch::cuda::synchronize();
    });
    nlohmann::json row =
        common_row("step", std::string(util::name_of(o.dataset)), precision_name, o.common, t);
    row["method"] = o.method;
    row["stage"] = stage;
    row["batch"] = {c.batch.labeled, uses_unlabeled ? c.batch.unlabeled : 0};
    row["patch"] = c.data.patch;
    if (precision == nets::Precision::kFp32) fp32_median = t.median();
    if (precision != nets::Precision::kFp32 && fp32_median > 0)
      row["speedup_vs_fp32"] = fp32_median / t.median();
    rows.push_back(row);
  }
  return rows;
}

}  // namespace bcp::bench
