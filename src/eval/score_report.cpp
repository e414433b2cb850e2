#include "bcp/eval/score_report.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "bcp/data/nnunet.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/json_file.h"
#include "bcp/io/label_volume.h"
#include "bcp/io/nifti.h"
#include "bcp/io/volume_format.h"
#include "bcp/io/volume_geometry.h"
#include "bcp/util/text.h"

namespace bcp::eval {
namespace fs = std::filesystem;

namespace {

constexpr const char* kEmptyConvention =
    "BCP scores an empty prediction or reference 0 on all four metrics, so their 95HD 0 and ASD "
    "0 mean nothing to measure, not a perfect match (flags per case in the JSON and CSV)";

nlohmann::json scores_to_json(const BinaryScores& s) {
  return {{"dice", s.dice}, {"jaccard", s.jaccard}, {"hd95", s.hd95}, {"asd", s.asd}};
}

// Shortest text that reads back to the same double.
std::string number(double v) {
  std::string text;
  for (int precision = 15; precision <= std::numeric_limits<double>::max_digits10; ++precision) {
    std::ostringstream os;
    os << std::setprecision(precision) << v;
    text = os.str();
    if (!std::isfinite(v) || std::stod(text) == v) break;
  }
  return text;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

bool is_label_file(const fs::path& p) {
  return io::volume_format(p.filename().string()) != io::VolumeFormat::kUnknown;
}

// "patient002_frame01.nii.gz" -> "patient002_frame01".
std::string case_name_of(const std::string& file_name) {
  return io::volume_stem(file_name);
}

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

std::string spacing_text(const std::vector<double>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + number(s[i]);
  return out;
}

/// The labels of an nnU-Net dataset.json in the reference folder or its parent (labelsTr/..); no
/// classes if there is none.
data::NnunetLabels labels_from_dataset_json(const std::string& ref_dir) {
  for (const fs::path& dir : {fs::path(ref_dir), fs::path(ref_dir).parent_path()}) {
    const fs::path meta_path = dir / "dataset.json";
    if (dir.empty() || !fs::is_regular_file(meta_path)) continue;
    const nlohmann::json meta = io::read_json_file(meta_path.string());
    return data::nnunet_labels(meta, meta_path.string());
  }
  return {};
}

/// Refuses to score two files that do not lie on the same grid in space: a flipped or shifted
/// mask would otherwise score as if aligned. Only files with an orientation (ITK formats) can be
/// compared; HDF5 files carry none.
void check_same_grid(const io::LabelVolume& pred, const std::string& pred_path,
                     const io::LabelVolume& ref, const std::string& ref_path) {
  if (pred.origin.empty() || ref.origin.empty()) return;
  const io::Volume a{torch::Tensor(), pred.spacing, pred.origin, pred.direction};
  const io::Volume b{torch::Tensor(), ref.spacing, ref.origin, ref.direction};
  if (!io::same_geometry(a, b))
    throw std::invalid_argument(
        "geometry mismatch: " + pred_path + " has " + io::geometry_text(a) + " but " + ref_path +
        " has " + io::geometry_text(b) +
        "; resample the prediction onto the reference grid first (bcp predict writes masks on "
        "their scan's grid)");
}

}  // namespace

std::vector<CaseScore> case_scores(const std::string& case_name, const torch::Tensor& pred_labels,
                                   const torch::Tensor& ref_labels, int num_classes,
                                   const std::vector<double>& spacing,
                                   const torch::Tensor& unannotated) {
  const bool partial = unannotated.defined();
  const torch::Tensor pred = partial ? pred_labels.masked_fill(unannotated, 0) : pred_labels;
  const torch::Tensor ref = partial ? ref_labels.masked_fill(unannotated, 0) : ref_labels;
  const auto scores = per_class_scores(pred, ref, num_classes, spacing);
  std::vector<CaseScore> out;
  for (int k = 1; k < num_classes; ++k) {
    CaseScore c{case_name, k, scores[static_cast<size_t>(k - 1)]};
    c.pred_empty = !(pred == k).any().item<bool>();
    c.ref_empty = !(ref == k).any().item<bool>();
    if (!(partial && c.pred_empty && c.ref_empty)) out.push_back(c);
  }
  return out;
}

EmptyCounts count_empty(const ScoreReport& report) {
  EmptyCounts n;
  for (const auto& c : report.cases) {
    n.pred += c.pred_empty;
    n.ref += c.ref_empty;
  }
  return n;
}

std::map<int, BinaryScores> per_class_mean(const ScoreReport& report) {
  std::map<int, BinaryScores> sum;
  std::map<int, int> count;
  for (const auto& c : report.cases) {
    BinaryScores& s = sum[c.cls];
    s.dice += c.scores.dice;
    s.jaccard += c.scores.jaccard;
    s.hd95 += c.scores.hd95;
    s.asd += c.scores.asd;
    ++count[c.cls];
  }
  for (auto& [cls, s] : sum) {
    const double n = count[cls];
    s = {s.dice / n, s.jaccard / n, s.hd95 / n, s.asd / n};
  }
  return sum;
}

BinaryScores overall_mean(const ScoreReport& report) {
  const auto per_class = per_class_mean(report);
  BinaryScores m;
  if (per_class.empty()) return m;
  for (const auto& [cls, s] : per_class) {
    m.dice += s.dice;
    m.jaccard += s.jaccard;
    m.hd95 += s.hd95;
    m.asd += s.asd;
  }
  const double n = static_cast<double>(per_class.size());
  return {m.dice / n, m.jaccard / n, m.hd95 / n, m.asd / n};
}

nlohmann::json report_to_json(const ScoreReport& report) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& c : report.cases) {
    nlohmann::json row = scores_to_json(c.scores);
    row["case"] = c.case_name;
    row["class"] = c.cls;
    row["pred_empty"] = c.pred_empty;
    row["ref_empty"] = c.ref_empty;
    cases.push_back(std::move(row));
  }
  const EmptyCounts empty = count_empty(report);
  nlohmann::json per_class = nlohmann::json::object();
  for (const auto& [cls, s] : per_class_mean(report))
    per_class[std::to_string(cls)] = scores_to_json(s);
  nlohmann::json j = {
      {"unit", report.unit},
      {"cases", std::move(cases)},
      {"per_class", std::move(per_class)},
      {"mean", scores_to_json(overall_mean(report))},
      {"empty", {{"pred", empty.pred}, {"ref", empty.ref}, {"convention", kEmptyConvention}}}};
  if (!report.source.empty()) j["source"] = report.source;
  if (!report.unscored_references.empty()) j["unscored_references"] = report.unscored_references;
  return j;
}

void write_report(const ScoreReport& report, const std::string& json_path) {
  const fs::path json_file(json_path);
  if (json_path.empty() || util::lower(json_file.extension().string()) == ".csv")
    throw std::invalid_argument("write_report: the JSON path '" + json_path +
                                "' must not be empty or end in .csv (the CSV goes beside it)");
  fs::path csv_file = json_file;
  csv_file.replace_extension(".csv");
  // Checked before the CSV is written: a folder in the way would fail only at the JSON.
  for (const fs::path& p : {json_file, csv_file})
    if (fs::is_directory(p))
      throw std::invalid_argument(p.string() + ": is a folder; the report needs a file name");
  if (json_file.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(json_file.parent_path(), ec);
    if (ec)
      throw std::runtime_error(json_file.parent_path().string() +
                               ": cannot create folder: " + ec.message());
  }
  std::ostringstream csv;
  csv << "case,class,dice,jaccard,hd95,asd,pred_empty,ref_empty\n";
  for (const auto& c : report.cases)
    csv << csv_field(c.case_name) << ',' << c.cls << ',' << number(c.scores.dice) << ','
        << number(c.scores.jaccard) << ',' << number(c.scores.hd95) << ',' << number(c.scores.asd)
        << ',' << c.pred_empty << ',' << c.ref_empty << '\n';
  io::write_file_atomically(csv_file.string(), csv.str());
  io::write_file_atomically(json_file.string(), report_to_json(report).dump(2) + "\n");
}

std::string format_table(const ScoreReport& report) {
  std::vector<std::string> names;
  for (const auto& c : report.cases)
    if (std::find(names.begin(), names.end(), c.case_name) == names.end())
      names.push_back(c.case_name);
  std::ostringstream os;
  os << names.size() << (names.size() == 1 ? " case" : " cases") << "; 95HD and ASD in "
     << report.unit << "\n";
  const std::string hd = "95HD (" + report.unit + ")", asd = "ASD (" + report.unit + ")";
  const int wide = static_cast<int>(std::max<size_t>(12, hd.size() + 2));
  os << std::left << std::setw(8) << "class" << std::right << std::setw(10) << "Dice %"
     << std::setw(12) << "Jaccard %" << std::setw(wide) << hd << std::setw(wide) << asd << "\n";
  auto row = [&](const std::string& label, const BinaryScores& s) {
    os << std::left << std::setw(8) << label << std::right << std::fixed << std::setprecision(2)
       << std::setw(10) << 100.0 * s.dice << std::setw(12) << 100.0 * s.jaccard << std::setw(wide)
       << s.hd95 << std::setw(wide) << s.asd << "\n";
  };
  for (const auto& [cls, s] : per_class_mean(report)) row(std::to_string(cls), s);
  row("mean", overall_mean(report));
  const EmptyCounts empty = count_empty(report);
  if (empty.pred > 0 || empty.ref > 0)
    os << "note: " << empty.pred << " case-class pairs with an empty prediction, " << empty.ref
       << " with an empty reference; " << kEmptyConvention << "\n";
  return os.str();
}

ScoreReport score_mask_dirs(const ScoreDirsOptions& options) {
  for (const auto* dir : {&options.pred_dir, &options.ref_dir}) {
    const char* what = dir == &options.pred_dir ? "prediction" : "reference";
    if (!fs::is_directory(*dir)) throw std::runtime_error(*dir + ": " + what + " folder not found");
  }
  if (options.num_classes != 0 && (options.num_classes < 2 || options.num_classes > 256))
    throw std::invalid_argument(
        "number of classes must be 2 (background + one) to 256 (one byte per label), got " +
        std::to_string(options.num_classes));
  for (double s : options.spacing)
    if (!(std::isfinite(s) && s > 0))
      throw std::invalid_argument("spacing values must be positive, got " +
                                  spacing_text(options.spacing));

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(options.pred_dir))
    if (entry.is_regular_file() && is_label_file(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw std::runtime_error(options.pred_dir +
                             ": no label files (.h5, .hdf5, .nii, .nii.gz, .nrrd, .nhdr, .mha, "
                             ".mhd) to score");
  // Check every counterpart before the (slow) scoring starts.
  for (const auto& f : files) {
    const fs::path ref = fs::path(options.ref_dir) / f.filename();
    if (!fs::exists(ref))
      throw std::runtime_error(f.string() + ": no reference file " + ref.string());
  }

  const data::NnunetLabels json_labels = labels_from_dataset_json(options.ref_dir);
  const int from_json = static_cast<int>(json_labels.class_names.size());
  if (options.num_classes != 0 && from_json != 0 && options.num_classes != from_json)
    throw std::invalid_argument("--classes " + std::to_string(options.num_classes) +
                                " contradicts the dataset.json of " + options.ref_dir + " (" +
                                std::to_string(from_json) + " classes)");
  const int k = options.num_classes != 0 ? options.num_classes : from_json;
  if (k == 0)
    throw std::invalid_argument(
        options.ref_dir +
        ": how many classes? give --classes K (including background: ACDC 4, LA 2), or keep an "
        "nnU-Net dataset.json beside the references; the largest label value is not a class count");

  ScoreReport report;
  // References without a prediction are not scored, but said: a half-finished prediction folder
  // must not read as complete.
  for (const auto& entry : fs::directory_iterator(options.ref_dir))
    if (entry.is_regular_file() && is_label_file(entry.path()) &&
        !fs::exists(fs::path(options.pred_dir) / entry.path().filename()))
      report.unscored_references.push_back(entry.path().filename().string());
  std::sort(report.unscored_references.begin(), report.unscored_references.end());
  bool unit_set = false;
  std::string first_file;
  for (const auto& f : files) {
    const std::string pred_path = f.string();
    const std::string ref_path = (fs::path(options.ref_dir) / f.filename()).string();
    const io::LabelVolume pred = io::read_label_volume(pred_path);
    const io::LabelVolume ref = io::read_label_volume(ref_path);
    if (pred.labels.sizes() != ref.labels.sizes())
      throw std::invalid_argument("shape mismatch: " + pred_path + " is " +
                                  shape_text(pred.labels) + " but " + ref_path + " is " +
                                  shape_text(ref.labels));
    check_same_grid(pred, pred_path, ref, ref_path);
    const int64_t rank = pred.labels.dim();

    std::vector<double> spacing;
    std::string unit = "voxels";
    if (!options.spacing.empty()) {
      if (static_cast<int64_t>(options.spacing.size()) != rank)
        throw std::invalid_argument("spacing " + spacing_text(options.spacing) + " has " +
                                    std::to_string(options.spacing.size()) + " values but " +
                                    pred_path + " is " + std::to_string(rank) + "D");
      spacing = options.spacing;
      unit = "mm";
    } else if (ref.spacing_from_header) {
      if (pred.spacing_from_header)
        for (int64_t d = 0; d < rank; ++d)
          if (std::abs(pred.spacing[d] - ref.spacing[d]) > 1e-3 * ref.spacing[d])
            throw std::invalid_argument("spacing mismatch: " + pred_path + " has " +
                                        spacing_text(pred.spacing) + " but " + ref_path + " has " +
                                        spacing_text(ref.spacing));
      spacing = ref.spacing;
      unit = "mm";
    }
    if (!unit_set) {
      report.unit = unit;
      first_file = ref_path;
      unit_set = true;
    } else if (unit != report.unit) {
      throw std::invalid_argument("mixed units: " + first_file + " gives " + report.unit + " but " +
                                  ref_path + " gives " + unit +
                                  "; pass --spacing to score all in one unit");
    }

    // dataset.json's "ignore": voxels nobody annotated, scored by no class.
    const torch::Tensor unknown =
        json_labels.ignore_value >= 0 ? ref.labels == json_labels.ignore_value : torch::Tensor();
    const torch::Tensor ref_classes =
        unknown.defined() ? ref.labels.masked_fill(unknown, 0) : ref.labels;
    for (const auto* v : {&pred.labels, &ref_classes}) {
      const int64_t top = v->numel() ? v->max().item<int64_t>() : 0;
      if (top > k - 1)
        throw std::invalid_argument((v == &pred.labels ? pred_path : ref_path) + ": label " +
                                    std::to_string(top) +
                                    " is above K-1 = " + std::to_string(k - 1) +
                                    " (K = " + std::to_string(k) + " classes)");
    }
    const auto scored = case_scores(case_name_of(f.filename().string()), pred.labels, ref.labels, k,
                                    spacing, unknown);
    report.cases.insert(report.cases.end(), scored.begin(), scored.end());
  }
  return report;
}

}  // namespace bcp::eval
