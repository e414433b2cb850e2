// Data-parallel training on c10d/Gloo, with the ranks as threads of this test talking over
// 127.0.0.1 (each rank its own process group, as separate processes would have).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <functional>
#include <thread>

#include "../scoped_env.h"
#include "../train/tiny_run.h"
#include "bcp/distributed/distributed.h"
#include "bcp/nets/batch_norm.h"
#include "bcp/nets/state_dict.h"
#include "bcp/train/steps.h"
#include "bcp/train/trainer.h"

using namespace bcp;
using namespace bcp::distributed;
using namespace bcp::train;

namespace {

/// Runs `body(rank, group)` on `n` ranks at once; rethrows the first rank's failure.
void on_ranks(int n, const std::function<void(int, ProcessGroup&)>& body) {
  const int port = free_local_port();
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        DistEnv env;
        env.rank = r;
        env.world_size = n;
        env.local_rank = r;
        env.local_world_size = n;
        env.master_port = port;
        ProcessGroup group(env, torch::kCPU, std::chrono::seconds(60));
        body(r, group);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

using bcp::test::error_of;
using bcp::test::ScopedEnv;

}  // namespace

// A build without Gloo (LibTorch from PyPI) has no CPU ranks: those tests skip, saying so.
#define SKIP_WITHOUT_GLOO() \
  if (!gloo_available()) GTEST_SKIP() << "this build has no Gloo: no CPU process groups"

TEST(DistEnv, ReadsTorchrunVariablesAndNamesTheBadOne) {
  {
    ScopedEnv env({{"WORLD_SIZE", nullptr}, {"RANK", nullptr}});
    EXPECT_FALSE(dist_env_from_environment().distributed());
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "4"},
                   {"RANK", "3"},
                   {"LOCAL_RANK", "1"},
                   {"LOCAL_WORLD_SIZE", "2"},
                   {"MASTER_ADDR", "node0"},
                   {"MASTER_PORT", "29555"}});
    const DistEnv e = dist_env_from_environment();
    EXPECT_EQ(e.world_size, 4);
    EXPECT_EQ(e.rank, 3);
    EXPECT_EQ(e.local_rank, 1);
    EXPECT_EQ(e.local_world_size, 2);
    EXPECT_EQ(e.master_addr, "node0");
    EXPECT_EQ(e.master_port, 29555);
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("RANK=\"2\""), std::string::npos);
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", nullptr}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("MASTER_ADDR is not set"),
              std::string::npos);
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "two"}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("WORLD_SIZE=\"two\""),
              std::string::npos);
  }
}

TEST(RankShare, SharesAreDisjointAndCoverTheBatch) {
  torch::Tensor batch = torch::arange(12);
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < 3; ++r) parts.push_back(rank_share(batch, r, 3));
  EXPECT_TRUE(torch::equal(torch::cat(parts), batch));
  EXPECT_EQ(parts[1].size(0), 4);
  EXPECT_TRUE(torch::equal(rank_share(batch, 0, 1), batch));
}

TEST(ProcessGroupGloo, TwoRanksOnLoopbackSumBroadcastAndAverage) {
  SKIP_WITHOUT_GLOO();
  on_ranks(2, [](int rank, ProcessGroup& g) {
    EXPECT_EQ(g.backend(), "gloo");
    torch::Tensor a = torch::full({5}, static_cast<float>(rank + 1));
    torch::Tensor b = torch::full({2, 2}, static_cast<double>(10 * (rank + 1)), torch::kFloat64);
    g.all_reduce_sum({a, b});
    EXPECT_TRUE(torch::equal(a, torch::full({5}, 3.0f)));
    EXPECT_TRUE(torch::equal(b, torch::full({2, 2}, 30.0, torch::kFloat64)));
    torch::Tensor c = torch::full({3}, static_cast<float>(rank));
    g.broadcast({c}, 1);
    EXPECT_TRUE(torch::equal(c, torch::full({3}, 1.0f)));
    const std::vector<double> mean = average_values(g, {static_cast<double>(rank), 4.0});
    EXPECT_DOUBLE_EQ(mean[0], 0.5);
    EXPECT_DOUBLE_EQ(mean[1], 4.0);
    g.barrier();
  });
}

TEST(ProcessGroupGloo, UnreachableRendezvousIsAClearError) {
  SKIP_WITHOUT_GLOO();
  DistEnv env;
  env.rank = 1;
  env.world_size = 2;
  env.master_port = free_local_port();  // nobody hosts it
  env.rendezvous_timeout = std::chrono::milliseconds(300);
  const std::string e = error_of([&] { ProcessGroup g(env, torch::kCPU); });
  EXPECT_NE(e.find("cannot reach the rendezvous at MASTER_ADDR:MASTER_PORT 127.0.0.1:"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("within 0.3 s"), std::string::npos) << e;
}

// For a network without BatchNorm, averaging the gradients of the two halves of a batch over two
// ranks is the gradient of the whole batch on one rank (a mean loss): same SGD trajectory.
TEST(DataParallel, HalfBatchOnEachOfTwoRanksEqualsTheWholeBatchOnOne) {
  SKIP_WITHOUT_GLOO();
  torch::manual_seed(3);
  torch::nn::Sequential reference(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3).padding(1)),
                                  torch::nn::ReLU(),
                                  torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 3, 3).padding(1)));
  const torch::Tensor x = torch::randn({8, 1, 12, 12});
  const torch::Tensor y = torch::randint(0, 3, {8, 12, 12});
  auto train = [&](torch::nn::Sequential net, const torch::Tensor& xs, const torch::Tensor& ys,
                   ProcessGroup* g) {
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    for (int step = 0; step < 4; ++step) {
      opt.zero_grad();
      torch::nn::functional::cross_entropy(net->forward(xs), ys).backward();
      if (g) average_gradients(*g, *net, 1024);  // small buckets: several collectives
      opt.step();
    }
    return net;
  };
  auto single = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(reference->clone());
  train(torch::nn::Sequential(single), x, y, nullptr);
  std::vector<std::vector<torch::Tensor>> ranks(2);
  on_ranks(2, [&](int rank, ProcessGroup& g) {
    auto net = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(reference->clone());
    broadcast_module(g, *net);
    train(torch::nn::Sequential(net), rank_share(x, rank, 2), rank_share(y, rank, 2), &g);
    for (auto& p : net->parameters()) ranks[static_cast<size_t>(rank)].push_back(p.detach());
  });
  const auto expected = single->parameters();
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(torch::equal(ranks[0][i], ranks[1][i])) << "parameter " << i << " differs";
    EXPECT_TRUE(torch::allclose(ranks[0][i], expected[i], 1e-5, 1e-6)) << "parameter " << i;
  }
}

// Synchronised BatchNorm on two ranks with half the batch each is BatchNorm on the whole batch:
// outputs, the input's gradient, the parameters' gradients (summed over the ranks) and the
// running statistics.
TEST(SyncBatchNorm, TwoRanksWithHalfTheBatchEqualOneRankWithTheWholeBatch) {
  SKIP_WITHOUT_GLOO();
  torch::manual_seed(11);
  const torch::Tensor x = torch::randn({8, 4, 6, 5}) * 3 + 1;
  const torch::Tensor upstream = torch::randn({8, 4, 6, 5});
  const torch::Tensor w0 = torch::rand({4}) + 0.5, b0 = torch::randn({4});
  auto fresh = [&] {
    nets::SyncBatchNorm2d bn(4);
    torch::NoGradGuard no_grad;
    bn->weight.copy_(w0);
    bn->bias.copy_(b0);
    return bn;
  };
  nets::SyncBatchNorm2d whole = fresh();
  torch::Tensor xw = x.clone().requires_grad_(true);
  torch::Tensor yw = whole->forward(xw);
  (yw * upstream).sum().backward();
  struct Rank {
    torch::Tensor y, x_grad, w_grad, b_grad, running_mean, running_var;
  };
  std::vector<Rank> ranks(2);
  on_ranks(2, [&](int rank, ProcessGroup& g) {
    nets::SyncBatchNorm2d bn = fresh();
    EXPECT_EQ(
        nets::synchronize_batch_norm(*bn, [&g](const torch::Tensor& t) { return rank_sum(g, t); }),
        1);
    torch::Tensor xr = rank_share(x, rank, 2).clone().requires_grad_(true);
    torch::Tensor yr = bn->forward(xr);
    (yr * rank_share(upstream, rank, 2)).sum().backward();
    ranks[static_cast<size_t>(rank)] = {yr.detach(),
                                        xr.grad(),
                                        bn->weight.grad(),
                                        bn->bias.grad(),
                                        bn->running_mean.clone(),
                                        bn->running_var.clone()};
  });
  auto close = [](const torch::Tensor& a, const torch::Tensor& b) {
    return torch::allclose(a, b, 1e-4, 1e-5);
  };
  EXPECT_TRUE(close(torch::cat({ranks[0].y, ranks[1].y}), yw));
  EXPECT_TRUE(close(torch::cat({ranks[0].x_grad, ranks[1].x_grad}), xw.grad()));
  EXPECT_TRUE(close(ranks[0].w_grad + ranks[1].w_grad, whole->weight.grad()));
  EXPECT_TRUE(close(ranks[0].b_grad + ranks[1].b_grad, whole->bias.grad()));
  for (const Rank& r : ranks) {
    EXPECT_TRUE(close(r.running_mean, whole->running_mean));
    EXPECT_TRUE(close(r.running_var, whole->running_var));
  }
  // Without synchronisation each rank's statistics are its own half's: the check above can fail.
  nets::SyncBatchNorm2d alone = fresh();
  EXPECT_FALSE(close(alone->forward(rank_share(x, 0, 2)), ranks[0].y));
}

// The real BCP self-training step (UNet with BatchNorm and dropout, EMA teacher with buffers):
// after every step both ranks hold bit-identical student and teacher parameters.
class DataParallelBcp : public testing::TestWithParam<bool> {};

TEST_P(DataParallelBcp, StepsKeepBitIdenticalParametersOnBothRanks) {
  SKIP_WITHOUT_GLOO();
  const bool sync = GetParam();
  TrainConfig c = bcp::test::tiny_config("bcp");
  c.world_size = 2;
  const TrainingSet set = load_training_set(c, bcp::test::tiny_acdc());
  torch::manual_seed(0);
  const auto student0 = nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
  const auto teacher0 = student0->clone_net();
  std::mt19937_64 rng(4);
  std::vector<StepInputs> steps;
  for (int i = 0; i < 3; ++i)
    steps.push_back(
        prepare_step_inputs(c, set, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, rng));
  // Each rank's parameters after each step, flattened.
  std::vector<std::vector<torch::Tensor>> after(2);
  std::vector<std::vector<double>> losses(2);
  on_ranks(2, [&](int rank, ProcessGroup& g) {
    auto student = student0->clone_net();
    auto teacher = teacher0->clone_net();
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    torch::optim::SGD opt(student->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    std::mt19937_64 unused(0);
    StageContext ctx{c, set, torch::kCPU, *student, teacher.get(), opt, unused};
    ctx.group = &g;
    ComputeCopies copies = make_compute_copies(c, *student, teacher.get());
    copies.attach(ctx);
    if (sync) {
      const nets::RankSum sum = [&g](const torch::Tensor& t) { return rank_sum(g, t); };
      for (torch::nn::Module* net : {static_cast<torch::nn::Module*>(student.get()),
                                     static_cast<torch::nn::Module*>(teacher.get()),
                                     static_cast<torch::nn::Module*>(&copies.student->compute()),
                                     static_cast<torch::nn::Module*>(&copies.teacher->compute())})
        EXPECT_EQ(nets::synchronize_batch_norm(*net, sum), 18);
    }
    for (int i = 0; i < 3; ++i) {
      losses[static_cast<size_t>(rank)].push_back(
          take_step(ctx, StepKind::kBcpSelftrain, steps[static_cast<size_t>(i)], i).loss);
      std::vector<torch::Tensor> flat;
      for (auto& p : student->parameters()) flat.push_back(p.detach().reshape({-1}));
      for (auto& p : teacher->parameters()) flat.push_back(p.detach().reshape({-1}));
      after[static_cast<size_t>(rank)].push_back(torch::cat(flat).clone());
    }
  });
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::equal(after[0][i], after[1][i])) << "ranks differ after step " << i + 1;
    EXPECT_EQ(losses[0][i], losses[1][i]) << "the logged loss is the mean over the ranks";
  }
  EXPECT_FALSE(torch::equal(after[0][0], after[0][2])) << "the steps changed nothing";
}

INSTANTIATE_TEST_SUITE_P(PerRankAndSynchronisedBatchNorm, DataParallelBcp, testing::Bool());

TEST(DataParallel, ConfigRefusesBatchesThatDoNotSplitOverTheRanks) {
  TrainConfig c = bcp::test::tiny_config("bcp");
  c.world_size = 2;
  EXPECT_NO_THROW(validate_config(c));
  c.world_size = 4;  // 4 labeled over 4 ranks: one per rank, no halves to paste between
  EXPECT_NE(error_of([&] { validate_config(c); }).find("batch.labeled"), std::string::npos);
}

TEST(DataParallel, TrainRefusesAWorldSizeThatNoLauncherStarted) {
  TrainOptions o;
  o.config = bcp::test::tiny_config("bcp");
  o.config.world_size = 2;
  o.data_root = bcp::test::tiny_acdc();
  o.out_dir = (bcp::test::process_temp_dir() / "dist_refused").string();
  const std::string e = error_of([&] { train::train(o); });
  EXPECT_NE(e.find("world_size 2 in the config, but this process is one of 1"), std::string::npos)
      << e;
  EXPECT_FALSE(std::filesystem::exists(o.out_dir)) << "a refused run must leave nothing behind";
}
