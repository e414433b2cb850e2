#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/nets/compute_copy.h"
#include "bcp/nets/segmentation_net.h"

using namespace bcp::nets;

namespace {

std::shared_ptr<SegmentationNetImpl> small_unet() {
  torch::manual_seed(3);
  return make_model({bcp::nets::Arch::kUNet2d, 1, 4});
}

}  // namespace

TEST(ComputeCopy, Bf16CopyHoldsBf16ChannelsLastConvolutionsAndFp32BatchNorm) {
  auto net = small_unet();
  ComputeCopy copy(*net);
  int bf16 = 0, fp32 = 0;
  for (const auto& item : copy.compute().named_parameters()) {
    const auto& p = item.value();
    const bool batch_norm = item.key().find("conv_conv.1.") != std::string::npos ||
                            item.key().find("conv_conv.5.") != std::string::npos;
    if (batch_norm) {
      EXPECT_EQ(p.scalar_type(), torch::kFloat32) << item.key();
      ++fp32;
    } else {
      EXPECT_EQ(p.scalar_type(), torch::kBFloat16) << item.key();
      if (p.dim() == 4) {
        EXPECT_TRUE(p.is_contiguous(torch::MemoryFormat::ChannelsLast));
        // Also where one channel makes the layout ambiguous (the first convolution's weight).
        EXPECT_EQ(p.strides(), c10::IntArrayRef(c10::get_channels_last_strides_2d(p.sizes())))
            << item.key();
      }
      ++bf16;
    }
  }
  EXPECT_GT(bf16, 0);
  EXPECT_GT(fp32, 0);
  for (const auto& p : net->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
}

TEST(ComputeCopy, ForwardAgreesWithTheMasterToItsPrecision) {
  auto net = small_unet();
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 1, 64, 64});
  auto ref = net->forward(x);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    ComputeCopy copy(*net, dtype);
    copy.pull();
    auto out = copy.forward(x);
    EXPECT_EQ(out.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(out.is_contiguous());
    const double scale = ref.abs().max().item<double>();
    const double err = (out - ref).abs().max().item<double>();
    EXPECT_LT(err, dtype == torch::kFloat32 ? 1e-4 * scale : 0.1 * scale) << dtype;
    if (dtype == torch::kBFloat16) {
      EXPECT_GT(err, 0.0);  // it really ran in bf16
    }
  }
}

TEST(ComputeCopy, PullPushGradsAndBuffersKeepTheMasterInStep) {
  torch::manual_seed(3);
  auto net = make_model({bcp::nets::Arch::kUNet2d, 1, 4, 16, /*has_dropout=*/false});
  net->train();
  ComputeCopy copy(*net, torch::kFloat32);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.add_(0.01);
  }
  copy.pull();
  auto mp = net->parameters(), cp = copy.compute().parameters();
  for (size_t i = 0; i < mp.size(); ++i) EXPECT_TRUE(torch::equal(mp[i], cp[i].contiguous()));

  // Gradients: the copy's backward lands on the master in fp32; the copy's own are cleared.
  auto x = torch::randn({2, 1, 32, 32});
  auto ref_net = net->clone_net();
  ref_net->train();
  const auto before = net->buffers()[0].clone();
  copy.forward(x).square().mean().backward();
  EXPECT_TRUE(torch::equal(net->buffers()[0], before));  // the master is untouched until pushed
  copy.push_grads();
  ref_net->forward(x).square().mean().backward();
  auto rp = ref_net->parameters();
  for (size_t i = 0; i < mp.size(); ++i) {
    ASSERT_TRUE(mp[i].grad().defined());
    EXPECT_EQ(mp[i].grad().scalar_type(), torch::kFloat32);
    EXPECT_FALSE(cp[i].grad().defined());
    EXPECT_TRUE(torch::allclose(mp[i].grad(), rp[i].grad(), 1e-3, 1e-5)) << i;
  }
  // Buffers: the train-mode pass moved the copy's BatchNorm statistics; push brings them back.
  copy.push_buffers();
  EXPECT_FALSE(torch::equal(net->buffers()[0], before));
  EXPECT_TRUE(torch::equal(net->buffers()[0], copy.compute().buffers()[0]));
}

TEST(ComputeCopy, PlainLayoutFp32CopyIsExact) {
  auto net = small_unet();
  net->eval();
  torch::NoGradGuard no_grad;
  ComputeCopy copy(*net, torch::kFloat32, /*channels_last=*/false);
  copy.pull();
  auto x = torch::randn({2, 1, 32, 32});
  EXPECT_TRUE(torch::equal(copy.forward(x), net->forward(x)));
}

TEST(ComputeCopy, VNetRunsInBf16ChannelsLast3dAndTrains) {
  torch::manual_seed(4);
  auto net = make_model({bcp::nets::Arch::kVNet, 1, 2});
  net->train();
  ComputeCopy copy(*net);
  copy.pull();
  auto x = torch::randn({2, 1, 32, 32, 32});
  auto out = copy.forward(x);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 2, 32, 32, 32}));
  out.square().mean().backward();
  copy.push_grads();
  for (const auto& p : net->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  }
  net->eval();
  torch::NoGradGuard no_grad;
  copy.pull();
  auto ref = net->forward(x);
  const double scale = ref.abs().max().item<double>();
  EXPECT_LT((copy.forward(x) - ref).abs().max().item<double>(), 0.1 * scale);
}

// In train mode the bf16 copy (batch norm, activation and dropout fused) draws the masks that the
// fp32 network draws on a channels-last input (a mask is drawn in memory order): the same values
// dropped, the generator advanced alike.
TEST(ComputeCopy, TrainModeBf16CopyDropsWhatAChannelsLastMasterDrops) {
  auto net = small_unet();  // with BCP's encoder dropout
  net->train();
  ComputeCopy copy(*net, torch::kBFloat16);
  copy.pull();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 1, 64, 64});
  // to(format) gives the one-channel input channels-last strides (contiguous(format) would not).
  const auto x_cl = x.to(torch::kFloat32, false, true, torch::MemoryFormat::ChannelsLast);
  torch::manual_seed(21);
  const auto ref = net->forward(x_cl);
  const int64_t next_ref = torch::randint(1 << 30, {1}).item<int64_t>();
  torch::manual_seed(21);
  const auto out = copy.forward(x);
  const int64_t next_out = torch::randint(1 << 30, {1}).item<int64_t>();
  EXPECT_EQ(next_out, next_ref);
  const double scale = ref.abs().max().item<double>();
  const double err = (out - ref).abs().max().item<double>();
  EXPECT_LT(err, 0.1 * scale);
  // Other masks (another seed) move the output well beyond that: the check above can fail.
  torch::manual_seed(22);
  const double other = (copy.forward(x) - ref).abs().max().item<double>();
  EXPECT_GT(other, 0.1 * scale) << "bf16 error " << err;
}
