// One training step's network work (forward + backward, train mode, loss = mean of the logits)
// at the paper's batch shapes: UNet2d on (24, 1, 256, 256) (ACDC batch 24) and VNet on
// (4, 1, 112, 112, 80) (LA: each student forward sees 4 mixed patches).
//   build-*/bcp_bench --benchmark_filter='Nets'
// Variants: fp32 in the default layout, fp32 channels-last, and bf16 channels-last (model and
// input cast to bf16, no autocast). One untimed warm-up step precedes the timed ones (oneDNN
// builds its kernels on first use). BCP_BENCH_DEVICE=cuda runs them on a GPU.
// Counters: threads (torch::get_num_threads) and samples_per_s.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>

#include "bcp/nets/segmentation_net.h"

namespace {

enum class Variant { kFp32, kFp32ChannelsLast, kBf16ChannelsLast };

torch::Device bench_device() {
  const char* env = std::getenv("BCP_BENCH_DEVICE");
  return torch::Device(env ? env : "cpu");
}

void train_step(bcp::nets::SegmentationNetImpl& net, const torch::Tensor& x) {
  net.zero_grad();
  net.forward(x).to(torch::kFloat32).mean().backward();
}

void run(benchmark::State& state, const std::string& arch, std::vector<int64_t> shape,
         Variant variant) {
  torch::manual_seed(1337);
  bcp::nets::ModelConfig config;
  config.arch = bcp::util::parse_enum<bcp::nets::Arch>(arch);
  config.num_classes = arch == "unet2d" ? 4 : 2;
  auto net = bcp::nets::make_model(config);
  const torch::Device device = bench_device();
  const bool cl = variant != Variant::kFp32;
  const auto format =
      shape.size() == 4 ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::ChannelsLast3d;
  const auto dtype = variant == Variant::kBf16ChannelsLast ? torch::kBFloat16 : torch::kFloat32;
  net->to(device, dtype);
  if (cl) {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters())
      if (p.dim() == static_cast<int64_t>(shape.size())) p.set_data(p.contiguous(format));
  }
  net->train();
  torch::Tensor x = torch::randn(shape).to(device, dtype);
  if (cl) x = x.contiguous(format);

  train_step(*net, x);  // warm-up
  if (device.is_cuda()) torch::cuda::synchronize();
  for (auto _ : state) {
    train_step(*net, x);
    if (device.is_cuda()) torch::cuda::synchronize();
  }
  state.counters["threads"] = torch::get_num_threads();
  state.counters["samples_per_s"] = benchmark::Counter(
      static_cast<double>(shape[0] * state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Nets_UNet2d_Fp32(benchmark::State& s) {
  run(s, "unet2d", {24, 1, 256, 256}, Variant::kFp32);
}
void BM_Nets_UNet2d_Fp32ChannelsLast(benchmark::State& s) {
  run(s, "unet2d", {24, 1, 256, 256}, Variant::kFp32ChannelsLast);
}
void BM_Nets_UNet2d_Bf16ChannelsLast(benchmark::State& s) {
  run(s, "unet2d", {24, 1, 256, 256}, Variant::kBf16ChannelsLast);
}
void BM_Nets_VNet_Fp32(benchmark::State& s) {
  run(s, "vnet", {4, 1, 112, 112, 80}, Variant::kFp32);
}
void BM_Nets_VNet_Fp32ChannelsLast(benchmark::State& s) {
  run(s, "vnet", {4, 1, 112, 112, 80}, Variant::kFp32ChannelsLast);
}
void BM_Nets_VNet_Bf16ChannelsLast(benchmark::State& s) {
  run(s, "vnet", {4, 1, 112, 112, 80}, Variant::kBf16ChannelsLast);
}

}  // namespace

BENCHMARK(BM_Nets_UNet2d_Fp32)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Nets_UNet2d_Fp32ChannelsLast)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Nets_UNet2d_Bf16ChannelsLast)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Nets_VNet_Fp32)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Nets_VNet_Fp32ChannelsLast)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Nets_VNet_Bf16ChannelsLast)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
