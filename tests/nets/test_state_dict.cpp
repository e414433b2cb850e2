#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <limits>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/nets/state_dict.h"
#include "bcp/nets/unet2d.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_state_dict {

using namespace bcp::nets;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::map<std::string, torch::Tensor> cloned(const std::map<std::string, torch::Tensor>& sd) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : sd) out[k] = v.clone();
  return out;
}

}  // namespace

TEST(StateDict, RoundTripsAndToleratesMissingNumBatchesTracked) {
  UNet2d a(UNet2dOptions(1, 4)), b(UNet2dOptions(1, 4));
  auto sd = cloned(state_dict(*a));
  EXPECT_TRUE(sd.count("encoder.in_conv.conv_conv.1.num_batches_tracked"));
  EXPECT_TRUE(sd.count("decoder.up1.conv.conv_conv.5.running_var"));
  for (auto it = sd.begin(); it != sd.end();)
    it = it->first.find("num_batches_tracked") != std::string::npos ? sd.erase(it) : std::next(it);
  load_state_dict(*b, sd);
  auto sb = state_dict(*b);
  for (const auto& [k, v] : sd) EXPECT_TRUE(torch::equal(v, sb.at(k))) << k;
  // Parameters stay leaves that train.
  EXPECT_TRUE(b->parameters()[0].requires_grad());
  EXPECT_TRUE(b->parameters()[0].is_leaf());
}

TEST(StateDict, MismatchesNameTheKeyAndLeaveTheModuleUntouched) {
  UNet2d net(UNet2dOptions(1, 4));
  const auto before = cloned(state_dict(*net));
  const std::string key = "decoder.out_conv.weight";

  auto missing = cloned(before);
  missing.erase(key);
  std::string msg = error_of([&] { load_state_dict(*net, missing); });
  EXPECT_NE(msg.find("missing key"), std::string::npos) << msg;
  EXPECT_NE(msg.find(key), std::string::npos) << msg;
  EXPECT_NO_THROW(load_state_dict(*net, missing, /*strict=*/false));

  auto extra = cloned(before);
  extra["decoder.projection_head.0.weight"] = torch::zeros({32, 16});
  msg = error_of([&] { load_state_dict(*net, extra); });
  EXPECT_NE(msg.find("unexpected key 'decoder.projection_head.0.weight'"), std::string::npos)
      << msg;

  auto wrong = cloned(before);
  wrong[key] = torch::ones({4, 16, 1, 1});
  msg = error_of([&] { load_state_dict(*net, wrong, /*strict=*/false); });
  EXPECT_NE(msg.find("shape mismatch for key '" + key + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 16, 3, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 16, 1, 1]"), std::string::npos) << msg;

  auto nan = cloned(before);
  nan[key][0][0][1][1] = std::numeric_limits<float>::quiet_NaN();
  msg = error_of([&] { load_state_dict(*net, nan); });
  EXPECT_NE(msg.find("key '" + key + "' holds NaN or Inf values"), std::string::npos) << msg;

  auto after = state_dict(*net);
  for (const auto& [k, v] : before) EXPECT_TRUE(torch::equal(v, after.at(k))) << k;
}

TEST(StateDict, H5ErrorsNameTheFileAndKey) {
  fs::path p = bcp::test::process_temp_dir() / "bcp_test_state_dict_bad.h5";
  UNet2d net(UNet2dOptions(1, 4));
  {
    bcp::io::H5File out(p.string(), bcp::io::H5File::Mode::kTruncate);
    for (const auto& [k, v] : state_dict(*net))
      if (k != "encoder.in_conv.conv_conv.0.bias") out.write("weights/" + k, v);
  }
  std::string msg = error_of([&] { load_state_dict_h5(*net, p.string()); });
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder.in_conv.conv_conv.0.bias"), std::string::npos) << msg;
  msg = error_of([&] { load_state_dict_h5(*net, p.string(), "no_such_group"); });
  EXPECT_NE(msg.find("no_such_group"), std::string::npos) << msg;
  fs::remove(p);
  // A VNet fixture into a UNet: every key is unexpected or missing.
  auto vnet = bcp::test::parity_file("vnet.h5");
  if (fs::exists(vnet)) {
    msg = error_of([&] { load_state_dict_h5(*net, vnet.string()); });
    EXPECT_NE(msg.find("vnet.h5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing key"), std::string::npos) << msg;
  }
}

}  // namespace bcp_test_state_dict
