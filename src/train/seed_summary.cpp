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

}  // namespace

std::vector<SeedSummary> summarize_seeds(const std::vector<AblationRow>& rows) {
  struct Values {
    std::vector<double> best, dice, jaccard, hd95, asd, minutes;
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
      out.push_back({settings, {}, {}, {}, {}, {}, {}, {}});
      values.emplace_back();
    }
    out[i].seeds.push_back(seed);
    Values& v = values[i];
    if (r.best_val_dice >= 0) v.best.push_back(r.best_val_dice);
    if (r.evaluated) {
      v.dice.push_back(r.dice);
      v.jaccard.push_back(r.jaccard);
      v.hd95.push_back(r.hd95);
      v.asd.push_back(r.asd);
    }
    v.minutes.push_back(r.seconds / 60.0);
  }
  if (!varies_seed) return {};
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].best_val_dice = stat_of(values[i].best);
    out[i].dice = stat_of(values[i].dice);
    out[i].jaccard = stat_of(values[i].jaccard);
    out[i].hd95 = stat_of(values[i].hd95);
    out[i].asd = stat_of(values[i].asd);
    out[i].minutes = stat_of(values[i].minutes);
  }
  return out;
}

std::string format_seed_table(const std::vector<SeedSummary>& summaries,
                              const std::vector<AblationAxis>& axes) {
  std::vector<std::string> header;
  for (const auto& a : axes)
    if (a.key != kSeedKey) header.push_back(a.key);
  for (const char* h : {"seeds", "val Dice %", "Dice %", "Jaccard %", "95HD", "ASD", "minutes"})
    header.push_back(h);
  std::vector<std::vector<std::string>> cells;
  for (const SeedSummary& s : summaries) {
    std::vector<std::string> line;
    for (const auto& kv : s.settings) line.push_back(kv.second);
    std::string seeds;
    for (const auto& seed : s.seeds) seeds += (seeds.empty() ? "" : ",") + seed;
    line.push_back(seeds);
    line.push_back(cell(s.best_val_dice, 100));
    for (const SeedStat* m : {&s.dice, &s.jaccard}) line.push_back(cell(*m, 100));
    for (const SeedStat* m : {&s.hd95, &s.asd, &s.minutes}) line.push_back(cell(*m, 1));
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
                   {"final",
                    {{"dice", stat_json(s.dice)},
                     {"jaccard", stat_json(s.jaccard)},
                     {"hd95", stat_json(s.hd95)},
                     {"asd", stat_json(s.asd)}}},
                   {"minutes", stat_json(s.minutes)}});
  }
  return out;
}

}  // namespace bcp::train
