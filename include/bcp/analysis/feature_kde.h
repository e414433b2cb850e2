// `bcp kde`: the paper's feature-distribution analysis (the authors' KDE_demo.py). BCP argues that
// pasting in both directions brings the features of unlabeled images close to those of labeled
// ones; this measures it: per class, the decoder's last feature map (averaged over channels) at
// pixels that are that class and predicted as it, labeled against unlabeled training images, as
// two Gaussian kernel densities, their overlap and a Kolmogorov-Smirnov distance.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace bcp::analysis {

/// Scott's rule as scipy's gaussian_kde applies it in one dimension (std with ddof 1, times
/// n^(-1/5)), times `adjust` (seaborn's bw_adjust; the paper's figures use 0.5). Throws
/// std::invalid_argument for fewer than 2 samples or a zero spread.
double scott_bandwidth(const std::vector<double>& samples, double adjust = 1.0);
/// The Gaussian kernel density of `samples` (kernel standard deviation `bandwidth`) at `grid`.
std::vector<double> gaussian_kde(const std::vector<double>& samples, double bandwidth,
                                 const std::vector<double>& grid);
/// Integral of min(f, g) over `grid` (trapezoid rule): 1 for equal densities, 0 for disjoint.
double overlap_coefficient(const std::vector<double>& f, const std::vector<double>& g,
                           const std::vector<double>& grid);
/// Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs.
double ks_statistic(std::vector<double> a, std::vector<double> b);

struct KdeOptions {
  std::string model_path;  ///< a training checkpoint (best.h5, last.h5): its config names the split
  std::string data_root;   ///< the dataset it was trained on
  std::string out_dir;     ///< kde.json and one kde_class<C>.png per class (created)
  std::vector<int64_t> classes;  ///< empty: every foreground class
  int64_t batch = 24;            ///< labeled and unlabeled training slices (LA: volumes) drawn
  int64_t max_pixels = 500;      ///< pixels kept per class and side
  double bw_adjust = 0.5;        ///< times Scott's bandwidth
  uint64_t seed = 1337;
  std::string device = "cpu";
  bool plots = true;  ///< draw the PNGs (gnuplot)
};

/// Runs the analysis, writes out_dir/kde.json (and the plots) and returns what kde.json holds.
/// Throws std::runtime_error naming the file for a checkpoint without a training config, a bad
/// root, or a class outside the network's.
nlohmann::json run_kde(const KdeOptions& options);

}  // namespace bcp::analysis
