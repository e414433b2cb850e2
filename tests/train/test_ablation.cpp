// `bcp ablate` as a library: grids, run folders, the table, and resuming an interrupted grid.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/train/ablation.h"
#include "tiny_run.h"

namespace fs = std::filesystem;
using namespace bcp::train;

TEST(Ablation, VaryTextSplitsAtTopLevelCommasOnly) {
  auto beta = parse_vary("bcp.beta=0.5,0.667,0.75");
  EXPECT_EQ(beta.key, "bcp.beta");
  EXPECT_EQ(beta.values, (std::vector<std::string>{"0.5", "0.667", "0.75"}));
  auto patch = parse_vary("data.patch=[32,32],[64,64]");
  EXPECT_EQ(patch.values, (std::vector<std::string>{"[32,32]", "[64,64]"}));
  auto dir = parse_vary("bcp.direction=\"in,ward\",outward");
  EXPECT_EQ(dir.values, (std::vector<std::string>{"\"in,ward\"", "outward"}));
  for (const char* bad : {"bcp.beta", "bcp.beta=", "=1,2", "a=1,,2", "a=[1,2"})
    EXPECT_THROW(parse_vary(bad), std::invalid_argument) << bad;
}

TEST(Ablation, PlanIsTheCartesianProductWithValidatedConfigs) {
  const TrainConfig base = preset("acdc", 5, "bcp");
  const auto runs = plan_ablation(
      base, {parse_vary("bcp.beta=0.5,0.75"), parse_vary("bcp.direction=inward,both")});
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].name, "bcp.beta=0.5__bcp.direction=inward");
  EXPECT_EQ(runs[3].name, "bcp.beta=0.75__bcp.direction=both");
  EXPECT_DOUBLE_EQ(runs[1].config.bcp.beta, 0.5);
  EXPECT_EQ(runs[1].config.bcp.direction, PasteDirection::kBoth);
  EXPECT_EQ(runs[2].config.optim.lr, base.optim.lr);  // everything else is the base
  EXPECT_EQ(plan_ablation(base, {parse_vary("data.patch=[32,32],[64,64]")})[0].name,
            "data.patch=_32_32_");
  try {
    plan_ablation(base, {parse_vary("bcp.beta=0.5,2")});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bcp.beta=2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(plan_ablation(base, {parse_vary("bcp.bta=0.5")}), std::invalid_argument);
  EXPECT_THROW(plan_ablation(base, {parse_vary("bcp.beta=0.5"), parse_vary("bcp.beta=0.6")}),
               std::invalid_argument);
  EXPECT_THROW(plan_ablation(base, {}), std::invalid_argument);
}

TEST(Ablation, RunsEachPointAndAnInterruptedGridResumesExactly) {
  TrainConfig base = bcp::test::tiny_config("bcp");
  base.schedule.pretrain_iters = 2;
  base.schedule.selftrain_iters = 2;
  base.schedule.val_every = 2;
  base.schedule.checkpoint_every = 1;
  bcp::test::TempDir tmp("ablation");
  AblationOptions o;
  o.base = base;
  o.axes = {parse_vary("bcp.beta=0.5,0.75")};
  o.data_root = bcp::test::tiny_acdc();
  o.final_evaluation = false;
  o.echo = false;

  o.out_dir = (tmp.path / "straight").string();
  const auto straight = run_ablation(o);
  ASSERT_EQ(straight.size(), 2u);
  for (const auto& row : straight) {
    EXPECT_TRUE(row.finished);
    EXPECT_FALSE(row.reused);
    EXPECT_GE(row.best_val_dice, 0.0);
    EXPECT_TRUE(fs::exists(tmp.path / "straight" / row.run.name / "result.json"));
  }
  const auto w0 = bcp::io::load_tensor_archive(
      (tmp.path / "straight" / straight[0].run.name / "last.h5").string());
  const auto w1 = bcp::io::load_tensor_archive(
      (tmp.path / "straight" / straight[1].run.name / "last.h5").string());
  EXPECT_FALSE(torch::equal(w0.tensors.at("teacher/encoder.in_conv.conv_conv.0.weight"),
                            w1.tensors.at("teacher/encoder.in_conv.conv_conv.0.weight")))
      << "beta must change the run";
  std::ifstream csv(tmp.path / "straight" / "ablation.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(
      header,
      "run,bcp.beta,best_val_dice,dice,jaccard,hd95,asd,last_dice,last_jaccard,last_hd95,last_asd,"
      "seconds,finished");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 2);
  const std::string table = format_ablation_table(straight, o.axes);
  EXPECT_NE(table.find("bcp.beta"), std::string::npos) << table;
  EXPECT_NE(table.find("0.75"), std::string::npos) << table;

  // Interrupted: every run stops after one step; then --resume finishes the grid exactly.
  o.out_dir = (tmp.path / "resumed").string();
  o.stop_after = 1;
  for (const auto& row : run_ablation(o)) EXPECT_FALSE(row.finished);
  EXPECT_THROW(run_ablation(o), std::runtime_error);  // an ablation is there: --resume needed
  o.stop_after = 0;
  o.resume = true;
  for (const auto& row : run_ablation(o)) EXPECT_TRUE(row.finished && !row.reused);
  for (const auto& row : straight) {
    const auto a =
        bcp::io::load_tensor_archive((tmp.path / "straight" / row.run.name / "last.h5").string());
    const auto b =
        bcp::io::load_tensor_archive((tmp.path / "resumed" / row.run.name / "last.h5").string());
    for (const auto& [name, t] : a.tensors)
      EXPECT_TRUE(torch::equal(t, b.tensors.at(name))) << row.run.name << " " << name;
  }
  for (const auto& row : run_ablation(o)) EXPECT_TRUE(row.reused);  // nothing left to run
  o.axes = {parse_vary("bcp.beta=0.5,0.6")};
  EXPECT_THROW(run_ablation(o), std::invalid_argument);  // another grid in the same folder
}

TEST(Ablation, EveryPointsDataIsCheckedBeforeTheFirstRun) {
  TrainConfig base = bcp::test::tiny_config("supervised");
  bcp::test::TempDir tmp("ablation_data");
  AblationOptions o;
  o.base = base;
  o.axes = {parse_vary("data.train_list=" + base.data.train_list + ",missing.list")};
  o.data_root = bcp::test::tiny_acdc();
  o.final_evaluation = false;
  o.echo = false;
  o.out_dir = (tmp.path / "grid").string();
  const std::string e = bcp::test::error_of([&] { run_ablation(o); });
  EXPECT_NE(e.find("missing.list"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp.path / "grid"));  // not even the first point ran
}
