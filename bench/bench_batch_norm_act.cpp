// The UNet's largest fused batch norm + leaky ReLU + dropout (6 x 16 x 256 x 256, bf16
// channels-last, training mode), forward alone and forward + backward, beside a copy of the same
// tensor: how far the fused kernel is from the memory's speed.
//   build/bcp_bench --benchmark_filter=BatchNormAct
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bcp/kernels/batch_norm_act.h"

namespace {

struct Layer {
  torch::Tensor x, dy, weight, bias, mean, var;
  Layer() {
    torch::manual_seed(1);
    const auto cl = torch::MemoryFormat::ChannelsLast;
    x = torch::randn({6, 16, 256, 256}).to(torch::kBFloat16).contiguous(cl);
    dy = torch::randn({6, 16, 256, 256}).to(torch::kBFloat16).contiguous(cl);
    weight = torch::rand({16}) + 0.5;
    bias = torch::randn({16});
    mean = torch::zeros({16});
    var = torch::ones({16});
  }
  torch::Tensor forward(const torch::Tensor& in, double dropout) {
    return bcp::kernels::batch_norm_leaky_relu(in, weight, bias, mean, var, 0.1, 1e-5, 0.01,
                                               dropout);
  }
};

void BM_BatchNormAct_Forward(benchmark::State& state) {
  Layer l;
  torch::NoGradGuard no_grad;
  const double dropout = static_cast<double>(state.range(0)) / 100.0;
  for (auto _ : state) benchmark::DoNotOptimize(l.forward(l.x, dropout).data_ptr());
}

void BM_BatchNormAct_ForwardBackward(benchmark::State& state) {
  Layer l;
  const double dropout = static_cast<double>(state.range(0)) / 100.0;
  auto x = l.x.clone().requires_grad_(true);
  for (auto _ : state) {
    x.mutable_grad() = torch::Tensor();
    l.forward(x, dropout).backward(l.dy);
    benchmark::DoNotOptimize(x.grad().data_ptr());
  }
}

// The memory's speed on the same tensor: one read and one write.
void BM_BatchNormAct_CopyBaseline(benchmark::State& state) {
  Layer l;
  auto y = torch::empty_like(l.x);
  for (auto _ : state) benchmark::DoNotOptimize(y.copy_(l.x).data_ptr());
  state.SetBytesProcessed(state.iterations() * l.x.nbytes() * 2);
}

BENCHMARK(BM_BatchNormAct_Forward)->Arg(0)->Arg(50)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BatchNormAct_ForwardBackward)
    ->Arg(0)
    ->Arg(50)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BatchNormAct_CopyBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
