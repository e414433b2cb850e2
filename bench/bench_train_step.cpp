// One BCP self-training step at the paper's ACDC shape (256x256, batch 12 + 12, UNet2d, CPU):
// fp32 against bf16 autocast, both timed in the same benchmark so the ratio is like for like.
//   build/bcp_bench --benchmark_filter=TrainStep
// Data: a small synthetic ACDC set written to a temporary folder (the step's cost does not depend
// on the images). Counters: fp32_s and bf16_s per step, speedup = fp32_s / bf16_s.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "bcp/data/synth.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/train/config.h"
#include "bcp/train/steps.h"
#include "bcp/train/training_set.h"

namespace {

namespace fs = std::filesystem;
using namespace bcp;

double seconds_per_step(const train::TrainConfig& c, const train::TrainingSet& set, int steps) {
  torch::manual_seed(0);
  auto student = nets::make_model({"unet2d", 1, 4});
  auto teacher = nets::make_model({"unet2d", 1, 4});
  for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  torch::optim::SGD opt(student->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  std::mt19937_64 rng(1);
  train::StageContext ctx{c, set, torch::kCPU, *student, teacher.get(), opt, rng};
  std::vector<int64_t> li(static_cast<size_t>(c.batch.labeled)),
      ui(static_cast<size_t>(c.batch.unlabeled));
  for (size_t i = 0; i < li.size(); ++i) li[i] = static_cast<int64_t>(i);
  for (size_t i = 0; i < ui.size(); ++i) ui[i] = static_cast<int64_t>(li.size() + i);
  train::bcp_selftrain_step(ctx, li, ui);  // warm-up: oneDNN builds its kernels on first use
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) train::bcp_selftrain_step(ctx, li, ui);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
}

void BM_TrainStep_AcdcBcpSelfTrain_Fp32VsBf16(benchmark::State& state) {
  const fs::path root = fs::temp_directory_path() / "bcp_bench_train_step";
  fs::remove_all(root);
  data::SynthAcdcOptions so;
  so.train_patients = 3;
  so.val_patients = 1;
  so.test_patients = 1;
  data::write_synth_acdc(root.string(), so);
  train::TrainConfig c = train::preset("acdc", 5, "bcp");
  c.data.labeled = 12;
  const train::TrainingSet set = train::load_training_set(c, root.string());
  torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  double fp32 = 0, bf16 = 0;
  for (auto _ : state) {
    c.precision = "fp32";
    fp32 = seconds_per_step(c, set, 2);
    c.precision = "bf16";
    bf16 = seconds_per_step(c, set, 2);
  }
  state.counters["fp32_s"] = fp32;
  state.counters["bf16_s"] = bf16;
  state.counters["speedup"] = fp32 / bf16;
  state.counters["threads"] = torch::get_num_threads();
  fs::remove_all(root);
}
BENCHMARK(BM_TrainStep_AcdcBcpSelfTrain_Fp32VsBf16)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
