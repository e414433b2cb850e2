// Layout, modes and cloning of the two BCP networks (parity with the authors' outputs is in
// test_parity.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <set>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/nets/state_dict.h"
#include "bcp/nets/unet2d.h"
#include "bcp/nets/vnet.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_networks {

using namespace bcp::nets;

namespace {

std::set<std::string> module_keys(const torch::nn::Module& m) {
  std::set<std::string> keys;
  for (const auto& [k, v] : state_dict(m))
    if (k.find("num_batches_tracked") == std::string::npos) keys.insert(k);
  return keys;
}

std::set<std::string> fixture_keys(const std::string& path) {
  auto names = bcp::io::H5File(path).list("weights");
  return {names.begin(), names.end()};
}

ModelConfig cfg(const std::string& arch, int64_t classes) {
  ModelConfig c;
  c.arch = bcp::util::parse_enum<bcp::nets::Arch>(arch);
  c.num_classes = classes;
  return c;
}

}  // namespace

TEST(Networks, UNetKeysAreTheReferenceKeys) {
  auto path = bcp::test::parity_file("unet2d.h5");
  BCP_REQUIRE_SHARED(path);
  UNet2d net(UNet2dOptions(1, 4));
  EXPECT_EQ(module_keys(*net), fixture_keys(path.string()));
  EXPECT_TRUE(module_keys(*net).count("encoder.down1.maxpool_conv.1.conv_conv.0.weight"));
}

TEST(Networks, VNetKeysAreTheReferenceKeys) {
  auto path = bcp::test::parity_file("vnet.h5");
  BCP_REQUIRE_SHARED(path);
  VNet net(VNetOptions(1, 2));
  EXPECT_EQ(module_keys(*net), fixture_keys(path.string()));
  EXPECT_TRUE(module_keys(*net).count("decoder.block_five_up.conv.0.weight"));
}

TEST(Networks, ParameterCountsMatchTheReference) {
  // Reference counts of UNet_2d / VNet encoder+decoder (heads excluded):
  // UNet 1,813,764; VNet 9,448,866 (n_filters 16, batchnorm), as summed over the fixtures.
  auto count = [](const torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
  };
  EXPECT_EQ(count(*make_model(cfg("unet2d", 4))), 1813764);
  EXPECT_EQ(count(*make_model(cfg("vnet", 2))), 9448866);
}

TEST(Networks, OutputShapesAndFeatures) {
  auto unet = make_model(cfg("unet2d", 4));
  unet->eval();
  torch::NoGradGuard no_grad;
  auto out = unet->forward_with_features(torch::randn({2, 1, 32, 48}));
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 4, 32, 48}));
  EXPECT_EQ(out.features.sizes(), (std::vector<int64_t>{2, 16, 32, 48}));
  auto vnet = make_model(cfg("vnet", 2));
  vnet->eval();
  auto x = torch::randn({1, 1, 16, 32, 16});
  auto v = vnet->forward_with_features(x);
  EXPECT_EQ(v.logits.sizes(), (std::vector<int64_t>{1, 2, 16, 32, 16}));
  EXPECT_EQ(v.features.sizes(), (std::vector<int64_t>{1, 16, 16, 32, 16}));
  EXPECT_TRUE(torch::equal(vnet->forward(x), v.logits));
  EXPECT_TRUE(torch::equal(vnet->forward_features(x), v.features));
}

TEST(Networks, BadInputShapesAreRefusedWithTheShape) {
  auto unet = make_model(cfg("unet2d", 4));
  try {
    unet->forward(torch::randn({1, 1, 30, 32}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("divisible by 16"), std::string::npos) << e.what();
  }
  EXPECT_THROW(unet->forward(torch::randn({1, 2, 32, 32})), c10::Error);
  EXPECT_THROW(make_model(cfg("vnet", 2))->forward(torch::randn({1, 1, 32, 32})), c10::Error);
}

TEST(Networks, DropoutActsInTrainModeOnly) {
  torch::manual_seed(0);
  // Four halvings leave 2x2x2 x batch 2 at the bottleneck: enough values for train-mode BatchNorm.
  auto x = torch::randn({2, 1, 32, 32, 32});
  for (bool has_dropout : {true, false}) {
    ModelConfig c = cfg("vnet", 2);
    c.has_dropout = has_dropout;
    auto net = make_model(c);
    torch::NoGradGuard no_grad;
    net->eval();
    EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x)));
    // Train mode without dropout is deterministic too (BatchNorm uses batch statistics).
    net->train();
    auto a = net->forward(x), b = net->forward(x);
    EXPECT_EQ(torch::equal(a, b), !has_dropout) << "has_dropout=" << has_dropout;
  }
  auto unet = make_model(cfg("unet2d", 4));
  torch::NoGradGuard no_grad;
  unet->train();
  auto y = torch::randn({2, 1, 32, 32});
  EXPECT_FALSE(torch::equal(unet->forward(y), unet->forward(y)));
  unet->eval();
  EXPECT_TRUE(torch::equal(unet->forward(y), unet->forward(y)));
}

TEST(Networks, ConfigRoundTripsThroughJsonAndRejectsTypos) {
  ModelConfig c = cfg("vnet", 2);
  c.has_dropout = false;
  nlohmann::json j = c;
  EXPECT_EQ(j["arch"], "vnet");
  ModelConfig back = j.get<ModelConfig>();
  EXPECT_EQ(nlohmann::json(back), j);
  EXPECT_EQ(nlohmann::json(make_model(c)->config()), j);
  EXPECT_EQ(nlohmann::json(make_model(cfg("unet2d", 4))->config()),
            nlohmann::json(cfg("unet2d", 4)));

  auto expect_error = [](const nlohmann::json& bad, const std::string& needle) {
    try {
      (void)bad.get<ModelConfig>();
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"arch", "vnet"}, {"num_classes", 2}, {"has_dropuot", true}}, "has_dropuot");
  expect_error({{"arch", "unet3d"}, {"num_classes", 2}}, "unet3d");
  expect_error({{"arch", "vnet"}}, "num_classes");
  expect_error({{"arch", "vnet"}, {"num_classes", 1}}, "num_classes");
  expect_error({{"arch", "vnet"}, {"num_classes", "2"}}, "num_classes");
}

TEST(Networks, CloneIsDeepKeepsModeAndConsumesNoRandomNumbers) {
  auto net = make_model(cfg("unet2d", 4));
  net->eval();
  torch::manual_seed(7);
  auto before = torch::rand({4});
  torch::manual_seed(7);
  auto copy = net->clone_net();
  EXPECT_TRUE(torch::equal(torch::rand({4}), before)) << "clone drew from the global generator";
  EXPECT_FALSE(copy->is_training());
  auto a = state_dict(*net), b = state_dict(*copy);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, v] : a) {
    EXPECT_TRUE(torch::equal(v, b.at(k))) << k;
    EXPECT_NE(v.data_ptr(), b.at(k).data_ptr()) << k << " shares storage";
  }
  // Module::clone goes through the same path.
  auto generic = std::dynamic_pointer_cast<SegmentationNetImpl>(net->clone());
  ASSERT_TRUE(generic);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 1, 32, 32});
  EXPECT_TRUE(torch::equal(generic->forward(x), net->forward(x)));
  // bf16 copies keep their dtype.
  net->to(torch::kBFloat16);
  EXPECT_EQ(net->clone_net()->parameters()[0].scalar_type(), torch::kBFloat16);
}

}  // namespace bcp_test_networks
