#include "bcp/eval/score_report.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "bcp/io/atomic_file.h"
#include "bcp/io/label_volume.h"
#include "bcp/io/nifti.h"

namespace bcp::eval {
namespace fs = std::filesystem;

namespace {

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

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_label_file(const fs::path& p) {
  const std::string name = lower(p.filename().string());
  auto ends = [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".h5") || ends(".hdf5") || io::is_itk_volume_path(name);
}

// "patient002_frame01.nii.gz" -> "patient002_frame01".
std::string case_name_of(const std::string& file_name) {
  const std::string l = lower(file_name);
  for (const char* ext : {".nii.gz", ".hdf5", ".h5", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"}) {
    const std::string e(ext);
    if (l.size() > e.size() && l.compare(l.size() - e.size(), e.size(), e) == 0)
      return file_name.substr(0, file_name.size() - e.size());
  }
  return file_name;
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

}  // namespace

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
    cases.push_back(std::move(row));
  }
  nlohmann::json per_class = nlohmann::json::object();
  for (const auto& [cls, s] : per_class_mean(report))
    per_class[std::to_string(cls)] = scores_to_json(s);
  return {{"unit", report.unit},
          {"cases", std::move(cases)},
          {"per_class", std::move(per_class)},
          {"mean", scores_to_json(overall_mean(report))}};
}

void write_report(const ScoreReport& report, const std::string& json_path) {
  const fs::path json_file(json_path);
  if (json_path.empty() || lower(json_file.extension().string()) == ".csv")
    throw std::invalid_argument("write_report: the JSON path '" + json_path +
                                "' must not be empty or end in .csv (the CSV goes beside it)");
  fs::path csv_file = json_file;
  csv_file.replace_extension(".csv");
  if (json_file.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(json_file.parent_path(), ec);
    if (ec)
      throw std::runtime_error(json_file.parent_path().string() +
                               ": cannot create folder: " + ec.message());
  }
  std::ostringstream csv;
  csv << "case,class,dice,jaccard,hd95,asd\n";
  for (const auto& c : report.cases)
    csv << csv_field(c.case_name) << ',' << c.cls << ',' << number(c.scores.dice) << ','
        << number(c.scores.jaccard) << ',' << number(c.scores.hd95) << ',' << number(c.scores.asd)
        << '\n';
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
  return os.str();
}

ScoreReport score_mask_dirs(const ScoreDirsOptions& options) {
  for (const auto* dir : {&options.pred_dir, &options.ref_dir}) {
    const char* what = dir == &options.pred_dir ? "prediction" : "reference";
    if (!fs::is_directory(*dir)) throw std::runtime_error(*dir + ": " + what + " folder not found");
  }
  if (options.num_classes != 0 && options.num_classes < 2)
    throw std::invalid_argument("number of classes must be at least 2 (background + one), got " +
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

  ScoreReport report;
  bool unit_set = false;
  std::string first_file;
  int64_t max_label = 0;
  std::vector<std::pair<std::string, std::vector<BinaryScores>>> scored;
  for (const auto& f : files) {
    const std::string pred_path = f.string();
    const std::string ref_path = (fs::path(options.ref_dir) / f.filename()).string();
    const io::LabelVolume pred = io::read_label_volume(pred_path);
    const io::LabelVolume ref = io::read_label_volume(ref_path);
    if (pred.labels.sizes() != ref.labels.sizes())
      throw std::invalid_argument("shape mismatch: " + pred_path + " is " +
                                  shape_text(pred.labels) + " but " + ref_path + " is " +
                                  shape_text(ref.labels));
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
        for (int64_t k = 0; k < rank; ++k)
          if (std::abs(pred.spacing[k] - ref.spacing[k]) > 1e-3 * ref.spacing[k])
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

    const int64_t local_max = std::max(pred.labels.numel() ? pred.labels.max().item<int64_t>() : 0,
                                       ref.labels.numel() ? ref.labels.max().item<int64_t>() : 0);
    if (options.num_classes != 0 && local_max > options.num_classes - 1) {
      const bool in_pred = pred.labels.numel() && pred.labels.max().item<int64_t>() == local_max;
      throw std::invalid_argument((in_pred ? pred_path : ref_path) + ": label " +
                                  std::to_string(local_max) +
                                  " is above K-1 = " + std::to_string(options.num_classes - 1) +
                                  " (K = " + std::to_string(options.num_classes) + " classes)");
    }
    max_label = std::max(max_label, local_max);
    const int k = options.num_classes != 0 ? options.num_classes
                                           : static_cast<int>(std::max<int64_t>(2, local_max + 1));
    scored.emplace_back(case_name_of(f.filename().string()),
                        per_class_scores(pred.labels, ref.labels, k, spacing));
  }
  // Classes a case lacks entirely score 0 there (BCP convention), so padding is exact.
  const int k = options.num_classes != 0 ? options.num_classes
                                         : static_cast<int>(std::max<int64_t>(2, max_label + 1));
  for (auto& [name, per_class] : scored)
    for (int cls = 1; cls < k; ++cls)
      report.cases.push_back(
          {name, cls,
           cls - 1 < static_cast<int>(per_class.size()) ? per_class[cls - 1] : BinaryScores{}});
  return report;
}

}  // namespace bcp::eval
