// What only a GPU can check: bf16 compute copies on CUDA and the CUDA generator states in
// checkpoints. Every test skips, visibly, where CUDA is not available (scripts/gpu_check.sh runs
// them on a GPU machine).
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <ATen/Context.h>
#include <filesystem>
#include <random>

#include "../support.h"

#include "bcp/io/tensor_archive.h"
#include "bcp/train/config.h"
#include "bcp/train/steps.h"
#include "bcp/train/train_state.h"

namespace fs = std::filesystem;
using namespace bcp;
using namespace bcp::train;

#define BCP_REQUIRE_CUDA()                                                         \
  do {                                                                             \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "SKIPPED: needs a CUDA GPU"; \
  } while (0)

TEST(CudaBf16, SupervisedAndBcpStepsRunWithFp32MasterWeights) {
  BCP_REQUIRE_CUDA();
  torch::manual_seed(2);
  TrainingSet set;
  for (int i = 0; i < 8; ++i) {
    set.images.push_back(torch::rand({40, 40}));
    set.labels.push_back(torch::randint(0, 4, {40, 40}).to(torch::kUInt8));
    set.names.push_back("s");
  }
  set.labeled = 4;
  for (std::string precision : {"fp32", "bf16"}) {
    TrainConfig c = preset("acdc", 5, "bcp");
    c.precision = bcp::util::parse_enum<bcp::nets::Precision>(precision);
    c.device = "cuda";
    c.data.patch = {32, 32};
    c.batch = {4, 4};
    auto student = nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
    auto teacher = nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
    student->to(torch::kCUDA);
    teacher->to(torch::kCUDA);
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    torch::optim::SGD opt(student->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    std::mt19937_64 rng(1);
    StageContext ctx{c, set, torch::kCUDA, *student, teacher.get(), opt, rng};
    ComputeCopies copies = make_compute_copies(c, *student, teacher.get());
    copies.attach(ctx);
    StepStats st = take_step(ctx, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {4, 5, 6, 7}, 0);
    EXPECT_TRUE(std::isfinite(st.loss)) << precision;
    for (auto& p : student->parameters()) {
      EXPECT_EQ(p.scalar_type(), torch::kFloat32);
      EXPECT_TRUE(p.is_cuda());
      ASSERT_TRUE(p.grad().defined());
    }
  }
}

TEST(CudaResume, CheckpointsCarryTheCudaGeneratorStates) {
  BCP_REQUIRE_CUDA();
  const fs::path dir =
      bcp::test::process_temp_dir() / ("bcp_test_cuda_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  const std::string path = (dir / "state.h5").string();
  auto net = nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
  net->to(torch::kCUDA);  // a CUDA run's checkpoint holds the CUDA generators
  torch::manual_seed(3);  // seeds the CUDA generators too
  torch::rand({16}, torch::kCUDA);
  LoopState loop;
  loop.stage = "train";
  save_train_state(path, *net, nullptr, nullptr, loop, nlohmann::json::object());
  auto expected = torch::rand({16}, torch::kCUDA).cpu();
  torch::rand({100}, torch::kCUDA);  // move on
  const io::TensorArchive checkpoint = io::load_tensor_archive(path);
  load_train_state(checkpoint, path, *net, nullptr, nullptr);
  restore_generators(checkpoint, path);
  EXPECT_TRUE(torch::equal(torch::rand({16}, torch::kCUDA).cpu(), expected));
  EXPECT_TRUE(io::load_tensor_archive(path).tensors.count("rng/torch_cuda_0"));
  fs::remove_all(dir);
}
