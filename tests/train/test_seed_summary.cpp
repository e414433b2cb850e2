// Results over seeds: an ablation grid that varies `seed` is summarised per point as mean and
// sample standard deviation, interrupted runs left out.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/train/seed_summary.h"
#include "tiny_run.h"

namespace fs = std::filesystem;
using namespace bcp::train;

namespace {

AblationRow row(const std::string& beta, const std::string& seed, double val, double dice,
                bool finished = true) {
  AblationRow r;
  r.run.settings = {{"bcp.beta", beta}, {"seed", seed}};
  r.best_val_dice = val;
  r.best = {true, dice, dice / 2, 3, 1};
  r.last = {true, dice - 0.1, dice / 3, 5, 2};  // the run's end, a little worse
  r.seconds = 60;
  r.finished = finished;
  return r;
}

}  // namespace

TEST(SeedSummary, MeanAndSampleDeviationPerPointWithoutInterruptedRuns) {
  const std::vector<AblationRow> rows = {
      row("0.5", "1", 0.70, 0.60),  row("0.5", "2", 0.80, 0.70),
      row("0.5", "3", 0.90, 0.80),  row("0.75", "1", 0.50, 0.40),
      row("0.75", "2", 0.60, 0.50), row("0.75", "3", 0.99, 0.99, /*finished=*/false)};
  const auto s = summarize_seeds(rows);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].settings, (std::vector<std::pair<std::string, std::string>>{{"bcp.beta", "0.5"}}));
  EXPECT_EQ(s[0].seeds, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_NEAR(s[0].best_val_dice.mean, 0.80, 1e-12);
  EXPECT_NEAR(s[0].best_val_dice.sd, 0.10, 1e-12);  // sample deviation (n - 1)
  EXPECT_EQ(s[0].best.dice.n, 3);
  EXPECT_NEAR(s[0].best.dice.mean, 0.70, 1e-12);
  EXPECT_NEAR(s[0].best.jaccard.mean, 0.35, 1e-12);
  EXPECT_NEAR(s[0].last.dice.mean, 0.60, 1e-12);
  EXPECT_NEAR(s[0].last.hd95.mean, 5.0, 1e-12);
  EXPECT_EQ(s[1].seeds, (std::vector<std::string>{"1", "2"}));  // seed 3 was interrupted
  EXPECT_NEAR(s[1].best_val_dice.mean, 0.55, 1e-12);
  EXPECT_NEAR(s[1].best_val_dice.sd, std::sqrt(0.005), 1e-12);

  const std::vector<AblationAxis> axes = {parse_vary("bcp.beta=0.5,0.75"),
                                          parse_vary("seed=1,2,3")};
  const std::string table = format_seed_table(s, axes);
  EXPECT_NE(table.find("80.00 +- 10.00 (3)"), std::string::npos) << table;
  EXPECT_NE(table.find("1,2,3"), std::string::npos) << table;
  EXPECT_NE(table.find("last Dice %"), std::string::npos) << table;
  EXPECT_NE(table.find("60.00 +- 10.00 (3)"), std::string::npos) << "last.h5's Dice: " << table;
  EXPECT_EQ(table.find("seed "), std::string::npos) << "the seed is no column: " << table;
  const auto j = seed_summaries_to_json(s);
  EXPECT_EQ(j[1]["best_val_dice"]["n"], 2);
  EXPECT_NEAR(j[0]["final"]["dice"]["sd"].get<double>(), 0.10, 1e-12);
  EXPECT_NEAR(j[0]["final_last"]["asd"]["mean"].get<double>(), 2.0, 1e-12);
}

TEST(SeedSummary, AGridWithoutASeedAxisHasNoSummary) {
  AblationRow r = row("0.5", "1", 0.7, 0.6);
  r.run.settings = {{"bcp.beta", "0.5"}};
  EXPECT_TRUE(summarize_seeds({r, r}).empty());
}

TEST(SeedSummary, AnAblationOverSeedsWritesItsSummary) {
  TrainConfig base = bcp::test::tiny_config("supervised");
  base.schedule.selftrain_iters = 2;
  base.schedule.val_every = 2;
  bcp::test::TempDir tmp("seed_summary");
  AblationOptions o;
  o.base = base;
  o.axes = {parse_vary("seed=1,2")};
  o.data_root = bcp::test::tiny_acdc();
  o.final_evaluation = false;
  o.echo = false;
  o.out_dir = (tmp.path / "grid").string();
  const auto rows = run_ablation(o);
  ASSERT_EQ(rows.size(), 2u);
  const auto j =
      nlohmann::json::parse(bcp::test::read_file_bytes(tmp.path / "grid" / "ablation_seeds.json"));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["seeds"], (nlohmann::json{"1", "2"}));
  EXPECT_EQ(j[0]["best_val_dice"]["n"], 2);
  const double mean = (rows[0].best_val_dice + rows[1].best_val_dice) / 2;
  EXPECT_NEAR(j[0]["best_val_dice"]["mean"].get<double>(), mean, 1e-12);
}
