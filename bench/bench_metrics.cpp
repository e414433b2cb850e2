// Metric and pseudo-label timings on real data.
//   build-*/bcp_bench --benchmark_filter='Metrics|PseudoLabel|LargestComponent'
// The LA case is a real label (../shared/data/LA, overridable by BCP_SHARED_DIR) against a copy
// shifted by 3 voxels. `speedup_vs_medpy` divides 1.15 s, what medpy.metric.binary needs for
// dc + jc + hd95 + asd on one LA volume (215x140x88) on this machine, by our time per call.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "../tests/source_paths.h"
#include "bcp/eval/binary_metrics.h"
#include "bcp/eval/largest_component.h"
#include "bcp/io/h5.h"
#include "bcp/ssl/pseudo_label.h"

namespace fs = std::filesystem;

namespace {

constexpr double kMedpySeconds = 1.15;
// The LA training volume closest in size to the medpy measurement (216x147x88).
constexpr const char* kLaCase = "3DA0T2V6JJ2NLUAV6FWM";

using bcp::test::shared_dir;

// (label, shifted label) of the LA case; undefined tensors when the data are absent.
std::pair<torch::Tensor, torch::Tensor> la_pair() {
  const fs::path p =
      shared_dir() / "data" / "LA" / "2018LA_Seg_Training Set" / kLaCase / "mri_norm2.h5";
  if (!fs::exists(p)) return {};
  const torch::Tensor label = bcp::io::read_h5(p.string(), "label").to(torch::kUInt8);
  return {torch::roll(label, {3, 3}, {0, 1}).contiguous(), label};
}

void run_timed(benchmark::State& state, const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) fn();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (state.iterations() > 0)
    state.counters["speedup_vs_medpy"] =
        kMedpySeconds / (s / static_cast<double>(state.iterations()));
}

void BM_MetricsLaVolume(benchmark::State& state) {
  const auto [pred, ref] = la_pair();
  if (!pred.defined()) {
    state.SkipWithError("LA data not found under ../shared/data/LA");
    return;
  }
  const int threads = torch::get_num_threads();
  torch::set_num_threads(static_cast<int>(state.range(0)));
  bcp::eval::BinaryScores s;
  run_timed(state, [&] { s = bcp::eval::binary_scores(pred, ref); });
  torch::set_num_threads(threads);
  state.counters["dice"] = s.dice;
  state.counters["hd95"] = s.hd95;
  state.counters["asd"] = s.asd;
  state.SetLabel(std::string(kLaCase) + " shifted (3,3,0)");
}
BENCHMARK(BM_MetricsLaVolume)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MetricsLaVolumeSpacing(benchmark::State& state) {
  const auto [pred, ref] = la_pair();
  if (!pred.defined()) {
    state.SkipWithError("LA data not found under ../shared/data/LA");
    return;
  }
  bcp::eval::BinaryScores s;
  run_timed(state, [&] { s = bcp::eval::binary_scores(pred, ref, {0.625, 0.625, 0.625}); });
  state.counters["hd95"] = s.hd95;
}
BENCHMARK(BM_MetricsLaVolumeSpacing)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LargestComponentLaVolume(benchmark::State& state) {
  const auto [pred, ref] = la_pair();
  if (!pred.defined()) {
    state.SkipWithError("LA data not found under ../shared/data/LA");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(bcp::eval::largest_component(pred));
}
BENCHMARK(BM_LargestComponentLaVolume)->Unit(benchmark::kMillisecond)->UseRealTime();

// One self-training step's teacher output: ACDC 12x4x256x256, LA 4x2x112x112x80.
void BM_PseudoLabelAcdc(benchmark::State& state) {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::nn::functional::interpolate(
      torch::randn({12, 4, 32, 32}) * 3, torch::nn::functional::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{256, 256})
                                             .mode(torch::kBilinear)
                                             .align_corners(false));
  for (auto _ : state)
    benchmark::DoNotOptimize(
        bcp::ssl::hard_pseudo_label(logits, bcp::data::PseudoLabelRule::kArgmax));
}
BENCHMARK(BM_PseudoLabelAcdc)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PseudoLabelLa(benchmark::State& state) {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::nn::functional::interpolate(
      torch::randn({4, 2, 14, 14, 10}) * 3, torch::nn::functional::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{112, 112, 80})
                                                .mode(torch::kTrilinear)
                                                .align_corners(false));
  for (auto _ : state)
    benchmark::DoNotOptimize(
        bcp::ssl::hard_pseudo_label(logits, bcp::data::PseudoLabelRule::kForegroundHalf));
}
BENCHMARK(BM_PseudoLabelLa)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
