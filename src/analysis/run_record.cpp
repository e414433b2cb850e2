#include "bcp/analysis/run_record.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <stdexcept>

#include "bcp/io/json_file.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace bcp::analysis {
namespace {

/// Per-stage maps from iteration to value, so repeated iterations keep their last record.
struct StageMaps {
  std::map<double, double> loss, mean_dice, mean_hd95;
  std::vector<std::map<double, double>> dice;
};

Curve to_curve(const std::map<double, double>& m) {
  Curve c;
  for (const auto& [x, y] : m) {
    c.x.push_back(x);
    c.y.push_back(y);
  }
  return c;
}

double number_or_nan(const json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

RunRecord read_run(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw std::runtime_error(dir + ": no such run folder");
  const fs::path jsonl = root / "metrics.jsonl";
  const fs::path eval = root / "eval" / "metrics.json";
  if (!fs::exists(jsonl) && !fs::exists(eval))
    throw std::runtime_error(
        dir + ": not a bcp run folder (neither metrics.jsonl nor eval/metrics.json)");
  RunRecord run;
  run.dir = dir;
  // "runs/a/" normalises to "runs/a/" with an empty filename: take the last non-empty part.
  for (const auto& part : fs::absolute(root).lexically_normal())
    if (!part.empty()) run.name = part.string();
  if (fs::exists(root / "config.json"))
    run.config = io::read_json_file((root / "config.json").string());
  if (fs::exists(eval)) run.evaluation = io::read_json_file(eval.string());
  const fs::path eval_last = root / "eval_last" / "metrics.json";
  if (fs::exists(eval_last)) run.evaluation_last = io::read_json_file(eval_last.string());

  std::vector<std::string> order;
  std::map<std::string, StageMaps> maps;
  if (fs::exists(jsonl)) {
    std::ifstream in(jsonl);
    if (!in) throw std::runtime_error(jsonl.string() + ": cannot open");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].empty()) continue;
      json rec;
      try {
        rec = json::parse(lines[i]);
      } catch (const json::parse_error&) {
        // A record cut short by a kill (older runs appended the resumed run's first record to
        // it): the run went on from its checkpoint, so the record's step was logged again.
        ++run.skipped_lines;
        continue;
      }
      if (!rec.is_object() || !rec.contains("stage") || !rec["stage"].is_string() ||
          !rec.contains("iteration") || !rec["iteration"].is_number())
        continue;
      const std::string stage = rec["stage"].get<std::string>();
      if (!maps.count(stage)) order.push_back(stage);
      StageMaps& m = maps[stage];
      const double it = rec["iteration"].get<double>();
      const std::string kind =
          rec.contains("kind") && rec["kind"].is_string() ? rec["kind"].get<std::string>() : "";
      if (kind == "step" && rec.contains("loss")) {
        m.loss[it] = number_or_nan(rec["loss"]);
      } else if (kind == "validation") {
        if (rec.contains("mean_dice")) m.mean_dice[it] = number_or_nan(rec["mean_dice"]);
        if (rec.contains("mean_hd95")) m.mean_hd95[it] = number_or_nan(rec["mean_hd95"]);
        if (rec.contains("dice") && rec["dice"].is_array()) {
          const auto& d = rec["dice"];
          if (m.dice.size() < d.size()) m.dice.resize(d.size());
          for (size_t c = 0; c < d.size(); ++c) m.dice[c][it] = number_or_nan(d[c]);
        }
      }
    }
  }
  for (const auto& stage : order) {
    const StageMaps& m = maps[stage];
    StageCurves s;
    s.stage = stage;
    s.loss = to_curve(m.loss);
    s.mean_dice = to_curve(m.mean_dice);
    s.mean_hd95 = to_curve(m.mean_hd95);
    for (const auto& d : m.dice) s.dice.push_back(to_curve(d));
    run.stages.push_back(std::move(s));
  }
  return run;
}

bool is_ablation_dir(const std::string& dir) {
  return fs::is_regular_file(fs::path(dir) / "ablation.json");
}

AblationRecord read_ablation(const std::string& dir) {
  const fs::path file = fs::path(dir) / "ablation.json";
  AblationRecord a;
  a.dir = dir;
  a.rows = io::read_json_file(file.string());
  if (!a.rows.is_array()) throw std::runtime_error(file.string() + ": expected a list of runs");
  for (const auto& row : a.rows) {
    if (!row.is_object() || !row.contains("run") || !row["run"].is_string())
      throw std::runtime_error(file.string() + ": a row without a \"run\" name");
    const std::string name = row["run"].get<std::string>();
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos)
      throw std::runtime_error(file.string() + ": run name '" + name +
                               "' would leave the ablation folder");
    a.run_dirs.push_back((fs::path(dir) / name).string());
  }
  return a;
}

}  // namespace bcp::analysis
