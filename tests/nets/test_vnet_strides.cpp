// The VNet with per-axis strides (net.strides, nnU-Net's anisotropic pooling): shapes, the
// divisibility check, its record in configs and checkpoints, and its bf16 compute copy (the
// channels-last convolutions and the transposed convolution with a 2 x 2 x 1 block).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/nets/compute_copy.h"
#include "bcp/nets/model_archive.h"
#include "bcp/nets/vnet.h"

namespace bcp_test_vnet_strides {

using bcp::nets::ModelConfig;

namespace {

ModelConfig thick_slices() {
  ModelConfig c;
  c.arch = bcp::nets::Arch::kVNet;
  c.num_classes = 3;
  c.base_filters = 4;
  c.strides = {{2, 2, 1}, {2, 2, 1}, {2, 2, 2}, {2, 2, 1}};
  return c;
}

}  // namespace

TEST(VNetStrides, AxesArePooledAsConfiguredAndSizesChecked) {
  torch::manual_seed(0);
  const ModelConfig c = thick_slices();
  EXPECT_EQ(bcp::nets::pooling_factor(c), (std::vector<int64_t>{16, 16, 2}));
  auto net = bcp::nets::make_model(c);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto out = net->forward_with_features(torch::randn({2, 1, 32, 48, 6}));
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 3, 32, 48, 6}));
  EXPECT_EQ(out.features.sizes(), (std::vector<int64_t>{2, 4, 32, 48, 6}));
  // The down-sampling of stage 1 has a 2 x 2 x 1 kernel.
  const auto* down = net->named_parameters().find("encoder.block_one_dw.conv.0.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->sizes(), (std::vector<int64_t>{8, 4, 2, 2, 1}));
  try {
    net->forward(torch::randn({1, 1, 32, 48, 5}));
    FAIL() << "an odd z passed";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("divisible by 2"), std::string::npos) << e.what();
  }
}

TEST(VNetStrides, RecordedInTheConfigAndCheckpointAndTheReferenceRecordUnchanged) {
  const ModelConfig c = thick_slices();
  auto net = bcp::nets::make_model(c);
  EXPECT_EQ(net->config().strides, c.strides);
  nlohmann::json j = c;
  EXPECT_EQ(j["strides"], nlohmann::json({{2, 2, 1}, {2, 2, 1}, {2, 2, 2}, {2, 2, 1}}));
  // The reference VNet's record has no "strides" (checkpoints of earlier versions read the same).
  ModelConfig reference = c;
  reference.strides.clear();
  EXPECT_FALSE(nlohmann::json(reference).contains("strides"));
  EXPECT_TRUE(bcp::nets::make_model(reference)->config().strides.empty());

  bcp::test::TempDir tmp("vnet_strides");
  const std::string path = (tmp.path / "net.h5").string();
  bcp::nets::save_model(path, *net, c);
  const auto loaded = bcp::nets::load_model(path);
  EXPECT_EQ(loaded.model->config().strides, c.strides);

  for (const char* bad :
       {R"({"arch": "vnet", "num_classes": 2, "strides": [[2, 2, 3]]})",
        R"({"arch": "vnet", "num_classes": 2, "strides": [[2,2,2],[2,2,2],[2,2,2],[2,2,3]]})",
        R"({"arch": "unet2d", "num_classes": 2, "strides": [[2,2,2],[2,2,2],[2,2,2],[2,2,2]]})",
        R"({"arch": "vnet", "num_classes": 2, "strides": [[2, 2]]})"})
    EXPECT_THROW(nlohmann::json::parse(bad).get<ModelConfig>(), std::invalid_argument) << bad;
}

TEST(VNetStrides, Bf16ComputeCopyTrainsTheSameShapes) {
  torch::manual_seed(1);
  auto net = bcp::nets::make_model(thick_slices());
  net->train();
  bcp::nets::ComputeCopy copy(*net, torch::kBFloat16);
  copy.pull();
  const auto x = torch::randn({2, 1, 32, 16, 4});
  const auto logits = copy.forward(x);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 3, 32, 16, 4}));
  EXPECT_EQ(logits.scalar_type(), torch::kFloat32);
  logits.sum().backward();
  copy.push_grads();
  const auto* grad = net->named_parameters().find("decoder.block_five_up.conv.0.weight");
  ASSERT_NE(grad, nullptr);
  ASSERT_TRUE(grad->grad().defined());
  EXPECT_GT(grad->grad().abs().sum().item<double>(), 0.0);
  // fp32 and bf16 logits agree to bf16's precision.
  torch::NoGradGuard no_grad;
  net->eval();
  copy.pull();
  const auto a = net->forward(x), b = copy.forward(x);
  EXPECT_LT((a - b).abs().max().item<double>(), 0.1 * (a.abs().max().item<double>() + 1));
}

}  // namespace bcp_test_vnet_strides
