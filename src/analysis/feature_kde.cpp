#include "bcp/analysis/feature_kde.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <stdexcept>

#include "bcp/analysis/gnuplot.h"
#include "bcp/data/recipe.h"
#include "bcp/eval/evaluate.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/model_archive.h"
#include "bcp/train/config.h"
#include "bcp/train/training_set.h"
#include "bcp/util/device.h"
#include "bcp/util/rng.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace bcp::analysis {

double scott_bandwidth(const std::vector<double>& samples, double adjust) {
  const size_t n = samples.size();
  if (n < 2) throw std::invalid_argument("scott_bandwidth: needs at least 2 samples");
  const double mean = std::accumulate(samples.begin(), samples.end(), 0.0) / n;
  double ss = 0;
  for (double v : samples) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / static_cast<double>(n - 1));
  if (!(sd > 0)) throw std::invalid_argument("scott_bandwidth: the samples do not vary");
  return adjust * sd * std::pow(static_cast<double>(n), -0.2);
}

std::vector<double> gaussian_kde(const std::vector<double>& samples, double bandwidth,
                                 const std::vector<double>& grid) {
  if (samples.empty() || !(bandwidth > 0))
    throw std::invalid_argument("gaussian_kde: needs samples and a positive bandwidth");
  const double norm = 1.0 / (static_cast<double>(samples.size()) * bandwidth * std::sqrt(2 * M_PI));
  std::vector<double> density(grid.size(), 0.0);
  for (size_t i = 0; i < grid.size(); ++i) {
    double sum = 0;
    for (double s : samples) {
      const double z = (grid[i] - s) / bandwidth;
      sum += std::exp(-0.5 * z * z);
    }
    density[i] = sum * norm;
  }
  return density;
}

double overlap_coefficient(const std::vector<double>& f, const std::vector<double>& g,
                           const std::vector<double>& grid) {
  if (f.size() != grid.size() || g.size() != grid.size() || grid.size() < 2)
    throw std::invalid_argument("overlap_coefficient: f, g and grid must have one length >= 2");
  double area = 0;
  for (size_t i = 1; i < grid.size(); ++i)
    area += 0.5 * (std::min(f[i - 1], g[i - 1]) + std::min(f[i], g[i])) * (grid[i] - grid[i - 1]);
  return area;
}

double ks_statistic(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty())
    throw std::invalid_argument("ks_statistic: both samples must be non-empty");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  size_t i = 0, j = 0;
  double d = 0;
  // Step both CDFs past each distinct value, so ties move together.
  while (i < a.size() && j < b.size()) {
    const double v = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    d = std::max(d, std::abs(i / na - j / nb));
  }
  return d;
}

namespace {

/// Keeps `keep` elements of `all` drawn without replacement (partial Fisher-Yates with
/// util::uniform_int: the same draws with every standard library).
template <typename T>
void partial_shuffle(std::vector<T>& all, int64_t keep, std::mt19937_64& rng) {
  const int64_t n = static_cast<int64_t>(all.size());
  keep = std::min(keep, n);
  for (int64_t k = 0; k < keep; ++k)
    std::swap(all[static_cast<size_t>(k)], all[static_cast<size_t>(util::uniform_int(rng, k, n))]);
  all.resize(static_cast<size_t>(keep));
}

/// Channel-mean features at up to `max_pixels` pixels (drawn without replacement) where both
/// the prediction and the label are `cls`.
std::vector<double> class_features(const torch::Tensor& mean_features, const torch::Tensor& pred,
                                   const torch::Tensor& label, int64_t cls, int64_t max_pixels,
                                   std::mt19937_64& rng) {
  const auto values =
      mean_features.masked_select((pred == cls) & (label == cls)).to(torch::kFloat64).contiguous();
  std::vector<double> all(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
  if (static_cast<int64_t>(all.size()) > max_pixels) partial_shuffle(all, max_pixels, rng);
  return all;
}

json side_json(const std::vector<double>& v, double bandwidth) {
  json j = {{"pixels", v.size()}};
  if (!v.empty()) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    j["mean"] = mean;
    j["std"] = v.size() > 1 ? std::sqrt(ss / (v.size() - 1)) : 0.0;
  }
  if (bandwidth > 0) j["bandwidth"] = bandwidth;
  return j;
}

/// Features, predictions and labels of one batch drawn as training draws it.
struct Forward {
  torch::Tensor mean_features;  ///< (N, spatial...) channel mean of the last decoder features
  torch::Tensor pred;           ///< (N, spatial...) argmax
  torch::Tensor label;          ///< (N, spatial...)
};

Forward forward_batch(nets::SegmentationNetImpl& net, const train::TrainingSet& set,
                      const std::vector<int64_t>& indices, const train::TrainConfig& config,
                      std::mt19937_64& rng, const torch::Device& device) {
  const train::Batch b = train::make_batch(set, indices, config, rng);
  torch::NoGradGuard no_grad;
  const nets::SegmentationOutput out = net.forward_with_features(b.images.to(device));
  return {out.features.mean(1).cpu(), out.logits.argmax(1).cpu(), b.labels};
}

std::vector<int64_t> draw(int64_t begin, int64_t end, int64_t count, std::mt19937_64& rng) {
  std::vector<int64_t> all(static_cast<size_t>(end - begin));
  std::iota(all.begin(), all.end(), begin);
  partial_shuffle(all, count, rng);
  return all;
}

}  // namespace

json run_kde(const KdeOptions& o) {
  if (o.batch < 1) throw std::invalid_argument("kde: --batch must be >= 1");
  if (o.max_pixels < 2) throw std::invalid_argument("kde: --max-pixels must be >= 2");
  if (!(o.bw_adjust > 0 && std::isfinite(o.bw_adjust)))
    throw std::invalid_argument("kde: --bw-adjust must be finite and > 0");
  if (o.out_dir.empty()) throw std::invalid_argument("kde: no output folder given");
  const json meta = io::load_tensor_archive_meta(o.model_path);
  const json* saved = nets::checkpoint_config(meta);
  if (!saved)
    throw std::runtime_error(o.model_path +
                             ": no training config inside (kde needs a bcp training checkpoint, "
                             "e.g. RUN/best.h5: its config names the labeled split)");
  train::TrainConfig config = train::config_from_json(*saved);
  // Every method's checkpoint is compared on the same images: the labeled split and the
  // unlabeled rest (a supervised run never loaded the latter). LA volumes are large: only as
  // many unlabeled ones as are drawn.
  config.method = train::Method::kBcp;
  config.data.unlabeled =
      data::recipe_of(config.dataset).layout == data::FileLayout::kVolumes ? o.batch : -1;
  config.batch.unlabeled = 0;
  // Both samples drawn alike: foreground-centred labeled crops would bias the comparison.
  config.data.foreground_oversample = 0.0;
  const torch::Device device = util::parse_device(o.device, "kde");
  nets::LoadedModel loaded = nets::load_model(o.model_path);
  nets::SegmentationNetImpl& net = *loaded.model;
  net.to(device);
  net.eval();
  const train::TrainingSet set = train::load_training_set(config, o.data_root);
  if (set.labeled < 1 || set.size() - set.labeled < 1)
    throw std::runtime_error(o.data_root + ": kde needs labeled and unlabeled training cases");

  std::vector<int64_t> classes = o.classes;
  const int64_t k = loaded.config.num_classes;
  if (classes.empty())
    for (int64_t c = 1; c < k; ++c) classes.push_back(c);
  for (int64_t c : classes)
    if (c < 1 || c >= k)
      throw std::invalid_argument("kde: class " + std::to_string(c) +
                                  " is not a foreground class of " + o.model_path + " (1.." +
                                  std::to_string(k - 1) + ")");

  std::mt19937_64 rng(o.seed);
  const auto li = draw(0, set.labeled, o.batch, rng);
  const auto ui = draw(set.labeled, set.size(), o.batch, rng);
  const Forward fl = forward_batch(net, set, li, config, rng, device);
  const Forward fu = forward_batch(net, set, ui, config, rng, device);

  fs::create_directories(o.out_dir);
  json result = {{"model", fs::absolute(o.model_path).lexically_normal().string()},
                 {"data_root", fs::absolute(o.data_root).lexically_normal().string()},
                 {"dataset", config.dataset},
                 {"method", saved->value("method", "")},
                 {"labeled_cases", li.size()},
                 {"unlabeled_cases", ui.size()},
                 {"max_pixels", o.max_pixels},
                 {"bw_adjust", o.bw_adjust},
                 {"seed", o.seed},
                 {"feature", "channel mean of the last decoder features before the output conv"}};
  json rows = json::array();
  double overlap_sum = 0, ks_sum = 0;
  int measured = 0;
  for (int64_t c : classes) {
    const auto lv = class_features(fl.mean_features, fl.pred, fl.label, c, o.max_pixels, rng);
    const auto uv = class_features(fu.mean_features, fu.pred, fu.label, c, o.max_pixels, rng);
    json row = {{"class", c}};
    double bl = 0, bu = 0;
    try {
      bl = scott_bandwidth(lv, o.bw_adjust);
      bu = scott_bandwidth(uv, o.bw_adjust);
    } catch (const std::invalid_argument&) {
      row["labeled"] = side_json(lv, 0);
      row["unlabeled"] = side_json(uv, 0);
      row["note"] = "too few pixels (or no spread) predicted and labeled as this class";
      rows.push_back(row);
      continue;
    }
    const double lo =
        std::min(*std::min_element(lv.begin(), lv.end()), *std::min_element(uv.begin(), uv.end())) -
        3 * std::max(bl, bu);
    const double hi =
        std::max(*std::max_element(lv.begin(), lv.end()), *std::max_element(uv.begin(), uv.end())) +
        3 * std::max(bl, bu);
    std::vector<double> grid(512);
    for (size_t i = 0; i < grid.size(); ++i) grid[i] = lo + (hi - lo) * i / (grid.size() - 1);
    const auto dl = gaussian_kde(lv, bl, grid);
    const auto du = gaussian_kde(uv, bu, grid);
    row["labeled"] = side_json(lv, bl);
    row["unlabeled"] = side_json(uv, bu);
    row["overlap"] = overlap_coefficient(dl, du, grid);
    row["ks"] = ks_statistic(lv, uv);
    overlap_sum += row["overlap"].get<double>();
    ks_sum += row["ks"].get<double>();
    ++measured;
    if (o.plots) {
      LinePlot p;
      p.title = "class " + std::to_string(c) + ": overlap " +
                std::to_string(row["overlap"].get<double>()).substr(0, 5) + ", KS " +
                std::to_string(row["ks"].get<double>()).substr(0, 5);
      p.xlabel = "feature (channel mean)";
      p.ylabel = "density";
      p.series.push_back({"labeled", grid, dl, "#2ca02c", true});
      p.series.push_back({"unlabeled", grid, du, "#1f77b4", true});
      const std::string name = "kde_class" + std::to_string(c) + ".png";
      io::write_file_atomically((fs::path(o.out_dir) / name).string(),
                                render_plot(p, PlotFormat::kPng, 640, 400));
      row["plot"] = name;
    }
    rows.push_back(row);
  }
  result["classes"] = rows;
  if (measured) {
    result["mean_overlap"] = overlap_sum / measured;
    result["mean_ks"] = ks_sum / measured;
  }
  io::write_file_atomically((fs::path(o.out_dir) / "kde.json").string(), result.dump(2) + "\n");
  return result;
}

}  // namespace bcp::analysis
