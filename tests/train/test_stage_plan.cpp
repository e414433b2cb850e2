// The stage plan is the one place that knows a recipe's stages (names, steps, best files, where a
// stage starts from); a checkpoint's weights load without touching LibTorch's generators, which
// a resume restores on its own.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "../support.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/train/stage_plan.h"
#include "bcp/train/train_state.h"

namespace {

using namespace bcp::train;

TEST(StagePlan, BcpSelfTrainsFromThePretrainingsBest) {
  TrainConfig c = preset("acdc", 5, "bcp");
  const auto plan = plan_stages(c);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].id, StageId::kPretrain);
  EXPECT_EQ(plan[0].name(), "pretrain");
  EXPECT_EQ(plan[0].kind, StepKind::kBcpPretrain);
  EXPECT_EQ(plan[0].best_file, "pretrain_best.h5");
  EXPECT_EQ(plan[1].name(), "selftrain");
  EXPECT_EQ(plan[1].kind, StepKind::kBcpSelftrain);
  EXPECT_TRUE(plan[1].own_networks);
  EXPECT_EQ(plan[1].starts_from, plan[0].best_file);
  EXPECT_EQ(plan[1].inherit_optimizer, c.bcp.inherit_optimizer);
  EXPECT_EQ(plan[1].seed, c.seed + 1);
  EXPECT_EQ(plan[1].best_file, "best.h5");
  c.schedule.pretrain_iters = 0;  // self-training alone: fresh networks, nothing to start from
  const auto alone = plan_stages(c);
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_TRUE(alone[0].own_networks);
  EXPECT_TRUE(alone[0].starts_from.empty());
  EXPECT_EQ(step_kind(c, StageId::kPretrain), StepKind::kBcpPretrain);
}

TEST(StagePlan, TheOtherMethodsTrainOneStage) {
  for (const std::string method : {"supervised", "mean-teacher"}) {
    const auto plan = plan_stages(preset("la", 10, method));
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_EQ(plan[0].name(), "train");
    EXPECT_EQ(plan[0].teacher, method == "mean-teacher");
    EXPECT_FALSE(plan[0].own_networks);
    EXPECT_TRUE(plan[0].starts_from.empty());
    EXPECT_EQ(plan[0].best_file, "best.h5");
  }
  for (const std::string file : {"best.h5", "pretrain_best.h5"})
    EXPECT_NE(std::find(best_files().begin(), best_files().end(), file), best_files().end());
}

TEST(TrainState, WeightsLoadWithoutTheGeneratorsWhichAResumeRestores) {
  bcp::test::TempDir dir("train_state");
  torch::manual_seed(5);
  auto net = bcp::nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
  auto copy = bcp::nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
  LoopState loop;
  loop.stage = "train";
  const std::string path = dir / "last.h5";
  save_train_state(path, *net, nullptr, nullptr, loop, config_to_json(preset("acdc", 5, "bcp")));
  const torch::Tensor after_save = torch::rand({8});
  torch::manual_seed(99);
  const torch::Tensor unseeded = torch::rand({8});
  torch::manual_seed(99);
  const bcp::io::TensorArchive checkpoint = bcp::io::load_tensor_archive(path);
  const LoopState read = load_train_state(checkpoint, path, *copy, nullptr, nullptr);
  EXPECT_EQ(read.stage, "train");
  EXPECT_TRUE(torch::equal(copy->parameters()[0], net->parameters()[0]));
  EXPECT_TRUE(torch::equal(torch::rand({8}), unseeded));  // the generator was left alone
  restore_generators(checkpoint, path);
  EXPECT_TRUE(torch::equal(torch::rand({8}), after_save));
}

}  // namespace
