// `bcp bench infer`: predict_case (the protocol `bcp evaluate` runs) on one volume per precision;
// labels of every other precision are compared with fp32's voxel by voxel.
#include <torch/cuda.h>
#include <torch/torch.h>

#include <stdexcept>

#include "bcp/bench/bench.h"
#include "bcp/eval/evaluate.h"
#include "bcp/eval/sliding_window.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/model_archive.h"
#include "bcp/train/config.h"
#include "bcp/util/device.h"
#include "bench_data.h"

namespace bcp::bench {

std::vector<nlohmann::json> bench_infer(const InferBenchOptions& o, const Progress& progress) {
  const torch::Device device = util::parse_device(o.common.device, "bench");
  set_threads(o.common.threads);
  if (o.window_batch < 1) throw std::invalid_argument("bench infer: window batch must be >= 1");
  const data::Sample volume = bench_volume(o.dataset, o.common.data_root, o.case_name);
  std::shared_ptr<nets::SegmentationNetImpl> model;
  if (!o.model_path.empty()) {
    model = nets::model_from_archive(io::load_tensor_archive(o.model_path), "", o.model_path);
  } else {
    torch::manual_seed(0);
    model = nets::make_model({train::arch_for(o.dataset), 1,
                              o.dataset == data::Dataset::kAcdc ? data::kAcdcNumClasses : 2});
  }
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;

  eval::ModelEvaluateOptions mo;
  mo.dataset = o.dataset;
  mo.la.window.window_batch = o.window_batch;
  int64_t windows = volume.image.size(0);  // ACDC: one network input per slice
  std::vector<int64_t> warm_shape{volume.image.size(0), 1, mo.acdc.size, mo.acdc.size};
  if (o.dataset == data::Dataset::kLa) {
    const auto& w = mo.la.window;
    windows = static_cast<int64_t>(
        eval::sliding_window_grid(
            {volume.image.size(0), volume.image.size(1), volume.image.size(2)}, w.patch, w.stride)
            .starts.size());
    warm_shape = {std::min(o.window_batch, windows), 1, w.patch[0], w.patch[1], w.patch[2]};
  }

  std::vector<nlohmann::json> rows;
  torch::Tensor fp32_labels;
  double fp32_median = 0;
  for (const nets::Precision precision : o.common.precisions) {
    const std::string precision_name(util::name_of(precision));
    if (progress)
      progress("infer " + std::string(util::name_of(o.dataset)) + " " + precision_name + " ...");
    mo.precision = precision;
    reset_peak_memory();
    // Warm-up: one network call of the protocol's shape (oneDNN builds its kernels on first use).
    const auto warm = torch::zeros(warm_shape, torch::TensorOptions().device(device));
    const eval::Predictor warm_predictor = eval::model_predictor(*model, precision);
    for (int i = 0; i < o.common.warmup; ++i) warm_predictor(warm);
    torch::Tensor labels;
    const Timing t = time_repeats(0, o.common.repeats, [&] {
      labels = eval::predict_case(*model, volume.image, mo);
      if (device.is_cuda()) torch::cuda::synchronize();
    });
    nlohmann::json row =
        common_row("infer", std::string(util::name_of(o.dataset)), precision_name, o.common, t);
    row["case"] = volume.name;
    row["shape"] = volume.image.sizes().vec();
    row["windows"] = windows;
    row["window_batch"] = o.dataset == data::Dataset::kLa ? o.window_batch : windows;
    row["seconds_per_volume"] = t.median();
    row["model"] = o.model_path.empty() ? "random-init" : o.model_path;
    if (precision == nets::Precision::kFp32) {
      fp32_labels = labels;
      fp32_median = t.median();
    } else if (fp32_labels.defined()) {
      row["label_agreement"] = labels.eq(fp32_labels).to(torch::kFloat64).mean().item<double>();
      row["speedup_vs_fp32"] = fp32_median / t.median();
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace bcp::bench
