// Reading a run folder back for reports, including what a kill leaves in metrics.jsonl.
#include <gtest/gtest.h>

#include <fstream>

#include "../support.h"
#include "bcp/analysis/png.h"
#include "bcp/analysis/run_record.h"
#include "bcp/train/run_log.h"

TEST(RunRecord, CurvesPerStageLastRecordWinsAndLinesCutByAKillAreSkipped) {
  bcp::test::TempDir dir("run_record");
  {
    std::ofstream out(dir / "metrics.jsonl");
    out << R"({"kind":"step","stage":"pretrain","iteration":1,"loss":2.0})"
        << "\n"
        << R"({"kind":"step","stage":"pretrain","iteration":2,"loss":1.5})"
        << "\n"
        << R"({"kind":"validation","stage":"pretrain","iteration":2,"mean_dice":0.25,"dice":[0.1,0.4]})"
        << "\n"
        << R"({"kind":"step","stage":"pretrain","itera)";  // killed mid-write
  }
  // The resumed run's log starts on a fresh line and repeats iteration 2.
  {
    bcp::train::RunLog log(dir.path.string(), false);
    log.record("step", {{"stage", "pretrain"}, {"iteration", 2}, {"loss", 1.25}});
    log.record("step", {{"stage", "selftrain"}, {"iteration", 1}, {"loss", 0.5}});
  }
  const auto run = bcp::analysis::read_run(dir.path.string());
  EXPECT_EQ(run.skipped_lines, 1);
  ASSERT_EQ(run.stages.size(), 2u);
  EXPECT_EQ(run.stages[0].stage, "pretrain");
  EXPECT_EQ(run.stages[0].loss.y, (std::vector<double>{2.0, 1.25}));  // the resumed value wins
  EXPECT_EQ(run.stages[0].mean_dice.y, (std::vector<double>{0.25}));
  ASSERT_EQ(run.stages[0].dice.size(), 2u);
  EXPECT_EQ(run.stages[0].dice[1].y, (std::vector<double>{0.4}));
  EXPECT_EQ(run.stages[1].loss.x, (std::vector<double>{1}));
  EXPECT_THROW(bcp::analysis::read_run((dir.path / "nope").string()), std::runtime_error);
}

TEST(RunRecord, AblationRunNamesStayInsideTheFolder) {
  bcp::test::TempDir dir("ablation_record");
  std::ofstream(dir / "ablation.json") << R"([{"run":"a=1"},{"run":"../outside"}])";
  EXPECT_TRUE(bcp::analysis::is_ablation_dir(dir.path.string()));
  EXPECT_NE(bcp::test::error_of([&] {
              bcp::analysis::read_ablation(dir.path.string());
            }).find("would leave the ablation folder"),
            std::string::npos);
}

TEST(Pictures, ConcatenationSkipsEmptyImagesAndRefusesNegativeGaps) {
  bcp::analysis::RgbImage a(2, 2, 10), empty;
  const auto out = bcp::analysis::hconcat({empty, a, empty, a}, 3);
  EXPECT_EQ(out.width, 7);
  EXPECT_EQ(out.at(0, 0)[0], 10);
  EXPECT_EQ(out.at(2, 0)[0], 255);
  EXPECT_EQ(out.at(5, 1)[0], 10);
  EXPECT_THROW(bcp::analysis::hconcat({a}, -1), std::invalid_argument);
}
