#include "bcp/analysis/html_report.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "bcp/analysis/gnuplot.h"
#include "bcp/analysis/overlay.h"
#include "bcp/analysis/png.h"
#include "bcp/analysis/run_record.h"
#include "bcp/data/label_values.h"
#include "bcp/data/recipe.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/h5.h"
#include "bcp/util/error_message.h"
#include "bcp/util/subprocess.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace bcp::analysis {
namespace {

std::string esc(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

double num(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>()
                                                                : std::nan("");
}

// Typed lookups that fall back to `fallback` for a missing key, another type or a non-object:
// a hand-edited or foreign metrics.json must not abort the whole page.
std::string str_at(const json& j, const char* key, const std::string& fallback = "") {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                : fallback;
}
int64_t int_at(const json& j, const char* key, int64_t fallback = 0) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>()
                                                                        : fallback;
}
const json& obj_at(const json& j, const char* key) {
  static const json empty = json::object();
  return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : empty;
}

/// The four metrics of a scores object as table cells: Dice % | Jaccard % | 95HD | ASD.
std::string score_cells(const json& s) {
  return "<td>" + fixed(100 * num(s, "dice"), 2) + "</td><td>" + fixed(100 * num(s, "jaccard"), 2) +
         "</td><td>" + fixed(num(s, "hd95"), 2) + "</td><td>" + fixed(num(s, "asd"), 2) + "</td>";
}

std::string class_name(const json& config, int64_t cls) {
  const std::string dataset = str_at(config, "dataset");
  const int64_t k = int_at(obj_at(config, "data"), "num_classes");
  static const char* kAcdc[] = {"", "RV", "Myo", "LV"};
  if (dataset == "acdc" && k == 4 && cls >= 1 && cls <= 3) return kAcdc[cls];
  if (dataset == "la" && k == 2 && cls == 1) return "LA";
  return "class " + std::to_string(cls);
}

/// One run with the name it is shown under (unique within the page).
struct ShownRun {
  RunRecord record;
  std::string label;
};

class Page {
 public:
  explicit Page(const ReportOptions& o) : o_(o) {}

  void plot(const LinePlot& p) {
    std::string svg;
    try {
      svg = render_plot(p, PlotFormat::kSvg, 640, 360);
    } catch (const std::exception& e) {
      if (util::find_program("gnuplot").empty()) throw;  // nothing would draw: say so once
      note("plot '" + p.title + "' not drawn: " + util::error_message(e));
      return;
    }
    html_ << "<img class=\"plot\" alt=\"" << esc(p.title) << "\" src=\"data:image/svg+xml;base64,"
          << base64(svg) << "\">\n";
    ++summary_.plots;
  }
  void picture(const RgbImage& image, const std::string& alt) {
    html_ << "<img class=\"pic\" alt=\"" << esc(alt) << "\" src=\"data:image/png;base64,"
          << base64(encode_png(image)) << "\">";
    ++summary_.pictures;
  }
  void note(const std::string& text) {
    summary_.notes.push_back(text);
    html_ << "<p class=\"note\">" << esc(text) << "</p>\n";
  }

  void curves(const std::vector<ShownRun>& runs) {
    std::vector<std::string> stages;
    for (const auto& r : runs)
      for (const auto& s : r.record.stages)
        if (std::find(stages.begin(), stages.end(), s.stage) == stages.end())
          stages.push_back(s.stage);
    if (stages.empty()) return;
    html_ << "<h2>Training curves</h2>\n";
    for (const auto& stage : stages) {
      html_ << "<h3>" << esc(stage) << "</h3>\n<div class=\"row\">\n";
      LinePlot loss{stage + ": training loss", "iteration", "loss", {}};
      LinePlot mean{stage + ": validation mean Dice", "iteration", "Dice", {}};
      mean.ymin = 0;
      mean.ymax = 1;
      size_t classes = 0;
      for (size_t i = 0; i < runs.size(); ++i)
        for (const auto& s : runs[i].record.stages) {
          if (s.stage != stage) continue;
          const std::string color = palette_color(i);
          if (!s.loss.x.empty()) loss.series.push_back({runs[i].label, s.loss.x, s.loss.y, color});
          if (!s.mean_dice.x.empty())
            mean.series.push_back({runs[i].label, s.mean_dice.x, s.mean_dice.y, color});
          classes = std::max(classes, s.dice.size());
        }
      if (!loss.series.empty()) plot(loss);
      if (!mean.series.empty()) plot(mean);
      // One run: its classes on one plot; several: one plot per class, runs as the series.
      if (runs.size() == 1) {
        LinePlot per{stage + ": validation Dice per class", "iteration", "Dice", {}};
        per.ymin = 0;
        per.ymax = 1;
        for (const auto& s : runs[0].record.stages)
          if (s.stage == stage)
            for (size_t c = 0; c < s.dice.size(); ++c)
              per.series.push_back({class_name(runs[0].record.config, static_cast<int64_t>(c + 1)),
                                    s.dice[c].x, s.dice[c].y,
                                    class_color_hex(static_cast<int64_t>(c + 1))});
        if (!per.series.empty()) plot(per);
      } else {
        for (size_t c = 0; c < classes; ++c) {
          LinePlot per{stage + ": validation Dice, " +
                           class_name(runs[0].record.config, static_cast<int64_t>(c + 1)),
                       "iteration",
                       "Dice",
                       {}};
          per.ymin = 0;
          per.ymax = 1;
          for (size_t i = 0; i < runs.size(); ++i)
            for (const auto& s : runs[i].record.stages)
              if (s.stage == stage && c < s.dice.size())
                per.series.push_back({runs[i].label, s.dice[c].x, s.dice[c].y, palette_color(i)});
          if (!per.series.empty()) plot(per);
        }
      }
      html_ << "</div>\n";
    }
  }

  /// What compares runs at a glance: validation mean Dice over all stages on one axis (a
  /// stage's iterations continue where the previous stage ended) and the final evaluations.
  void summary(const std::vector<ShownRun>& runs) {
    LinePlot all{"validation mean Dice, all stages (iterations counted across stages)",
                 "iteration",
                 "Dice",
                 {}};
    all.ymin = 0;
    all.ymax = 1;
    size_t stages = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
      Series sr{runs[i].label, {}, {}, palette_color(i)};
      double offset = 0;
      for (const auto& st : runs[i].record.stages) {
        for (size_t k = 0; k < st.mean_dice.x.size(); ++k) {
          sr.x.push_back(offset + st.mean_dice.x[k]);
          sr.y.push_back(st.mean_dice.y[k]);
        }
        double last = 0;
        if (!st.loss.x.empty()) last = std::max(last, st.loss.x.back());
        if (!st.mean_dice.x.empty()) last = std::max(last, st.mean_dice.x.back());
        offset += last;
      }
      stages = std::max(stages, runs[i].record.stages.size());
      if (!sr.x.empty()) all.series.push_back(std::move(sr));
    }
    bool evaluated = false;
    for (const auto& r : runs) evaluated = evaluated || r.record.evaluation.is_object();
    if ((runs.size() < 2 && stages < 2) || (all.series.empty() && !evaluated)) return;
    html_ << "<h2>Summary</h2>\n";
    if (!all.series.empty()) plot(all);
    if (evaluated) {
      html_ << "<table>\n<tr><th>run</th><th>checkpoint</th><th>Dice %</th><th>Jaccard %</th>"
               "<th>95HD</th><th>ASD</th><th>unit</th></tr>\n";
      for (const auto& r : runs) {
        // best.h5 was selected on the list it is scored on; last.h5 was not: both, always.
        for (const auto& [file, e] :
             {std::pair<const char*, const json&>{"best.h5", r.record.evaluation},
              {"last.h5", r.record.evaluation_last}}) {
          if (!e.is_object()) continue;
          html_ << "<tr><td>" << esc(r.label) << "</td><td>" << file << "</td>"
                << score_cells(obj_at(e, "mean")) << "<td>" << esc(str_at(e, "unit"))
                << "</td></tr>\n";
        }
      }
      html_ << "</table>\n";
    }
  }

  void ablations(const std::vector<AblationRecord>& tables) {
    for (const auto& a : tables) {
      html_ << "<h2>Ablation: " << esc(a.dir) << "</h2>\n<table>\n<tr><th>run</th>";
      std::vector<std::string> keys;
      for (const auto& row : a.rows)
        if (row.contains("settings") && row["settings"].is_object())
          for (const auto& [k, v] : row["settings"].items())
            if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
      for (const auto& k : keys) html_ << "<th>" << esc(k) << "</th>";
      html_ << "<th>best val Dice %</th><th>Dice %</th><th>Jaccard %</th><th>95HD</th><th>ASD</th>"
               "<th>last Dice %</th><th>last 95HD</th><th>seconds</th></tr>\n";
      for (const auto& row : a.rows) {
        html_ << "<tr><td>" << esc(row["run"].get<std::string>()) << "</td>";
        for (const auto& k : keys) {
          const json& s = obj_at(row, "settings");
          html_ << "<td>"
                << esc(s.contains(k) ? (s[k].is_string() ? s[k].get<std::string>() : s[k].dump())
                                     : "")
                << "</td>";
        }
        const double best = num(row, "best_val_dice");
        html_ << "<td>" << (best >= 0 ? fixed(100 * best, 2) : "-") << "</td>";
        if (row.contains("final")) {
          html_ << score_cells(row["final"]);
        } else {
          html_ << "<td>-</td><td>-</td><td>-</td><td>-</td>";
        }
        if (row.contains("final_last") && row["final_last"].is_object()) {
          const json& l = row["final_last"];
          html_ << "<td>" << fixed(100 * num(l, "dice"), 2) << "</td><td>"
                << fixed(num(l, "hd95"), 2) << "</td>";
        } else {
          html_ << "<td>-</td><td>-</td>";
        }
        html_ << "<td>" << fixed(num(row, "seconds"), 1) << "</td></tr>\n";
      }
      html_ << "</table>\n";
    }
  }

  void evaluation(const std::vector<ShownRun>& runs) {
    bool any = false;
    for (const auto& r : runs) any = any || r.record.evaluation.is_object();
    if (!any) return;
    html_ << "<h2>Final evaluation</h2>\n";
    for (const auto& r : runs) {
      const json& e = r.record.evaluation;
      if (!e.is_object()) continue;
      const std::string unit = str_at(e, "unit", "voxels");
      html_ << "<h3>" << esc(r.label) << "</h3>\n<table>\n<tr><th>class</th><th>Dice %</th>"
            << "<th>Jaccard %</th><th>95HD (" << esc(unit) << ")</th><th>ASD (" << esc(unit)
            << ")</th></tr>\n";
      auto row = [&](const std::string& name, const json& s, const std::string& color) {
        html_ << "<tr><td>";
        if (!color.empty())
          html_ << "<span class=\"swatch\" style=\"background:" << color << "\"></span>";
        html_ << esc(name) << "</td>" << score_cells(s) << "</tr>\n";
      };
      if (e.contains("per_class") && e["per_class"].is_object())
        for (const auto& [k, s] : e["per_class"].items()) {
          int64_t cls = 0;
          try {
            cls = std::stoll(k);
          } catch (const std::exception&) {
          }
          row(class_name(r.record.config, cls), s, cls > 0 ? class_color_hex(cls) : "");
        }
      row("mean", obj_at(e, "mean"), "");
      if (r.record.evaluation_last.is_object())
        row("mean, last.h5 (the rows above: best.h5)", obj_at(r.record.evaluation_last, "mean"),
            "");
      html_ << "</table>\n";
      if (e.contains("empty") && e["empty"].is_object() &&
          (int_at(e["empty"], "pred") > 0 || int_at(e["empty"], "ref") > 0))
        html_ << "<p class=\"note\">" << int_at(e["empty"], "pred")
              << " case-class pairs with an empty prediction, " << int_at(e["empty"], "ref")
              << " with an empty reference: " << esc(str_at(e["empty"], "convention")) << "</p>\n";
      if (e.contains("cases") && e["cases"].is_array()) {
        html_ << "<details><summary>per case</summary>\n<table>\n<tr><th>case</th><th>class</th>"
                 "<th>Dice %</th><th>Jaccard %</th><th>95HD</th><th>ASD</th></tr>\n";
        for (const auto& c : e["cases"])
          html_ << "<tr><td>" << esc(str_at(c, "case")) << "</td><td>"
                << esc(class_name(r.record.config, int_at(c, "class"))) << "</td>" << score_cells(c)
                << "</tr>\n";
        html_ << "</table>\n</details>\n";
      }
    }
  }

  void pictures(const std::vector<ShownRun>& runs) {
    bool header = false;
    for (const auto& r : runs) {
      const json& e = r.record.evaluation;
      if (!e.is_object() || !e.contains("cases") || !e["cases"].is_array() || e["cases"].empty())
        continue;
      if (!header) {
        html_
            << "<h2>Validation cases: best, median, worst</h2>\n<p>Each slice: reference "
               "(left) and prediction (right), class outlines in the colours of the tables.</p>\n";
        header = true;
      }
      html_ << "<h3>" << esc(r.label) << "</h3>\n";
      run_pictures(r);
    }
  }

  void configs(const std::vector<ShownRun>& runs) {
    html_ << "<h2>Configs</h2>\n";
    for (const auto& r : runs) {
      html_ << "<details><summary>" << esc(r.label) << " (" << esc(r.record.dir)
            << ")</summary>\n<pre>"
            << esc(r.record.config.is_null() ? std::string("no config.json")
                                             : r.record.config.dump(2))
            << "</pre></details>\n";
    }
  }

  std::string html_text() const { return html_.str(); }
  std::ostringstream& raw() { return html_; }
  ReportSummary& summary() { return summary_; }

 private:
  void run_pictures(const ShownRun& r) {
    const json& e = r.record.evaluation;
    // Mean Dice of each case over its classes, then best, median and worst.
    std::map<std::string, std::pair<double, int>> sums;
    std::vector<std::string> order;
    for (const auto& c : e["cases"]) {
      const std::string name = str_at(c, "case");
      if (!sums.count(name)) order.push_back(name);
      auto& s = sums[name];
      const double d = num(c, "dice");
      if (std::isfinite(d)) {
        s.first += d;
        s.second += 1;
      }
    }
    // Cases without a finite Dice rank last (-1): the sort needs a strict weak order.
    std::vector<std::pair<double, std::string>> ranked;
    for (const auto& name : order)
      ranked.push_back({sums[name].second ? sums[name].first / sums[name].second : -1.0, name});
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::pair<std::string, size_t>> picks = {
        {"best", 0}, {"median", ranked.size() / 2}, {"worst", ranked.size() - 1}};
    const json& source = obj_at(e, "source");
    const std::string root = !o_.data_root.empty() ? o_.data_root : str_at(source, "data_root");
    if (root.empty()) {
      note(r.label + ": no pictures: its evaluation names no data root (give --data)");
      return;
    }
    const json& config = r.record.config;
    const std::string dataset =
        config.is_object() ? str_at(config, "dataset") : str_at(source, "dataset");
    if (dataset != "acdc" && dataset != "la") {
      note(r.label + ": no pictures: unknown dataset '" + dataset + "'");
      return;
    }
    int64_t classes = 0, channels = 1;
    bool ignore_label = false;
    if (config.is_object() && config.contains("data")) {
      classes = int_at(config["data"], "num_classes");
      channels = int_at(config["data"], "channels", 1);
      const json& ignore =
          config["data"].contains("ignore_label") ? config["data"]["ignore_label"] : json(false);
      ignore_label = ignore.is_boolean() && ignore.get<bool>();
    }
    const data::Dataset recipe = util::parse_enum<data::Dataset>(dataset);
    if (classes < 2) classes = data::recipe_of(recipe).default_classes;
    std::set<size_t> shown;
    for (const auto& [what, index] : picks) {
      if (!shown.insert(index).second) continue;
      const std::string name = ranked[index].second;
      if (name.empty() || name.find('/') != std::string::npos ||
          name.find("..") != std::string::npos) {
        note(r.label + ": case name '" + name + "' refused (it would leave the folders)");
        continue;
      }
      const fs::path pred_file = fs::path(r.record.dir) / "eval" / "predictions" / (name + ".h5");
      try {
        if (!fs::exists(pred_file))
          throw std::runtime_error(pred_file.string() + ": no such prediction");
        torch::Tensor pred = io::read_h5(pred_file.string(), "pred");
        data::Sample s =
            data::load_volume(recipe, root, name, {classes - 1, ignore_label}, channels);
        torch::Tensor image = channels > 1 ? s.image.select(0, 0) : s.image;
        // Unannotated voxels are drawn as background: they have no contour of their own.
        torch::Tensor label = s.label.masked_fill(~data::annotated(s.label), 0);
        if (pred.sizes() != label.sizes())
          throw std::runtime_error(pred_file.string() +
                                   ": prediction shape differs from the reference");
        if (data::recipe_of(recipe).layout == data::FileLayout::kVolumes) {
          // (X, Y, Z) volumes: show axial slices
          image = image.permute({2, 0, 1});
          label = label.permute({2, 0, 1});
          pred = pred.permute({2, 0, 1});
        }
        const int scale =
            std::max<int>(1, static_cast<int>(256 / std::max<int64_t>(1, image.size(2))));
        html_ << "<div class=\"case\"><p><b>" << what << "</b>: " << esc(name) << ", mean Dice "
              << fixed(100 * ranked[index].first, 2) << " %</p><div class=\"row\">";
        for (int64_t z : pick_slices(label, o_.slices)) {
          html_ << "<figure>";
          picture(hconcat({contour_overlay(image[z], label[z], scale),
                           contour_overlay(image[z], pred[z], scale)}),
                  name + " slice " + std::to_string(z));
          html_ << "<figcaption>slice " << z << "</figcaption></figure>";
        }
        html_ << "</div></div>\n";
      } catch (const std::exception& ex) {
        note(r.label + ": no pictures of " + name + ": " + util::error_message(ex));
      }
    }
  }

  const ReportOptions& o_;
  std::ostringstream html_;
  ReportSummary summary_;
};

const char* kStyle = R"(<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h3{font-size:15px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}.row{display:flex;flex-wrap:wrap;gap:12px}
.plot{width:640px;height:360px}.note{color:#8a4b00}figure{margin:0}
figcaption{font-size:12px;color:#555}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
pre{background:#f7f7f7;padding:8px;font-size:12px;max-height:400px;overflow:auto}
</style>
)";

// Counts the images the browser could decode, so a headless browser's DOM says whether the page
// really loaded (tests read these attributes back).
const char* kLoadCheck = R"(<script>
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; ++i) if (imgs[i].complete && imgs[i].naturalWidth > 0) ++ok;
  document.body.setAttribute('data-images-total', String(imgs.length));
  document.body.setAttribute('data-images-loaded', String(ok));
});
</script>
)";

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

ReportSummary write_html_report(const ReportOptions& options) {
  if (options.runs.empty()) throw std::invalid_argument("report: no run folders given");
  if (options.out_path.empty()) throw std::invalid_argument("report: no output file given");
  if (options.slices < 1) throw std::invalid_argument("report: --slices must be >= 1");
  std::vector<ShownRun> runs;
  std::vector<AblationRecord> tables;
  for (const auto& dir : options.runs) {
    if (is_ablation_dir(dir)) {
      tables.push_back(read_ablation(dir));
      for (const auto& run_dir : tables.back().run_dirs)
        if (fs::exists(fs::path(run_dir) / "metrics.jsonl") ||
            fs::exists(fs::path(run_dir) / "eval" / "metrics.json"))
          runs.push_back({read_run(run_dir), ""});
    } else {
      runs.push_back({read_run(dir), ""});
    }
  }
  // Labels: folder names, made unique by the parent folder when two runs share one.
  std::map<std::string, int> seen;
  for (const auto& r : runs) ++seen[r.record.name];
  for (auto& r : runs) {
    r.label = r.record.name;
    if (seen[r.record.name] > 1)
      r.label = fs::absolute(r.record.dir).lexically_normal().parent_path().filename().string() +
                "/" + r.record.name;
  }

  Page page(options);
  auto& out = page.raw();
  std::vector<std::string> skipped;
  for (const auto& r : runs)
    if (r.record.skipped_lines)
      skipped.push_back(r.label + ": " + std::to_string(r.record.skipped_lines) +
                        " metrics.jsonl line(s) were not JSON (cut by a kill) and were skipped");
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
      << esc(options.title) << "</title>\n"
      << kStyle << kLoadCheck << "</head>\n<body>\n<h1>" << esc(options.title) << "</h1>\n<p>"
      << runs.size() << " run" << (runs.size() == 1 ? "" : "s") << ", made by bcp " << utc_now()
      << ":</p>\n<ul>\n";
  for (const auto& r : runs)
    out << "<li><b>" << esc(r.label) << "</b>: " << esc(r.record.dir) << "</li>\n";
  out << "</ul>\n";
  for (const auto& text : skipped) page.note(text);
  page.summary(runs);
  page.ablations(tables);
  page.curves(runs);
  page.evaluation(runs);
  page.pictures(runs);
  page.configs(runs);
  out << "</body>\n</html>\n";

  const fs::path target(options.out_path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  io::write_file_atomically(options.out_path, page.html_text());
  ReportSummary summary = page.summary();
  summary.runs = static_cast<int>(runs.size());
  return summary;
}

}  // namespace bcp::analysis
