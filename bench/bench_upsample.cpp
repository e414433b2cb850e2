// The UNet's largest bilinear upsampling (6 x 16 x 128 x 128 -> 256 x 256, align_corners) in
// bf16 channels-last, forward and backward: bcp's kernel against LibTorch in fp32 with casts
// (what the bf16 UNet did before).
//   build/bcp_bench --benchmark_filter=Upsample
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bcp/kernels/bilinear_upsample.h"

namespace {

template <typename Up>
void run_upsample(benchmark::State& state, const Up& up) {
  torch::manual_seed(1);
  const auto cl = torch::MemoryFormat::ChannelsLast;
  const auto x0 = torch::randn({6, 16, 128, 128}).to(torch::kBFloat16).contiguous(cl);
  const auto dy = torch::randn({6, 16, 256, 256}).to(torch::kBFloat16).contiguous(cl);
  auto x = x0.clone().requires_grad_(true);
  for (auto _ : state) {
    x.mutable_grad() = torch::Tensor();
    up(x).backward(dy);
    benchmark::DoNotOptimize(x.grad().data_ptr());
  }
}

void BM_Upsample_Bf16Kernel(benchmark::State& state) {
  run_upsample(state,
               [](const torch::Tensor& x) { return bcp::kernels::bilinear_upsample(x, 256, 256); });
}
void BM_Upsample_Fp32WithCasts(benchmark::State& state) {
  run_upsample(state, [](const torch::Tensor& x) {
    return torch::upsample_bilinear2d(x.to(torch::kFloat32), {256, 256}, true).to(torch::kBFloat16);
  });
}
BENCHMARK(BM_Upsample_Bf16Kernel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Upsample_Fp32WithCasts)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
