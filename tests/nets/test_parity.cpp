// Parity with the authors' networks: their weights loaded by key name must reproduce the logits
// they computed (shared/parity/unet2d.h5, vnet.h5), in eval mode.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/nets/state_dict.h"
#include "bcp/nets/unet2d.h"
#include "bcp/nets/vnet.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_parity {

using namespace bcp::nets;

namespace {

// Absolute tolerance on logits, as the fixtures' README states: float32 reference vs our float32
// forward, different conv algorithms and summation orders.
constexpr double kLogitTolerance = 1e-4;

void expect_parity(SegmentationNetImpl& net, const std::string& path) {
  load_state_dict_h5(net, path, "weights", /*strict=*/true);
  bcp::io::H5File f(path);
  torch::Tensor input = f.read("input"), expected = f.read("logits");
  net.eval();
  torch::NoGradGuard no_grad;
  torch::Tensor logits = net.forward(input);
  ASSERT_EQ(logits.sizes(), expected.sizes());
  const double err = (logits - expected).abs().max().item<double>();
  const double scale = expected.abs().max().item<double>();
  ::testing::Test::RecordProperty("max_abs_error", std::to_string(err));
  EXPECT_LT(err, kLogitTolerance) << path << ": max |logits - reference| = " << err
                                  << " (reference max |logit| " << scale << ")";
}

}  // namespace

TEST(NetsParity, UNet2dMatchesReferenceLogits) {
  auto path = bcp::test::parity_file("unet2d.h5");
  BCP_REQUIRE_SHARED(path);
  UNet2d net(UNet2dOptions(1, 4));
  expect_parity(*net, path.string());
}

TEST(NetsParity, VNetMatchesReferenceLogits) {
  auto path = bcp::test::parity_file("vnet.h5");
  BCP_REQUIRE_SHARED(path);
  VNet net(VNetOptions(1, 2));  // has_dropout as BCP's train factory; inert in eval mode
  expect_parity(*net, path.string());
}

TEST(NetsParity, ChannelsLastGivesTheSameLogits) {
  auto path = bcp::test::parity_file("unet2d.h5");
  BCP_REQUIRE_SHARED(path);
  UNet2d net(UNet2dOptions(1, 4));
  load_state_dict_h5(*net, path.string());
  net->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor input = bcp::io::read_h5(path.string(), "input");
  torch::Tensor expected = bcp::io::read_h5(path.string(), "logits");
  net->to(torch::kCPU, torch::kFloat32);
  for (auto& p : net->parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  torch::Tensor logits = net->forward(input.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_LT((logits - expected).abs().max().item<double>(), kLogitTolerance);
}

}  // namespace bcp_test_parity
