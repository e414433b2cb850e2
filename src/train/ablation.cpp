#include "bcp/train/ablation.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "bcp/io/atomic_file.h"
#include "bcp/io/json_file.h"
#include "bcp/io/output_path.h"
#include "bcp/train/run_folder.h"
#include "bcp/train/seed_summary.h"
#include "bcp/train/trainer.h"
#include "bcp/train/training_set.h"
#include "bcp/util/error_message.h"
#include "bcp/util/text_table.h"

namespace bcp::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string folder_name(const std::vector<std::pair<std::string, std::string>>& settings) {
  std::string name;
  for (const auto& [key, value] : settings) {
    if (!name.empty()) name += "__";
    name += key + "=" + value;
  }
  for (char& ch : name) {
    const bool safe = std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' ||
                      ch == '=' || ch == '-' || ch == '+';
    if (!safe) ch = '_';
  }
  return name;
}

json plan_to_json(const TrainConfig& base, const std::vector<AblationAxis>& axes) {
  json a = json::array();
  for (const auto& axis : axes) a.push_back({{"key", axis.key}, {"values", axis.values}});
  return {{"base", config_to_json(base)}, {"axes", a}};
}

/// Fills the numbers of `row` from what train() returned (or a finished run's result.json).
FinalScores scores_of(const json& metrics) {
  FinalScores f;
  f.evaluated = metrics.is_object() && metrics.contains("mean");
  if (f.evaluated) {
    const json& mean = metrics.at("mean");
    f.dice = mean.at("dice").get<double>();
    f.jaccard = mean.at("jaccard").get<double>();
    f.hd95 = mean.at("hd95").get<double>();
    f.asd = mean.at("asd").get<double>();
  }
  return f;
}

void fill_row(AblationRow& row, const json& result) {
  const json& stages = result.at("stages");
  if (!stages.empty()) row.best_val_dice = stages.back().at("best_dice").get<double>();
  row.seconds = result.at("seconds").get<double>();
  row.best = scores_of(result.at("final_metrics"));
  // Results written before last.h5 was evaluated have no "final_metrics_last".
  row.last = scores_of(result.value("final_metrics_last", json()));
}

json result_to_json(const TrainResult& r) {
  json stages = json::array();
  for (const auto& s : r.stages)
    stages.push_back({{"stage", s.stage},
                      {"iterations", s.iterations},
                      {"best_dice", s.best_dice},
                      {"best_iteration", s.best_iteration},
                      {"seconds", s.seconds}});
  return {{"stages", stages},
          {"final_metrics", r.final_metrics},
          {"final_metrics_last", r.final_metrics_last},
          {"seconds", r.seconds}};
}

json scores_json(const FinalScores& f) {
  return {{"dice", f.dice}, {"jaccard", f.jaccard}, {"hd95", f.hd95}, {"asd", f.asd}};
}

std::string fixed2(double v) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << v;
  return os.str();
}

}  // namespace

AblationAxis parse_vary(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw std::invalid_argument("--vary expects key=value,value,..., got '" + text + "'");
  AblationAxis axis;
  axis.key = text.substr(0, eq);
  std::string current;
  int depth = 0;
  bool quoted = false;
  for (size_t i = eq + 1; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '"') quoted = !quoted;
    if (!quoted && (ch == '[' || ch == '{')) ++depth;
    if (!quoted && (ch == ']' || ch == '}')) --depth;
    if (ch == ',' && depth == 0 && !quoted) {
      axis.values.push_back(current);
      current.clear();
    } else {
      current += ch;
    }
  }
  axis.values.push_back(current);
  for (const auto& v : axis.values)
    if (v.empty()) throw std::invalid_argument("--vary '" + text + "': an empty value");
  if (depth != 0 || quoted)
    throw std::invalid_argument("--vary '" + text + "': unbalanced brackets or quotes");
  return axis;
}

std::vector<AblationRun> plan_ablation(const TrainConfig& base,
                                       const std::vector<AblationAxis>& axes) {
  if (axes.empty()) throw std::invalid_argument("ablation: nothing to vary (give --vary key=a,b)");
  std::set<std::string> keys;
  for (const auto& axis : axes) {
    if (!keys.insert(axis.key).second)
      throw std::invalid_argument("ablation: --vary " + axis.key + " is given twice");
    if (axis.values.empty())
      throw std::invalid_argument("ablation: --vary " + axis.key + " has no values");
  }
  std::vector<AblationRun> runs(1);
  runs[0].config = base;
  for (const auto& axis : axes) {
    std::vector<AblationRun> next;
    for (const auto& run : runs)
      for (const auto& value : axis.values) {
        AblationRun r = run;
        r.settings.emplace_back(axis.key, value);
        try {
          apply_override(r.config, axis.key + "=" + value);
        } catch (const std::exception& e) {
          throw std::invalid_argument("ablation: --vary " + axis.key + "=" + value + ": " +
                                      util::error_message(e));
        }
        next.push_back(std::move(r));
      }
    runs = std::move(next);
  }
  std::set<std::string> names;
  for (auto& r : runs) {
    r.name = folder_name(r.settings);
    // Checked now: a name the file system refuses would fail only after the runs before it.
    constexpr size_t kMaxName = 255;
    if (r.name.size() > kMaxName)
      throw std::invalid_argument("ablation: the folder name of run " + r.name.substr(0, 60) +
                                  "... is " + std::to_string(r.name.size()) +
                                  " bytes, more than the " + std::to_string(kMaxName) +
                                  " a file name may have; vary fewer keys or shorter values");
    try {
      validate_config(r.config);
    } catch (const std::exception& e) {
      throw std::invalid_argument("ablation: run " + r.name + ": " + util::error_message(e));
    }
    if (!names.insert(r.name).second)
      throw std::invalid_argument("ablation: two runs would share the folder " + r.name);
  }
  return runs;
}

std::vector<AblationRow> run_ablation(const AblationOptions& o) {
  const std::vector<AblationRun> runs = plan_ablation(o.base, o.axes);
  if (o.out_dir.empty()) throw std::invalid_argument("ablation: no output folder given (--out)");
  const fs::path out(o.out_dir);
  const fs::path plan_path = out / "plan.json";
  const json plan = plan_to_json(o.base, o.axes);
  if (fs::exists(plan_path)) {
    if (!o.resume)
      throw std::runtime_error(plan_path.string() +
                               ": this folder already holds an ablation; pass --resume to continue "
                               "it or give another --out");
    // The stored base is read as a config first: keys added since (with their defaults) compare
    // equal, so an ablation started by an older bcp resumes.
    json stored = io::read_json_file(plan_path.string());
    try {
      if (stored.is_object() && stored.contains("base"))
        stored["base"] = config_to_json(config_from_json(stored["base"]));
    } catch (const std::exception&) {
      // A base that no longer reads differs from this one: refused below.
    }
    if (stored != plan)
      throw std::invalid_argument(plan_path.string() +
                                  ": --resume with another grid or base config than this "
                                  "ablation's; give another --out");
  } else if (o.resume && fs::exists(out)) {
    throw std::runtime_error(plan_path.string() + ": nothing to resume (no ablation plan)");
  }
  // Every grid point's data is read and checked before the first run starts (once per distinct
  // data setting): a bad list or case of the last point must not surface after hours of the first.
  std::set<std::string> checked;
  for (const auto& r : runs) {
    const json c = config_to_json(r.config);
    if (!checked.insert(json{c.at("dataset"), c.at("data"), c.at("eval")}.dump()).second) continue;
    try {
      (void)load_training_set(r.config, o.data_root);
      (void)load_validation_set(r.config, o.data_root);
    } catch (const std::exception& e) {
      throw std::runtime_error("ablation: run " + r.name + ": " + util::error_message(e));
    }
  }
  fs::create_directories(out);
  io::write_file_atomically(plan_path.string(), plan.dump(2) + "\n");

  std::vector<AblationRow> rows;
  for (size_t i = 0; i < runs.size(); ++i) {
    AblationRow row;
    row.run = runs[i];
    const fs::path dir = out / runs[i].name;
    const fs::path result_path = dir / "result.json";
    if (o.resume && fs::exists(result_path)) {
      const json result = io::read_json_file(result_path.string());  // its errors name it
      try {
        fill_row(row, result);
      } catch (const std::exception& e) {
        throw std::runtime_error(result_path.string() + ": not a result of bcp ablate (" +
                                 util::error_message(e) +
                                 "); remove it to run this grid point again");
      }
      row.finished = row.reused = true;
      rows.push_back(row);
      continue;
    }
    if (o.echo) std::printf("ablation run %zu/%zu: %s\n", i + 1, runs.size(), runs[i].name.c_str());
    TrainOptions t;
    t.config = runs[i].config;
    t.data_root = o.data_root;
    t.out_dir = io::make_dir_inside(out, runs[i].name).string();
    // An interrupted run continues where it stopped; one stopped before its first checkpoint
    // kept nothing, and train's --resume starts it over.
    t.resume = o.resume && !first_run_file(dir.string()).empty();
    t.echo = o.echo;
    t.final_evaluation = o.final_evaluation;
    t.stop_after = o.stop_after;
    const TrainResult r = train(t);
    const json result = result_to_json(r);
    fill_row(row, result);
    row.finished = !r.interrupted;
    if (row.finished) io::write_file_atomically(result_path.string(), result.dump(2) + "\n");
    rows.push_back(row);
  }
  io::write_file_atomically((out / "ablation.csv").string(), ablation_to_csv(rows, o.axes));
  io::write_file_atomically((out / "ablation.json").string(),
                            ablation_to_json(rows).dump(2) + "\n");
  const std::vector<SeedSummary> seeds = summarize_seeds(rows);
  if (!seeds.empty())
    io::write_file_atomically((out / "ablation_seeds.json").string(),
                              seed_summaries_to_json(seeds).dump(2) + "\n");
  return rows;
}

json ablation_to_json(const std::vector<AblationRow>& rows) {
  json out = json::array();
  for (const auto& r : rows) {
    json settings = json::object();
    for (const auto& [k, v] : r.run.settings) settings[k] = v;
    json row = {{"run", r.run.name},
                {"settings", settings},
                {"best_val_dice", r.best_val_dice},
                {"seconds", r.seconds},
                {"finished", r.finished}};
    if (r.best.evaluated) row["final"] = scores_json(r.best);
    if (r.last.evaluated) row["final_last"] = scores_json(r.last);
    out.push_back(row);
  }
  return out;
}

std::string ablation_to_csv(const std::vector<AblationRow>& rows,
                            const std::vector<AblationAxis>& axes) {
  std::ostringstream os;
  os << "run";
  for (const auto& a : axes) os << ',' << a.key;
  os << ",best_val_dice,dice,jaccard,hd95,asd,last_dice,last_jaccard,last_hd95,last_asd,seconds,"
        "finished\n";
  for (const auto& r : rows) {
    os << r.run.name;
    for (const auto& s : r.run.settings)
      os << ','
         << (s.second.find_first_of(",\"") == std::string::npos ? s.second : json(s.second).dump());
    os << ',' << r.best_val_dice;
    for (const FinalScores* f : {&r.best, &r.last}) {
      if (f->evaluated)
        os << ',' << f->dice << ',' << f->jaccard << ',' << f->hd95 << ',' << f->asd;
      else
        os << ",,,,";
    }
    os << ',' << r.seconds << ',' << (r.finished ? 1 : 0) << '\n';
  }
  return os.str();
}

std::string format_ablation_table(const std::vector<AblationRow>& rows,
                                  const std::vector<AblationAxis>& axes) {
  std::vector<std::string> header;
  for (const auto& a : axes) header.push_back(a.key);
  // best.h5's four means, then last.h5's Dice and 95HD (the CSV and JSON have all of both).
  for (const char* h :
       {"val Dice %", "Dice %", "Jaccard %", "95HD", "ASD", "last Dice %", "last 95HD", "minutes"})
    header.push_back(h);
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (const auto& s : r.run.settings) line.push_back(s.second);
    line.push_back(r.best_val_dice >= 0 ? fixed2(100.0 * r.best_val_dice) : "-");
    const FinalScores& b = r.best;
    if (b.evaluated)
      line.insert(line.end(), {fixed2(100.0 * b.dice), fixed2(100.0 * b.jaccard), fixed2(b.hd95),
                               fixed2(b.asd)});
    else
      line.insert(line.end(), {"-", "-", "-", "-"});
    if (r.last.evaluated)
      line.insert(line.end(), {fixed2(100.0 * r.last.dice), fixed2(r.last.hd95)});
    else
      line.insert(line.end(), {"-", "-"});
    line.push_back(fixed2(r.seconds / 60.0) + (r.finished ? "" : " (stopped)"));
    cells.push_back(line);
  }
  return util::format_columns(header, cells);
}

}  // namespace bcp::train
