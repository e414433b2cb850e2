#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "../support.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/model_archive.h"
#include "bcp/nets/state_dict.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_model_archive {

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

ModelConfig cfg(const std::string& arch, int64_t classes) {
  ModelConfig c;
  c.arch = bcp::util::parse_enum<bcp::nets::Arch>(arch);
  c.num_classes = classes;
  return c;
}

// Moves the BN statistics off their initial values, so the round trip covers real buffers.
void train_a_little(SegmentationNetImpl& net, const torch::Tensor& x) {
  net.train();
  torch::NoGradGuard no_grad;
  net.forward(x);
  net.forward(x * 2);
}

}  // namespace

TEST(ModelArchive, SaveLoadIsBitIdenticalForBothNetworks) {
  for (const auto& [c, shape] :
       {std::pair{cfg("unet2d", 4), std::vector<int64_t>{2, 1, 32, 32}},
        std::pair{cfg("vnet", 2), std::vector<int64_t>{2, 1, 32, 32, 32}}}) {
    fs::path p = bcp::test::process_temp_dir() /
                 ("bcp_test_model_" + std::string(bcp::util::name_of(c.arch)) + ".h5");
    auto net = make_model(c);
    auto x = torch::randn(shape);
    train_a_little(*net, x);
    nlohmann::json extra = {{"iteration", 600}, {"best_dice", 0.426}};
    save_model(p.string(), *net, c, extra);

    LoadedModel back = load_model(p.string());
    EXPECT_EQ(nlohmann::json(back.config), nlohmann::json(c));
    EXPECT_EQ(back.meta, extra);
    EXPECT_FALSE(back.model->is_training());
    auto a = state_dict(*net), b = state_dict(*back.model);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [k, v] : a)
      EXPECT_TRUE(torch::equal(v, b.at(k))) << bcp::util::name_of(c.arch) << " " << k;
    net->eval();
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(net->forward(x), back.model->forward(x)))
        << bcp::util::name_of(c.arch);
    fs::remove(p);
  }
}

TEST(ModelArchive, SeveralNetworksUnderPrefixes) {
  fs::path p = bcp::test::process_temp_dir() / "bcp_test_model_prefixes.h5";
  auto student = make_model(cfg("unet2d", 4));
  auto teacher = make_model(cfg("unet2d", 4));
  std::map<std::string, torch::Tensor> tensors;
  nlohmann::json meta;
  add_model_to_archive(tensors, meta, "student", *student);
  add_model_to_archive(tensors, meta, "teacher", *teacher);
  tensors["optim/0"] = torch::randn({3});
  tensors["rng/cpu"] = torch::randint(0, 255, {16}).to(torch::kUInt8);
  meta["iteration"] = 42;
  bcp::io::save_tensor_archive(p.string(), tensors, meta);

  auto s = load_model(p.string(), "student");
  auto t = load_model(p.string(), "teacher");
  auto sa = state_dict(*student), sb = state_dict(*s.model), tb = state_dict(*t.model);
  for (const auto& [k, v] : sa) EXPECT_TRUE(torch::equal(v, sb.at(k))) << k;
  EXPECT_FALSE(torch::equal(tb.at("decoder.out_conv.weight"), sa.at("decoder.out_conv.weight")));
  std::string msg = error_of([&] { load_model(p.string()); });
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("prefix ''"), std::string::npos) << msg;
  fs::remove(p);
}

TEST(ModelArchive, ConfigMustDescribeTheNetwork) {
  auto net = make_model(cfg("unet2d", 4));
  std::string msg =
      error_of([&] { save_model("/tmp/bcp_never_written.h5", *net, cfg("unet2d", 3)); });
  EXPECT_NE(msg.find("does not describe"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists("/tmp/bcp_never_written.h5"));
}

TEST(ModelArchive, DamagedWeightsNameTheFileAndKey) {
  fs::path p = bcp::test::process_temp_dir() / "bcp_test_model_damaged.h5";
  auto net = make_model(cfg("unet2d", 4));
  std::map<std::string, torch::Tensor> tensors;
  nlohmann::json meta;
  add_model_to_archive(tensors, meta, "", *net);
  tensors.erase("decoder.up4.conv1x1.weight");
  bcp::io::save_tensor_archive(p.string(), tensors, meta);
  std::string msg = error_of([&] { load_model(p.string()); });
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("decoder.up4.conv1x1.weight"), std::string::npos) << msg;

  fs::resize_file(p, fs::file_size(p) - 1000);
  msg = error_of([&] { load_model(p.string()); });
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  fs::remove(p);

  auto fixture = bcp::test::parity_file("unet2d.h5");
  if (fs::exists(fixture)) {
    msg = error_of([&] { load_model(fixture.string()); });
    EXPECT_NE(msg.find("not a bcp tensor archive"), std::string::npos) << msg;
  }
}

}  // namespace bcp_test_model_archive
