// `bcp train --budget`: the schedule is planned from steps timed on the run's own data and
// printed before training; the run follows it; bad budgets are refused before any run folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../support.h"
#include "bcp/train/budget.h"
#include "bcp/train/config.h"

namespace {

namespace fs = std::filesystem;
using bcp::test::quoted;
using bcp::test::run_cli;

/// Three synthetic ACDC patients in tmp/root; an empty path (and a test failure) if synth fails.
fs::path small_acdc_root(const bcp::test::TempDir& tmp) {
  const fs::path root = tmp.path / "root";
  return bcp::test::synth_small_acdc(root) ? root : fs::path();
}

}  // namespace

TEST(Budget, DurationsReadSecondsMinutesAndHours) {
  EXPECT_DOUBLE_EQ(bcp::train::parse_duration("90", "--budget"), 90);
  EXPECT_DOUBLE_EQ(bcp::train::parse_duration("90s", "--budget"), 90);
  EXPECT_DOUBLE_EQ(bcp::train::parse_duration("20m", "--budget"), 1200);
  EXPECT_DOUBLE_EQ(bcp::train::parse_duration("1.5h", "--budget"), 5400);
  for (const char* bad : {"", "m", "0", "-5m", "nan", "inf", "20 min", "20x", "1e400"})
    EXPECT_THROW(bcp::train::parse_duration(bad, "--budget"), std::invalid_argument) << bad;
}

TEST(Budget, TheShortRunRecipeEqualsTheStagesAndHalvesA2dPatchTheNetworkCanTake) {
  using bcp::train::preset;
  using bcp::train::short_run_recipe;
  std::vector<std::string> lines;
  const auto acdc = short_run_recipe(preset("acdc", 5, "bcp"), lines);
  EXPECT_EQ(acdc.data.patch, (std::vector<int64_t>{128, 128}));
  EXPECT_EQ(acdc.schedule.pretrain_iters, acdc.schedule.selftrain_iters);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("256x256 -> 128x128"), std::string::npos) << lines[1];
  lines.clear();
  const auto la = short_run_recipe(preset("la", 5, "bcp"), lines);  // 3-D: the patch stays
  EXPECT_EQ(la.data.patch, (std::vector<int64_t>{112, 112, 80}));
  EXPECT_EQ(la.schedule.pretrain_iters, la.schedule.selftrain_iters);
  EXPECT_EQ(la.eval.stride, (std::vector<int64_t>{56, 56, 40}));  // half-overlapping windows
  EXPECT_EQ(lines.size(), 2u);
  lines.clear();
  auto sup = preset("acdc", 5, "supervised");  // one stage: nothing to split
  sup.data.patch = {320, 256};
  EXPECT_EQ(short_run_recipe(sup, lines).data.patch, (std::vector<int64_t>{160, 128}));
  EXPECT_EQ(lines.size(), 1u);
  for (const std::vector<int64_t>& kept : {std::vector<int64_t>{240, 240},     // 120 is too small
                                           std::vector<int64_t>{272, 272}}) {  // 136: not x16
    auto c = preset("acdc", 5, "supervised");
    c.data.patch = kept;
    lines.clear();
    EXPECT_EQ(short_run_recipe(c, lines).data.patch, kept);
    EXPECT_TRUE(lines.empty());
  }
}

TEST(Budget, TheShortRunRecipeHalvesA3dPatchAlongTheAxesPooledFirst) {
  using bcp::train::short_run_recipe;
  // A plan for thick slices (ACDC as volumes: 1.5 x 1.5 x 10 mm): in-plane pooled first.
  auto c = bcp::train::preset("la", 5, "supervised");
  c.net.strides = {{2, 2, 1}, {2, 2, 1}, {2, 2, 2}, {2, 2, 2}};
  c.data.patch = {224, 256, 12};
  c.eval.stride = {112, 128, 6};
  std::vector<std::string> lines;
  const auto half = short_run_recipe(c, lines);
  EXPECT_EQ(half.data.patch, (std::vector<int64_t>{112, 128, 12}));  // z is not pooled first
  EXPECT_EQ(half.eval.stride, (std::vector<int64_t>{56, 64, 6}));    // no gaps between windows
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("224x256x12 -> 112x128x12"), std::string::npos) << lines[0];
  // One side whose half would be under 64 voxels (96 -> 48) keeps the whole patch as it was.
  c.data.patch = {224, 96, 12};
  c.eval.stride = {112, 48, 6};
  lines.clear();
  EXPECT_EQ(short_run_recipe(c, lines).data.patch, (std::vector<int64_t>{224, 96, 12}));
  EXPECT_TRUE(lines.empty());
}

TEST(CliBudget, PlansTheScheduleFromTimedStepsAndFollowsIt) {
  bcp::test::TempDir tmp("cli_budget");
  const fs::path root = small_acdc_root(tmp);
  ASSERT_FALSE(root.empty());
  const std::string train = "train --preset acdc-5-bcp --no-eval --data " + quoted(root) +
                            " --set data.patch=[32,32] --set data.labeled=8 --set batch.labeled=4"
                            " --set batch.unlabeled=4 --set threads=1 --out ";
  const fs::path out = tmp.path / "run";
  auto r = run_cli(train + quoted(out) + " --budget 12s");
  ASSERT_EQ(r.rc, 0) << r.output;
  for (const char* line : {"budget    0.2 min", "recipe    stages in equal steps, not the config's",
                           "timed     a step: pretrain ", "schedule  ", "expected  "})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  // The run took the planned schedule: the recipe's equal stages, about ten validations.
  const auto config = nlohmann::json::parse(bcp::test::read_file_bytes(out / "config.json"));
  const int64_t pre = config["schedule"]["pretrain_iters"],
                self = config["schedule"]["selftrain_iters"];
  EXPECT_GE(pre, 20) << r.output;
  EXPECT_EQ(self, pre) << r.output;
  EXPECT_EQ(config["schedule"]["val_every"], (pre + self) / 10) << r.output;
  const std::string plan_line = "schedule  " + std::to_string(pre) + " pretrain + " +
                                std::to_string(self) + " selftrain steps (the recipe's ratio)";
  EXPECT_NE(r.output.find(plan_line), std::string::npos) << plan_line << "\n" << r.output;
  EXPECT_NE(r.output.find("selftrain: " + std::to_string(self) + " iterations"), std::string::npos)
      << r.output;

  // --keep-recipe plans the step counts only: the preset's 1:3 (20 pre-training steps need 80 in
  // all: 8 s was too short on a 2-core AVX2 machine running two trainings beside the test).
  const fs::path kept = tmp.path / "kept";
  r = run_cli(train + quoted(kept) + " --budget 20s --keep-recipe");
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_EQ(r.output.find("recipe "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(the config's ratio)"), std::string::npos) << r.output;
  const auto c2 = nlohmann::json::parse(bcp::test::read_file_bytes(kept / "config.json"));
  EXPECT_NEAR(c2["schedule"]["selftrain_iters"].get<double>() /
                  c2["schedule"]["pretrain_iters"].get<double>(),
              3.0, 0.1)
      << r.output;
}

TEST(CliBudget, BudgetsThatCannotHoldARunAreRefusedBeforeAnyRunFolder) {
  bcp::test::TempDir tmp("cli_budget_bad");
  const fs::path root = small_acdc_root(tmp);
  ASSERT_FALSE(root.empty());
  const std::string train = "train --preset acdc-5-bcp --data " + quoted(root) +
                            " --set data.patch=[32,32] --set data.labeled=8 --set threads=1"
                            " --set batch.labeled=4 --set batch.unlabeled=4 --out ";
  for (const char* bad : {"0", "abc", "-1m"}) {
    auto r = run_cli(train + quoted(tmp.path / "a") + " --budget " + bad);
    EXPECT_EQ(r.rc, 2) << bad << "\n" << r.output;
    EXPECT_EQ(bcp::test::count_lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("--budget"), std::string::npos) << r.output;
  }
  auto resume = run_cli(train + quoted(tmp.path / "a") + " --budget 5m --resume");
  EXPECT_EQ(resume.rc, 2) << resume.output;
  auto keep = run_cli(train + quoted(tmp.path / "a") + " --keep-recipe");
  EXPECT_EQ(keep.rc, 2) << keep.output;
  EXPECT_NE(keep.output.find("--keep-recipe: only with --budget"), std::string::npos)
      << keep.output;
  // Two seconds cannot hold 20 steps a stage: one line after the timing, no run folder.
  auto tiny = run_cli(train + quoted(tmp.path / "b") + " --budget 2s");
  EXPECT_EQ(tiny.rc, 1) << tiny.output;
  EXPECT_EQ(bcp::test::count_lines(tiny.output), 1) << tiny.output;
  EXPECT_NE(tiny.output.find("too short on this machine"), std::string::npos) << tiny.output;
  // ... and it names a budget that would hold the run: more than the one refused.
  const auto at = tiny.output.find("give at least ");
  ASSERT_NE(at, std::string::npos) << tiny.output;
  EXPECT_GE(std::stoi(tiny.output.substr(at + 14)), 1) << tiny.output;
  EXPECT_FALSE(fs::exists(tmp.path / "b"));
}
