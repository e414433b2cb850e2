// `bcp train --budget`: the schedule is planned from steps timed on the run's own data and
// printed before training; the run follows it; bad budgets are refused before any run folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../support.h"
#include "bcp/train/budget.h"

namespace {

namespace fs = std::filesystem;
using bcp::test::quoted;
using bcp::test::run_cli;

/// Three synthetic ACDC patients in tmp/root; an empty path (and a test failure) if synth fails.
fs::path small_acdc_root(const bcp::test::TempDir& tmp) {
  const fs::path root = tmp.path / "root";
  const auto synth =
      run_cli("synth --kind acdc --cases 3 --val 1 --test 1 --seed 5 --out " + quoted(root));
  EXPECT_EQ(synth.rc, 0) << synth.output;
  return synth.rc == 0 ? root : fs::path();
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

TEST(CliBudget, PlansTheScheduleFromTimedStepsAndFollowsIt) {
  bcp::test::TempDir tmp("cli_budget");
  const fs::path root = small_acdc_root(tmp);
  ASSERT_FALSE(root.empty());
  const fs::path out = tmp.path / "run";
  auto r = run_cli("train --preset acdc-5-bcp --budget 20s --no-eval --data " + quoted(root) +
                   " --set data.patch=[32,32] --set data.labeled=8 --set batch.labeled=4"
                   " --set batch.unlabeled=4 --set threads=1 --out " +
                   quoted(out));
  ASSERT_EQ(r.rc, 0) << r.output;
  for (const char* line :
       {"budget    0.3 min", "timed     a step: pretrain ", "schedule  ", "expected  "})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  // The run took the planned schedule: the preset's 1:3 ratio, about ten validations.
  const auto config = nlohmann::json::parse(bcp::test::read_file_bytes(out / "config.json"));
  const int64_t pre = config["schedule"]["pretrain_iters"],
                self = config["schedule"]["selftrain_iters"];
  EXPECT_GE(pre, 20) << r.output;
  EXPECT_NEAR(static_cast<double>(self) / static_cast<double>(pre), 3.0, 0.1) << r.output;
  EXPECT_EQ(config["schedule"]["val_every"], (pre + self) / 10) << r.output;
  const std::string plan_line = "schedule  " + std::to_string(pre) + " pretrain + " +
                                std::to_string(self) + " selftrain steps";
  EXPECT_NE(r.output.find(plan_line), std::string::npos) << plan_line << "\n" << r.output;
  EXPECT_NE(r.output.find("selftrain: " + std::to_string(self) + " iterations"), std::string::npos)
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
  // Two seconds cannot hold 20 steps a stage: one line after the timing, no run folder.
  auto tiny = run_cli(train + quoted(tmp.path / "b") + " --budget 2s");
  EXPECT_EQ(tiny.rc, 1) << tiny.output;
  EXPECT_EQ(bcp::test::count_lines(tiny.output), 1) << tiny.output;
  EXPECT_NE(tiny.output.find("too short on this machine"), std::string::npos) << tiny.output;
  EXPECT_FALSE(fs::exists(tmp.path / "b"));
}
