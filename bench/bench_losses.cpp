// The mixed loss of one BCP student pass, forward and backward, at ACDC's and LA's shapes:
// LibTorch's operators (fp32 training) against the fused loss (bf16 training).
//   build/bcp_bench --benchmark_filter=Loss
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bcp/kernels/fused_mix_loss.h"
#include "bcp/train/losses.h"

namespace {

struct MixInputs {
  torch::Tensor logits, img_label, patch_label, mask;
};

MixInputs la_inputs() {
  torch::manual_seed(0);
  MixInputs in;
  in.logits = torch::randn({4, 2, 112, 112, 80}) * 3;
  in.img_label = torch::randint(0, 2, {4, 112, 112, 80}, torch::kUInt8);
  in.patch_label = torch::randint(0, 2, {4, 112, 112, 80}, torch::kUInt8);
  in.mask = torch::ones({112, 112, 80});
  in.mask.slice(0, 20, 95).slice(1, 20, 95).slice(2, 15, 68).zero_();
  return in;
}

MixInputs acdc_inputs() {
  torch::manual_seed(0);
  MixInputs in;
  in.logits = torch::randn({6, 4, 256, 256}) * 3;
  in.img_label = torch::randint(0, 4, {6, 256, 256}, torch::kUInt8);
  in.patch_label = torch::randint(0, 4, {6, 256, 256}, torch::kUInt8);
  in.mask = torch::ones({256, 256});
  in.mask.slice(0, 40, 210).slice(1, 60, 230).zero_();
  return in;
}

template <typename Loss>
void run_mix_loss(benchmark::State& state, const Loss& loss, const MixInputs& in) {
  torch::Tensor logits = in.logits.clone().requires_grad_(true);
  for (auto _ : state) {
    logits.mutable_grad() = torch::Tensor();
    auto r = loss(logits, in.img_label, in.patch_label, in.mask, 1.0, 0.5, true);
    ((r.dice + r.ce) / 2).backward();
    benchmark::DoNotOptimize(logits.grad().data_ptr());
  }
}

void BM_Loss_AcdcMix(benchmark::State& state) {
  run_mix_loss(state, bcp::train::acdc_mix_loss, acdc_inputs());
}
void BM_Loss_AcdcMixFused(benchmark::State& state) {
  run_mix_loss(state, bcp::kernels::fused_acdc_mix_loss, acdc_inputs());
}
// LA at its shape (4 x 2 x 112 x 112 x 80).
void BM_Loss_LaMix(benchmark::State& state) {
  run_mix_loss(state, bcp::train::la_mix_loss_parts, la_inputs());
}
void BM_Loss_LaMixFused(benchmark::State& state) {
  run_mix_loss(state, bcp::kernels::fused_la_mix_loss_parts, la_inputs());
}
BENCHMARK(BM_Loss_AcdcMix)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Loss_AcdcMixFused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Loss_LaMix)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Loss_LaMixFused)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
