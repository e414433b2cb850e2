#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/ssl/ema.h"

namespace {

struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    bn = register_module("bn", torch::nn::BatchNorm1d(2));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(Tiny);

// Fills every parameter and float buffer with `v` (dyadic, so the blend below is exact).
void fill(Tiny& m, float v, int64_t batches) {
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.fill_(v);
  m->bn->running_mean.fill_(v);
  m->bn->running_var.fill_(v + 1);
  m->bn->num_batches_tracked.fill_(batches);
}

TEST(Ema, ParametersOnly) {
  Tiny teacher, student;
  fill(teacher, 1.0f, 10);
  fill(student, 3.0f, 20);
  bcp::ssl::ema_update(*teacher, *student, 0.75, /*include_buffers=*/false);
  for (auto& p : teacher->parameters())
    EXPECT_TRUE(torch::equal(p, torch::full_like(p, 1.5f)));  // 0.75*1 + 0.25*3
  // Buffers untouched (the LA recipe).
  EXPECT_TRUE(torch::equal(teacher->bn->running_mean, torch::full({2}, 1.0f)));
  EXPECT_TRUE(torch::equal(teacher->bn->running_var, torch::full({2}, 2.0f)));
  EXPECT_EQ(teacher->bn->num_batches_tracked.item<int64_t>(), 10);
  // The student is read only.
  for (auto& p : student->parameters()) EXPECT_TRUE(torch::equal(p, torch::full_like(p, 3.0f)));
  EXPECT_TRUE(teacher->fc->weight.requires_grad());
}

TEST(Ema, WithBuffers) {
  Tiny teacher, student;
  fill(teacher, 1.0f, 10);
  fill(student, 3.0f, 21);
  bcp::ssl::ema_update(*teacher, *student, 0.75, /*include_buffers=*/true);
  for (auto& p : teacher->parameters()) EXPECT_TRUE(torch::equal(p, torch::full_like(p, 1.5f)));
  EXPECT_TRUE(torch::equal(teacher->bn->running_mean, torch::full({2}, 1.5f)));
  EXPECT_TRUE(torch::equal(teacher->bn->running_var, torch::full({2}, 2.5f)));  // .75*2 + .25*4
  // num_batches_tracked: 0.75*10 + 0.25*21 = 12.75, truncated to 12 (authors' load_state_dict).
  EXPECT_EQ(teacher->bn->num_batches_tracked.item<int64_t>(), 12);
  EXPECT_EQ(teacher->bn->num_batches_tracked.scalar_type(), torch::kInt64);
}

TEST(Ema, ArbitraryValuesAndDecay) {
  torch::manual_seed(0);
  Tiny teacher, student;
  auto before = teacher->fc->weight.detach().clone();
  bcp::ssl::ema_update(*teacher, *student, 0.99, true);
  auto want = before * 0.99 + student->fc->weight.detach() * (1.0 - 0.99);
  EXPECT_TRUE(torch::equal(teacher->fc->weight.detach(), want));
  // decay 1 keeps the teacher; decay 0 copies the student.
  auto kept = teacher->fc->weight.detach().clone();
  bcp::ssl::ema_update(*teacher, *student, 1.0, true);
  EXPECT_TRUE(torch::equal(teacher->fc->weight.detach(), kept));
  bcp::ssl::ema_update(*teacher, *student, 0.0, true);
  EXPECT_TRUE(torch::equal(teacher->fc->weight.detach(), student->fc->weight.detach()));
}

TEST(Ema, RejectsMismatchedModules) {
  Tiny teacher;
  torch::nn::Linear other(3, 2);
  EXPECT_THROW(bcp::ssl::ema_update(*teacher, *other, 0.9, false), std::invalid_argument);
  Tiny student;
  EXPECT_THROW(bcp::ssl::ema_update(*teacher, *student, 1.5, false), std::invalid_argument);
}

}  // namespace
