// The bf16 compute copy's bookkeeping around a training step: pull() (fp32 master weights into
// the bf16 channels-last copy) and push_grads() (its gradients back into fp32 plain layout), for
// the UNet2d of ACDC.
//   build/bcp_bench --benchmark_filter=ComputeCopy
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bcp/nets/compute_copy.h"
#include "bcp/nets/segmentation_net.h"

namespace {

void BM_ComputeCopy_UNet2d_PullAndPushGrads(benchmark::State& state) {
  torch::manual_seed(1);
  bcp::nets::ModelConfig config;
  config.num_classes = 4;
  auto net = bcp::nets::make_model(config);
  bcp::nets::ComputeCopy copy(*net, torch::kBFloat16, /*channels_last=*/true);
  for (auto _ : state) {
    copy.pull();
    for (auto& p : copy.compute().parameters()) p.mutable_grad() = torch::ones_like(p);
    copy.push_grads();
    benchmark::DoNotOptimize(net->parameters().front().grad().data_ptr());
  }
}
BENCHMARK(BM_ComputeCopy_UNet2d_PullAndPushGrads)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
