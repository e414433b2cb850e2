// LA sliding-window inference with a randomly initialised VNet (16 filters, the paper's) on a real
// validation volume, window batch 1 (the authors' loop) against 4.
//   build-*/bcp_bench --benchmark_filter='SlidingWindow'
// "Crop" runs the centre 130x130x88 of the volume (2x2x3 = 12 windows) so a CPU run takes
// seconds; "Full" runs the whole volume (72 windows for 193x159x88) once. Use BCP_BENCH_DEVICE=cuda
// to run on a GPU. Counters: windows and windows_per_s.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "../tests/source_paths.h"
#include "bcp/eval/sliding_window.h"
#include "bcp/io/h5.h"
#include "bcp/nets/segmentation_net.h"

namespace fs = std::filesystem;

namespace {

using bcp::test::shared_dir;

torch::Device bench_device() {
  const char* env = std::getenv("BCP_BENCH_DEVICE");
  return torch::Device(env ? env : "cpu");
}

/// The first LA validation volume, on `device`; undefined when ../shared is absent.
torch::Tensor la_volume(bool crop, torch::Device device) {
  const auto la = shared_dir() / "data" / "LA";
  std::ifstream list(la / "val.list");
  std::string id;
  if (!std::getline(list, id)) return {};
  const auto path = la / "2018LA_Seg_Training Set" / id / "mri_norm2.h5";
  if (!fs::exists(path)) return {};
  auto image = bcp::io::read_h5(path.string(), "image");
  if (crop) {
    using torch::indexing::Slice;
    const int64_t x0 = std::max<int64_t>(0, (image.size(0) - 130) / 2);
    const int64_t y0 = std::max<int64_t>(0, (image.size(1) - 130) / 2);
    image = image.index({Slice(x0, x0 + 130), Slice(y0, y0 + 130), Slice()}).contiguous();
  }
  return image.to(device);
}

void run_sliding_window(benchmark::State& state, bool crop) {
  const auto device = bench_device();
  auto volume = la_volume(crop, device);
  if (!volume.defined()) {
    state.SkipWithError("needs ../shared/data/LA");
    return;
  }
  torch::manual_seed(1337);
  bcp::nets::ModelConfig config;
  config.arch = bcp::nets::Arch::kVNet;
  config.num_classes = 2;
  auto net = bcp::nets::make_model(config);
  net->to(device);
  net->eval();
  torch::NoGradGuard no_grad;
  bcp::eval::SlidingWindowOptions opt;
  opt.window_batch = state.range(0);
  auto predictor = [&](const torch::Tensor& x) { return net->forward(x); };
  const auto windows = bcp::eval::sliding_window_grid(
                           {volume.size(0), volume.size(1), volume.size(2)}, opt.patch, opt.stride)
                           .starts.size();
  for (auto _ : state) {
    auto prob = bcp::eval::sliding_window_probability(volume, predictor, 2, opt);
    if (device.is_cuda()) torch::cuda::synchronize();
    benchmark::DoNotOptimize(prob.data_ptr());
  }
  state.counters["windows"] = static_cast<double>(windows);
  state.counters["windows_per_s"] =
      benchmark::Counter(static_cast<double>(windows) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_SlidingWindowLaCrop(benchmark::State& state) {
  run_sliding_window(state, true);
}
void BM_SlidingWindowLaFull(benchmark::State& state) {
  run_sliding_window(state, false);
}

}  // namespace

BENCHMARK(BM_SlidingWindowLaCrop)
    ->Arg(1)
    ->Arg(4)
    ->Iterations(2)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK(BM_SlidingWindowLaFull)
    ->Arg(1)
    ->Arg(4)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
