#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/eval/channel_argmax.h"

TEST(ChannelArgmax, EqualsArgmaxOverDimOneWithTies) {
  torch::manual_seed(0);
  // Small integers make ties common: the first maximum must win, as in torch.argmax.
  for (auto shape : {std::vector<int64_t>{3, 4, 17, 9}, std::vector<int64_t>{2, 2, 5, 6, 7}}) {
    auto x = torch::randint(0, 3, shape).to(torch::kFloat32);
    EXPECT_TRUE(torch::equal(bcp::eval::channel_argmax(x), x.argmax(1)));
    auto y = torch::softmax(torch::randn(shape), 1);
    EXPECT_TRUE(torch::equal(bcp::eval::channel_argmax(y), y.argmax(1)));
  }
  EXPECT_THROW(bcp::eval::channel_argmax(torch::zeros({3})), c10::Error);
}
