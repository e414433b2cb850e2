#include "bcp/eval/evaluate.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "bcp/data/acdc.h"
#include "bcp/data/case_list.h"
#include "bcp/data/label_values.h"
#include "bcp/data/recipe.h"
#include "bcp/eval/binary_metrics.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/h5.h"
#include "bcp/io/input_path.h"
#include "bcp/io/nifti.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/compute_copy.h"
#include "bcp/nets/model_archive.h"
#include "bcp/util/device.h"
#include "bcp/util/error_message.h"

namespace bcp::eval {
namespace fs = std::filesystem;

namespace {

/// Puts a module back into the mode it had, whatever happens in between.
class ModeGuard {
 public:
  explicit ModeGuard(torch::nn::Module& m) : module_(m), was_training_(m.is_training()) {}
  ~ModeGuard() { module_.train(was_training_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

torch::Device model_device(nets::SegmentationNetImpl& model) {
  for (const auto& p : model.parameters()) return p.device();
  return torch::kCPU;
}

void check_dataset_fits(nets::SegmentationNetImpl& model, data::Dataset dataset) {
  const int64_t want = data::recipe_of(dataset).spatial_dims;
  if (model.spatial_dims() != want)
    throw std::invalid_argument("evaluate: dataset \"" + std::string(util::name_of(dataset)) +
                                "\" needs a " + std::to_string(want) + "D network, got a " +
                                std::to_string(model.spatial_dims()) + "D " +
                                std::string(util::name_of(model.config().arch)));
}

}  // namespace

Predictor model_predictor(nets::SegmentationNetImpl& model, nets::Precision precision,
                          bool channels_last) {
  const auto device = model_device(model);
  const bool bf16 = precision == nets::Precision::kBf16;
  // A 3-D network stays plain in fp32: LibTorch 1.13 runs 3-D convolutions in NCDHW only, so a
  // channels-last copy would add a reorder around every one.
  const bool fp32_channels_last =
      !bf16 && channels_last && device.is_cpu() && model.spatial_dims() == 2;
  if (bf16 || fp32_channels_last) {
    // Built once and owned by the predictor; it takes the model's weights and mode now.
    auto copy =
        std::make_shared<nets::ComputeCopy>(model, bf16 ? torch::kBFloat16 : torch::kFloat32);
    copy->pull();
    return [copy](const torch::Tensor& x) { return copy->forward(x); };
  }
  return [&model, device](const torch::Tensor& x) {
    return model.forward(x.to(device, torch::kFloat));
  };
}

namespace {

/// The dataset's protocol on one image with a ready predictor (eval mode and no-grad set).
torch::Tensor run_protocol(nets::SegmentationNetImpl& model, const Predictor& predictor,
                           const torch::Tensor& image, const ModelEvaluateOptions& options,
                           torch::Tensor* probabilities = nullptr) {
  auto input = image.to(model_device(model), torch::kFloat);
  torch::Tensor labels;
  if (data::recipe_of(options.dataset).eval == data::EvalKind::kSliceWise) {
    labels = acdc_predict_volume(input, predictor, options.acdc, probabilities);
  } else {
    LaProtocolOptions la = options.la;
    la.num_classes = model.config().num_classes;
    labels = la_predict_volume(input, predictor, la, probabilities);
  }
  if (probabilities) *probabilities = probabilities->to(torch::kCPU);
  return labels.to(torch::kCPU);
}

}  // namespace

torch::Tensor predict_case(nets::SegmentationNetImpl& model, const Predictor& predictor,
                           const torch::Tensor& image, const ModelEvaluateOptions& options,
                           torch::Tensor* probabilities) {
  check_dataset_fits(model, options.dataset);
  return run_protocol(model, predictor, image, options, probabilities);
}

ModelEvaluateOptions evaluate_options(const EvalProtocol& protocol) {
  validate(protocol);
  ModelEvaluateOptions o;
  o.dataset = protocol.dataset;
  o.acdc.size = protocol.acdc_slice;
  o.la.window.patch = protocol.la_patch;
  o.la.window.stride = protocol.la_stride;
  o.la.largest_component = protocol.largest_component;
  o.ignore_label = protocol.ignore_label;
  return o;
}

ModelEvaluateOptions checkpoint_protocol(const nlohmann::json& meta,
                                         const nets::ModelConfig& config) {
  return evaluate_options(checkpoint_eval_protocol(meta, config));
}

torch::Tensor predict_case(nets::SegmentationNetImpl& model, const torch::Tensor& image,
                           const ModelEvaluateOptions& options) {
  check_dataset_fits(model, options.dataset);
  ModeGuard mode(model);
  model.eval();
  torch::NoGradGuard no_grad;
  return run_protocol(model, model_predictor(model, options.precision, options.channels_last),
                      image, options);
}

std::string write_prediction(const std::string& dir, const std::string& case_name,
                             const torch::Tensor& labels, data::Dataset dataset,
                             MaskFormat format) {
  fs::create_directories(dir);
  auto pred = labels.to(torch::kCPU, torch::kUInt8).contiguous();
  const std::string path =
      (fs::path(dir) / (case_name + "." + std::string(util::name_of(format)))).string();
  if (format == MaskFormat::kH5) {
    io::write_h5_atomically(path, {{"pred", pred}});
  } else {
    // write_volume maps tensor axes to NIfTI axes reversed; the authors' LA files (nibabel) keep
    // the array's X, Y, Z as NIfTI i, j, k, so reverse them first to get the same file.
    io::write_volume(path, data::recipe_of(dataset).layout == data::FileLayout::kVolumes
                               ? pred.permute({2, 1, 0}).contiguous()
                               : pred);
  }
  return path;
}

namespace {

/// Predicts one case with a ready predictor, scores it into `report` and saves its mask.
void score_case(nets::SegmentationNetImpl& model, const Predictor& predictor, const data::Sample& c,
                const ModelEvaluateOptions& options, ScoreReport& report) {
  torch::Tensor pred;
  try {
    // Multi-channel images carry their channels first; the label has the spatial axes only.
    if (!c.label.defined() || c.image.dim() < c.label.dim() ||
        c.label.sizes() != c.image.sizes().slice(c.image.dim() - c.label.dim())) {
      throw std::invalid_argument("label shape does not match the image shape");
    }
    pred = run_protocol(model, predictor, c.image, options);
  } catch (const c10::Error& e) {
    throw std::runtime_error("evaluate: case " + c.name + ": " + e.what_without_backtrace());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("evaluate: case " + c.name + ": " + util::error_message(e));
  }
  const int num_classes = static_cast<int>(model.config().num_classes);
  const torch::Tensor ref = c.label.to(torch::kCPU);
  const auto scored = case_scores(c.name, pred, ref, num_classes, {},
                                  options.ignore_label ? ~data::annotated(ref) : torch::Tensor());
  report.cases.insert(report.cases.end(), scored.begin(), scored.end());
  if (!options.predictions_dir.empty())
    write_prediction(options.predictions_dir, c.name, pred, options.dataset,
                     options.prediction_format);
}

}  // namespace

ScoreReport evaluate_model(nets::SegmentationNetImpl& model, const std::vector<data::Sample>& cases,
                           const ModelEvaluateOptions& options) {
  check_dataset_fits(model, options.dataset);
  ModeGuard mode(model);
  model.eval();
  torch::NoGradGuard no_grad;
  // Once for all cases.
  const Predictor predictor = model_predictor(model, options.precision, options.channels_last);
  ScoreReport report;
  report.unit = "voxels";
  for (size_t i = 0; i < cases.size(); ++i) {
    score_case(model, predictor, cases[i], options, report);
    if (options.progress) options.progress(cases[i].name, i, cases.size());
  }
  return report;
}

namespace {

/// An older predictions/ is replaced only when it is evaluate's: a metrics.json with evaluate's
/// "source" record beside it. A folder `bcp predict --out OUT/predictions` wrote, or the user's,
/// is refused before any work; a link is removed, never followed (it loses nothing).
void check_old_predictions(const fs::path& out) {
  const fs::path dir = out / "predictions";
  std::error_code ec;
  const auto st = fs::symlink_status(dir, ec);
  if (!fs::exists(st) || fs::is_symlink(st)) return;
  bool ours = false;
  try {
    std::ifstream in(out / "metrics.json");
    ours = in && nlohmann::json::parse(in).at("source").contains("list");
  } catch (const std::exception&) {
    ours = false;
  }
  if (!ours)
    throw std::runtime_error(dir.string() +
                             ": exists, but no metrics.json of bcp evaluate is beside it; evaluate "
                             "replaces only its own predictions (name another --out, or move it)");
}

}  // namespace

ScoreReport evaluate(const EvaluateOptions& options) {
  // Every input is checked before the (possibly long) run starts.
  if (options.model_path.empty())
    throw std::invalid_argument("evaluate: no checkpoint given (--model)");
  if (fs::exists(options.model_path)) io::check_not_folder_or_pth(options.model_path);
  if (!fs::is_regular_file(options.model_path))
    throw std::runtime_error("evaluate: checkpoint not found: " + options.model_path);
  if (options.data_root.empty() || !fs::is_directory(options.data_root))
    throw std::runtime_error("evaluate: data root not found: " + options.data_root);
  if (options.out_dir.empty())
    throw std::invalid_argument("evaluate: no output folder given (--out)");
  if (options.window_batch < 1)
    throw std::invalid_argument("evaluate: window batch must be >= 1, got " +
                                std::to_string(options.window_batch));
  const torch::Device device = util::parse_device(options.device, "evaluate");
  check_old_predictions(options.out_dir);

  const auto archive = io::load_tensor_archive(options.model_path);
  auto model = nets::model_from_archive(archive, options.model_prefix, options.model_path);
  const auto config = model->config();
  EvalProtocol protocol;
  try {
    protocol = checkpoint_eval_protocol(archive.meta, config);
  } catch (const std::exception& e) {
    throw std::runtime_error(options.model_path + ": " + util::error_message(e));
  }
  if (options.dataset) protocol.dataset = *options.dataset;
  const data::Dataset dataset = protocol.dataset;
  check_dataset_fits(*model, dataset);

  const std::string list_path = io::file_in_root(options.data_root, options.list_name);
  if (!fs::is_regular_file(list_path))
    throw std::runtime_error("evaluate: case list not found: " + list_path);
  const auto names = data::read_case_list(list_path);
  std::vector<std::string> paths;
  for (const auto& name : names) {
    auto p = data::volume_path(dataset, options.data_root, name);
    if (!fs::is_regular_file(p)) throw std::runtime_error("evaluate: case file not found: " + p);
    paths.push_back(p);
  }

  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;
  ModelEvaluateOptions mopt = evaluate_options(protocol);
  mopt.la.window.window_batch = options.window_batch;
  // Masks go to predictions.incomplete/ and take their final name only with metrics.json, so a
  // run that stops half-way never leaves a predictions/ folder that looks complete.
  const fs::path final_predictions = fs::path(options.out_dir) / "predictions";
  const fs::path staged_predictions = fs::path(options.out_dir) / "predictions.incomplete";
  if (options.save_predictions) {
    fs::remove_all(staged_predictions);
    mopt.predictions_dir = staged_predictions.string();
  }
  mopt.prediction_format = options.prediction_format;
  mopt.precision = options.precision;
  mopt.channels_last = options.channels_last;
  fs::create_directories(options.out_dir);
  // An older run's results go first: if this one fails, none of them remains looking like its.
  for (const char* old : {"metrics.json", "metrics.csv"})
    fs::remove(fs::path(options.out_dir) / old);
  fs::remove_all(final_predictions);  // a link is removed, never followed

  // One volume in memory at a time: LA volumes are large.
  const Predictor predictor = model_predictor(*model, mopt.precision, mopt.channels_last);
  ScoreReport report;
  report.unit = "voxels";
  report.source = {{"model", fs::absolute(options.model_path).lexically_normal().string()},
                   {"data_root", fs::absolute(options.data_root).lexically_normal().string()},
                   {"list", options.list_name},
                   {"dataset", std::string(util::name_of(dataset))}};
  for (size_t i = 0; i < names.size(); ++i) {
    const data::LabelValues values{config.num_classes - 1, mopt.ignore_label};
    data::Sample sample =
        data::load_volume(dataset, options.data_root, names[i], values, config.in_channels);
    score_case(*model, predictor, sample, mopt, report);
    if (options.progress) options.progress(names[i], i, names.size());
  }
  if (options.save_predictions) {
    fs::create_directories(staged_predictions);  // also when the list was empty
    io::commit_directory(staged_predictions.string(), final_predictions.string());
  }
  write_report(report, (fs::path(options.out_dir) / "metrics.json").string());
  return report;
}

}  // namespace bcp::eval
