#include "bcp/train/seed_summary.h"

#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bcp/util/text_table.h"

namespace bcp::train {

namespace {

constexpr const char* kSeedKey = "seed";

SeedStat stat_of(const std::vector<double>& v) {
  SeedStat s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

std::string cell(const SeedStat& s, double scale) {
  if (s.n == 0) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << scale * s.mean << " +- " << scale * s.sd << " ("
     << s.n << ")";
  return os.str();
}

nlohmann::json stat_json(const SeedStat& s) {
  return {{"mean", s.mean}, {"sd", s.sd}, {"n", s.n}};
}

nlohmann::json scores_json(const ScoreStats& s) {
  return {{"dice", stat_json(s.dice)},
          {"jaccard", stat_json(s.jaccard)},
          {"hd95", stat_json(s.hd95)},
          {"asd", stat_json(s.asd)}};
}

/// One checkpoint's four metrics over a point's seeds.
struct ScoreValues {
  std::vector<double> dice, jaccard, hd95, asd;
  void add(const FinalScores& f) {
    if (!f.evaluated) return;
    dice.push_back(f.dice);
    jaccard.push_back(f.jaccard);
    hd95.push_back(f.hd95);
    asd.push_back(f.asd);
  }
  ScoreStats stats() const {
    return {stat_of(dice), stat_of(jaccard), stat_of(hd95), stat_of(asd)};
  }
};

}  // namespace

std::vector<SeedSummary> summarize_seeds(const std::vector<AblationRow>& rows) {
  struct Values {
    std::vector<double> best_val, minutes;
    ScoreValues best, last;
  };
  std::vector<SeedSummary> out;
  std::vector<Values> values;
  bool varies_seed = false;
  for (const AblationRow& r : rows) {
    std::vector<std::pair<std::string, std::string>> settings;
    std::string seed;
    for (const auto& kv : r.run.settings) {
      if (kv.first == kSeedKey) {
        seed = kv.second;
        varies_seed = true;
      } else {
        settings.push_back(kv);
      }
    }
    if (!r.finished) continue;
    size_t i = 0;
    while (i < out.size() && out[i].settings != settings) ++i;
    if (i == out.size()) {
      out.push_back({settings, {}, {}, {}, {}, {}});
      values.emplace_back();
    }
    out[i].seeds.push_back(seed);
    Values& v = values[i];
    if (r.best_val_dice >= 0) v.best_val.push_back(r.best_val_dice);
    v.best.add(r.best);
    v.last.add(r.last);
    v.minutes.push_back(r.seconds / 60.0);
  }
  if (!varies_seed) return {};
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].best_val_dice = stat_of(values[i].best_val);
    out[i].best = values[i].best.stats();
    out[i].last = values[i].last.stats();
    out[i].minutes = stat_of(values[i].minutes);
  }
  return out;
}

std::string format_seed_table(const std::vector<SeedSummary>& summaries,
                              const std::vector<AblationAxis>& axes) {
  std::vector<std::string> header;
  for (const auto& a : axes)
    if (a.key != kSeedKey) header.push_back(a.key);
  for (const char* h : {"seeds", "val Dice %", "Dice %", "Jaccard %", "95HD", "ASD", "last Dice %",
                        "last 95HD", "minutes"})
    header.push_back(h);
  std::vector<std::vector<std::string>> cells;
  for (const SeedSummary& s : summaries) {
    std::vector<std::string> line;
    for (const auto& kv : s.settings) line.push_back(kv.second);
    std::string seeds;
    for (const auto& seed : s.seeds) seeds += (seeds.empty() ? "" : ",") + seed;
    line.push_back(seeds);
    line.push_back(cell(s.best_val_dice, 100));
    for (const SeedStat* m : {&s.best.dice, &s.best.jaccard}) line.push_back(cell(*m, 100));
    for (const SeedStat* m : {&s.best.hd95, &s.best.asd}) line.push_back(cell(*m, 1));
    line.push_back(cell(s.last.dice, 100));
    for (const SeedStat* m : {&s.last.hd95, &s.minutes}) line.push_back(cell(*m, 1));
    cells.push_back(line);
  }
  return util::format_columns(header, cells);
}

nlohmann::json seed_summaries_to_json(const std::vector<SeedSummary>& summaries) {
  nlohmann::json out = nlohmann::json::array();
  for (const SeedSummary& s : summaries) {
    nlohmann::json settings = nlohmann::json::object();
    for (const auto& [k, v] : s.settings) settings[k] = v;
    out.push_back({{"settings", settings},
                   {"seeds", s.seeds},
                   {"best_val_dice", stat_json(s.best_val_dice)},
                   {"final", scores_json(s.best)},
                   {"final_last", scores_json(s.last)},
                   {"minutes", stat_json(s.minutes)}});
  }
  return out;
}

}  // namespace bcp::train
