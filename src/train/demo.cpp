#include "bcp/train/demo.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bcp/data/case_list.h"
#include "bcp/data/synth.h"
#include "bcp/eval/evaluate.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/input_path.h"
#include "bcp/train/trainer.h"
#include "bcp/util/device.h"

namespace bcp::train {
namespace fs = std::filesystem;

namespace {

/// The slices of the first 5% of the training patients (at least one): 3 of ACDC's 70 patients
/// (68 slices) as in the paper, 1 of the synthetic set's 20.
int64_t demo_labeled(const std::vector<std::string>& slices) {
  std::set<std::string> patients;
  for (const auto& s : slices) patients.insert(data::patient_of(s));
  const auto n = std::max<int64_t>(1, static_cast<int64_t>(patients.size()) * 5 / 100);
  return data::count_first_patients(slices, n);
}

nlohmann::json scores_json(const eval::ScoreReport& r) {
  eval::BinaryScores m = eval::overall_mean(r);
  return {{"dice", m.dice}, {"jaccard", m.jaccard}, {"hd95", m.hd95}, {"asd", m.asd}};
}

}  // namespace

nlohmann::json run_demo(const DemoOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.patch < 16 || o.patch % 16 != 0)  // checked before minutes of data generation
    throw std::invalid_argument("demo: --patch must be a multiple of 16, got " +
                                std::to_string(o.patch));
  util::parse_device(o.device, "demo");  // before minutes of data generation too
  fs::create_directories(o.out_dir);
  std::string root = o.data_root;
  std::string test_list = "test.list";
  if (root.empty()) {
    root = (fs::path(o.out_dir) / "data").string();
    if (!fs::exists(fs::path(root) / "test.list")) {
      if (o.echo)
        std::cout << "demo: writing a synthetic ACDC-like dataset to " << root << std::endl;
      data::SynthAcdcOptions so;
      so.seed = o.seed;
      data::write_synth_acdc(root, so);
    }
  } else if (!fs::exists(fs::path(root) / "test.list")) {
    test_list = "val.list";  // the real test split is held out: report on validation volumes
  }
  TrainConfig base = preset("acdc", 5, "bcp");
  base.device = o.device;
  base.threads = o.threads;
  base.seed = o.seed;
  base.data.patch = {o.patch, o.patch};
  base.batch = {8, 8};
  auto slices = data::read_case_list(io::file_in_root(root, base.data.train_list));
  base.data.labeled = demo_labeled(slices);
  base.schedule.pretrain_iters = o.pretrain_iters;
  base.schedule.selftrain_iters = o.selftrain_iters;
  base.schedule.val_every = o.val_every;
  base.schedule.checkpoint_every = o.val_every;
  base.schedule.log_every = 25;
  base.eval.max_cases = 4;

  TrainConfig sup = base;
  sup.method = Method::kSupervised;
  sup.batch.unlabeled = 0;
  sup.schedule.pretrain_iters = 0;
  sup.schedule.selftrain_iters = o.pretrain_iters + o.selftrain_iters;

  nlohmann::json summary;
  for (const auto& [name, config] : {std::pair<std::string, TrainConfig>{"supervised", sup},
                                     std::pair<std::string, TrainConfig>{"bcp", base}}) {
    fs::path run = fs::path(o.out_dir) / name;
    fs::remove_all(run);  // the demo always starts fresh
    TrainOptions to;
    to.config = config;
    to.data_root = root;
    to.out_dir = run.string();
    to.echo = o.echo;
    to.final_evaluation = false;
    if (o.echo) std::cout << "demo: training " << name << std::endl;
    TrainResult r = train(to);
    eval::EvaluateOptions eo;
    eo.model_path = r.best_path;
    eo.data_root = root;
    eo.list_name = test_list;
    eo.out_dir = (run / "eval").string();
    eo.dataset = Dataset::kAcdc;
    eo.device = o.device;
    summary[name] = scores_json(eval::evaluate(eo));
  }
  summary["labeled"] = base.data.labeled;
  summary["unlabeled"] = static_cast<int64_t>(slices.size()) - base.data.labeled;
  summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary["evaluated_on"] = test_list;
  fs::path out = fs::path(o.out_dir) / "summary.json";
  io::write_file_atomically(out.string(), summary.dump(2) + "\n");
  return summary;
}

std::string format_demo_table(const nlohmann::json& s) {
  char buf[256];
  std::string out = "method        Dice %   Jaccard %   95HD    ASD\n";
  for (const char* m : {"supervised", "bcp"}) {
    const auto& r = s.at(m);
    std::snprintf(buf, sizeof(buf), "%-12s %7.2f %10.2f %7.2f %6.2f\n", m,
                  100 * r.at("dice").get<double>(), 100 * r.at("jaccard").get<double>(),
                  r.at("hd95").get<double>(), r.at("asd").get<double>());
    out += buf;
  }
  std::snprintf(buf, sizeof(buf), "labeled %lld, unlabeled %lld slices, %.0f s\n",
                static_cast<long long>(s.at("labeled").get<int64_t>()),
                static_cast<long long>(s.at("unlabeled").get<int64_t>()),
                s.at("seconds").get<double>());
  out += buf;
  return out;
}

}  // namespace bcp::train
