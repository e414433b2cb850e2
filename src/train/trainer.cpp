#include "bcp/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <thread>

#include "bcp/data/two_stream_sampler.h"
#include "bcp/eval/evaluate.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/nets/state_dict.h"
#include "bcp/train/lr_schedule.h"
#include "bcp/train/optimizer_state.h"
#include "bcp/train/resume_check.h"
#include "bcp/train/run_log.h"
#include "bcp/train/step_prefetcher.h"
#include "bcp/train/steps.h"
#include "bcp/train/train_state.h"
#include "bcp/train/training_set.h"
#include "bcp/train/validation.h"
#include "bcp/util/device.h"
#include "bcp/util/error_message.h"
#include "bcp/util/progress.h"

namespace bcp::train {
namespace fs = std::filesystem;
using Net = std::shared_ptr<nets::SegmentationNetImpl>;
using Clock = std::chrono::steady_clock;

namespace {

class Trainer {
 public:
  explicit Trainer(const TrainOptions& o)
      : o_(o), c_(o.config), device_(c_.device), log_(o.out_dir, o.echo) {}

  TrainResult run();

 private:
  std::string path(const std::string& name) const { return (fs::path(o_.out_dir) / name).string(); }
  Net new_model() const { return nets::make_model(model_config_for(c_)); }
  StageSummary run_stage(const std::string& stage, int64_t iters,
                         nets::SegmentationNetImpl& student, nets::SegmentationNetImpl* teacher,
                         torch::optim::SGD& optimizer, LoopState loop, bool resumed);
  ValidationScores validate(nets::SegmentationNetImpl& net);

  TrainOptions o_;
  TrainConfig c_;
  torch::Device device_;
  RunLog log_;
  TrainingSet train_set_;
  ValidationSet val_set_;
  int64_t session_steps_ = 0;
  bool interrupted_ = false;
};

ValidationScores Trainer::validate(nets::SegmentationNetImpl& net) {
  return validate_model(net, val_set_, c_);
}

StageSummary Trainer::run_stage(const std::string& stage, int64_t iters,
                                nets::SegmentationNetImpl& student,
                                nets::SegmentationNetImpl* teacher, torch::optim::SGD& optimizer,
                                LoopState loop, bool resumed) {
  const auto t0 = Clock::now();
  std::vector<int64_t> labeled(train_set_.labeled), unlabeled;
  std::iota(labeled.begin(), labeled.end(), 0);
  for (int64_t i = train_set_.labeled; i < train_set_.size(); ++i) unlabeled.push_back(i);
  int64_t ubs = c_.method == "supervised" ? 0 : c_.batch.unlabeled;
  // Each stage re-seeds, as each of the authors' stages builds a fresh loader.
  uint64_t stage_seed = c_.seed + (stage == "selftrain" ? 1 : 0);
  data::TwoStreamSampler sampler(labeled, ubs > 0 ? unlabeled : std::vector<int64_t>{},
                                 c_.batch.labeled, ubs, stage_seed);
  std::mt19937_64 rng(stage_seed ^ 0x9E3779B97F4A7C15ULL);
  if (resumed) {
    sampler.load_state(loop.sampler);
    rng_from_string(rng, loop.rng, path("last.h5"));
    log_.info(stage + ": resumed at iteration " + std::to_string(loop.iteration));
  } else {
    loop.stage = stage;
    loop.iteration = 0;
    loop.best_dice = -1;
    loop.best_iteration = -1;
    log_.info(stage + ": " + std::to_string(iters) + " iterations, " +
              std::to_string(sampler.batches_per_epoch()) + " per epoch, labeled " +
              std::to_string(labeled.size()) + ", unlabeled " + std::to_string(unlabeled.size()));
  }
  log_.record("stage", {{"stage", stage}, {"iterations", iters}, {"resumed_at", loop.iteration}});
  StageContext ctx{c_, train_set_, device_, student, teacher, optimizer, rng};
  ComputeCopies low_precision = make_compute_copies(c_, student, teacher);
  low_precision.attach(ctx);
  const StepKind kind = step_kind(c_, stage);
  std::string best_path = path(stage == "pretrain" ? "pretrain_best.h5" : "best.h5");
  nlohmann::json config_json = config_to_json(c_);
  // From here on the prefetcher owns the sampler and the generator; it hands out the states a
  // checkpoint must hold.
  StepPrefetcher prefetcher(c_, train_set_, kind, sampler, rng);
  auto save_last = [&] {
    loop.sampler = prefetcher.sampler_state();
    loop.rng = prefetcher.rng_state();
    save_train_state(path("last.h5"), student, teacher, &optimizer, loop, config_json);
  };
  double loss_sum = 0, step_s_sum = 0;
  int64_t loss_n = 0;
  const auto stage_t0 = Clock::now();
  const int64_t first_iteration = loop.iteration;
  std::string last_val = "";
  while (loop.iteration < iters) {
    double lr = learning_rate(c_.optim, loop.iteration, iters);
    set_learning_rate(optimizer, lr);
    const auto step_t0 = Clock::now();
    StepStats st = take_step(ctx, kind, prefetcher.next(), loop.iteration);
    const double step_s = std::chrono::duration<double>(Clock::now() - step_t0).count();
    ++loop.iteration;
    if (!std::isfinite(st.loss))
      throw std::runtime_error(stage + ": loss became " + std::to_string(st.loss) +
                               " at iteration " + std::to_string(loop.iteration) +
                               " (lower optim.lr?)");
    loss_sum += st.loss;
    step_s_sum += step_s;
    ++loss_n;
    nlohmann::json rec = {{"stage", stage},
                          {"iteration", loop.iteration},
                          {"loss", st.loss},
                          {"lr", lr},
                          {"step_seconds", step_s}};
    rec.update(st.parts);
    log_.record("step", rec);
    {
      const double elapsed = std::chrono::duration<double>(Clock::now() - stage_t0).count();
      const double rate = static_cast<double>(loop.iteration - first_iteration) / elapsed;
      char text[160];
      std::snprintf(
          text, sizeof text, "%s %lld/%lld loss %.4f %.2f it/s ETA %s", stage.c_str(),
          static_cast<long long>(loop.iteration), static_cast<long long>(iters),
          loss_sum / static_cast<double>(loss_n), rate,
          util::format_duration(static_cast<double>(iters - loop.iteration) / rate).c_str());
      log_.status(text + last_val);
    }
    if (c_.schedule.log_every > 0 && loop.iteration % c_.schedule.log_every == 0) {
      std::ostringstream line;
      line << stage << " iteration " << loop.iteration << "/" << iters << ": loss "
           << loss_sum / loss_n << " lr " << lr << " (" << step_s_sum / loss_n << " s/step)";
      log_.info(line.str());
      loss_sum = 0;
      step_s_sum = 0;
      loss_n = 0;
    }
    bool last_iter = loop.iteration == iters;
    bool due = c_.schedule.val_every > 0 && loop.iteration % c_.schedule.val_every == 0;
    if ((due || last_iter) && !val_set_.empty()) {
      ValidationScores v = validate(student);
      bool better = v.mean_dice > loop.best_dice;
      if (better) {
        loop.best_dice = v.mean_dice;
        loop.best_iteration = loop.iteration;
      }
      {
        char val[64];
        std::snprintf(val, sizeof val, " | val Dice %.4f (best %.4f)", v.mean_dice, loop.best_dice);
        last_val = val;
      }
      nlohmann::json vrec = {{"stage", stage},           {"iteration", loop.iteration},
                             {"mean_dice", v.mean_dice}, {"mean_hd95", v.mean_hd95},
                             {"dice", v.dice},           {"hd95", v.hd95}};
      log_.record("validation", vrec);
      std::ostringstream line;
      line << stage << " iteration " << loop.iteration << ": val mean Dice " << v.mean_dice
           << " HD95 " << v.mean_hd95 << (better ? " (best)" : "");
      log_.info(line.str());
      if (better) {
        loop.sampler = prefetcher.sampler_state();
        loop.rng = prefetcher.rng_state();
        save_train_state(best_path, student, teacher, &optimizer, loop, config_json);
      }
    }
    if (last_iter ||
        (c_.schedule.checkpoint_every > 0 && loop.iteration % c_.schedule.checkpoint_every == 0))
      save_last();
    if (o_.stop_after > 0 && ++session_steps_ >= o_.stop_after && loop.iteration < iters) {
      save_last();
      interrupted_ = true;
      log_.info(stage + ": stopped after " + std::to_string(session_steps_) +
                " steps of this session (resume with --resume)");
      break;
    }
  }
  if (interrupted_) return StageSummary{stage, iters, loop.best_dice, loop.best_iteration, 0};
  if (loop.best_iteration < 0) {  // no validation data: the last state is the best we know
    loop.best_iteration = loop.iteration;
    save_train_state(best_path, student, teacher, &optimizer, loop, config_json);
  }
  StageSummary sum;
  sum.stage = stage;
  sum.iterations = iters;
  sum.best_dice = loop.best_dice;
  sum.best_iteration = loop.best_iteration;
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  log_.info(stage + ": done, best val mean Dice " + std::to_string(loop.best_dice) +
            " at iteration " + std::to_string(loop.best_iteration));
  return sum;
}

/// Reads the stage and iteration of a checkpoint without building anything.
LoopState peek_loop(const std::string& path) {
  const nlohmann::json meta = io::load_tensor_archive_meta(path);
  if (!meta.is_object() || !meta.contains("train"))
    throw std::runtime_error(path + ": not a bcp training checkpoint");
  LoopState l;
  l.stage = meta["train"].at("stage").get<std::string>();
  l.iteration = meta["train"].at("iteration").get<int64_t>();
  return l;
}

/// Refuses a resume that would continue the checkpoint as another experiment.
void check_resume_config(const std::string& checkpoint, const TrainConfig& requested) {
  const nlohmann::json meta = io::load_tensor_archive_meta(checkpoint);
  if (!meta.is_object() || !meta.contains("train") || !meta.contains("config"))
    throw std::runtime_error(checkpoint + ": not a bcp training checkpoint (no config saved)");
  TrainConfig saved;
  try {
    saved = config_from_json(meta["config"]);
  } catch (const std::exception& e) {
    throw std::runtime_error(checkpoint + ": saved config unreadable: " + util::error_message(e));
  }
  const auto conflicts = resume_conflicts(saved, requested);
  if (conflicts.empty()) return;
  std::string list;
  for (const auto& c : conflicts) list += (list.empty() ? "" : "; ") + c;
  std::string safe;
  for (const auto& k : resume_safe_keys()) safe += (safe.empty() ? "" : ", ") + k;
  throw std::invalid_argument(checkpoint +
                              ": --resume would continue this run as another experiment: " + list +
                              " (a resume may change only " + safe +
                              ", iteration counts upwards; train into a new --out instead)");
}

TrainResult Trainer::run() {
  const auto t0 = Clock::now();
  torch::set_num_threads(c_.threads > 0 ? static_cast<int>(c_.threads)
                                        : static_cast<int>(std::thread::hardware_concurrency()));
  bool have_last = fs::exists(path("last.h5"));
  if (o_.resume && !have_last)
    throw std::runtime_error(path("last.h5") + ": nothing to resume (no checkpoint)");
  if (!o_.resume && have_last)
    throw std::runtime_error(o_.out_dir +
                             ": already holds a run (last.h5); pass --resume or another --out");
  io::write_file_atomically(path("config.json"), config_to_json(c_).dump(2) + "\n");
  train_set_ = load_training_set(c_, o_.data_root);
  val_set_ = load_validation_set(c_, o_.data_root);
  log_.info("bcp train: " + c_.method + " on " + c_.dataset + " (" + o_.data_root + "), " +
            std::to_string(train_set_.labeled) + " labeled + " +
            std::to_string(train_set_.size() - train_set_.labeled) + " unlabeled, " +
            std::to_string(val_set_.size()) + " validation cases, device " + c_.device);

  torch::manual_seed(c_.seed);
  TrainResult result;
  result.best_path = path("best.h5");
  result.last_path = path("last.h5");
  LoopState resume_loop;
  if (o_.resume) resume_loop = peek_loop(path("last.h5"));

  Net student = new_model();
  student->to(device_);
  if (c_.method == "bcp") {
    const int64_t pre_iters = c_.schedule.pretrain_iters;
    bool pre_done = o_.resume && resume_loop.stage == "selftrain";
    if (!pre_done && pre_iters > 0) {
      torch::optim::SGD opt = make_optimizer(*student, c_);
      LoopState loop;
      bool resumed = o_.resume && resume_loop.stage == "pretrain";
      if (resumed) loop = load_train_state(path("last.h5"), *student, nullptr, &opt);
      result.stages.push_back(
          run_stage("pretrain", pre_iters, *student, nullptr, opt, loop, resumed));
      if (interrupted_) {
        result.interrupted = true;
        return result;
      }
    }
    // Self-training: student (and teacher) from the best pre-trained model.
    Net teacher = new_model();
    teacher->to(device_);
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    student = new_model();
    student->to(device_);
    torch::optim::SGD opt = make_optimizer(*student, c_);
    LoopState loop;
    bool resumed = pre_done;
    if (resumed) {
      loop = load_train_state(path("last.h5"), *student, teacher.get(), &opt);
    } else if (pre_iters > 0) {
      load_train_state(path("pretrain_best.h5"), *student, nullptr,
                       c_.bcp.inherit_optimizer ? &opt : nullptr);
      load_train_state(path("pretrain_best.h5"), *teacher, nullptr, nullptr);
      log_.info("selftrain: student and teacher from pretrain_best.h5" +
                std::string(c_.bcp.inherit_optimizer ? " (with its optimizer state)" : ""));
    } else {
      nets::load_state_dict(*teacher, nets::state_dict(*student));
    }
    result.stages.push_back(run_stage("selftrain", c_.schedule.selftrain_iters, *student,
                                      teacher.get(), opt, loop, resumed));
  } else {
    Net teacher;
    if (c_.method == "mean-teacher") {
      teacher = new_model();
      teacher->to(device_);
      for (auto& p : teacher->parameters()) p.set_requires_grad(false);
      nets::load_state_dict(*teacher, nets::state_dict(*student));
    }
    torch::optim::SGD opt = make_optimizer(*student, c_);
    LoopState loop;
    if (o_.resume) loop = load_train_state(path("last.h5"), *student, teacher.get(), &opt);
    result.stages.push_back(run_stage("train", c_.schedule.selftrain_iters, *student, teacher.get(),
                                      opt, loop, o_.resume));
  }

  if (interrupted_) {
    result.interrupted = true;
    return result;
  }
  if (o_.final_evaluation && !val_set_.empty()) {
    eval::EvaluateOptions eo;
    eo.model_path = result.best_path;
    eo.data_root = o_.data_root;
    eo.list_name = c_.data.val_list;
    eo.out_dir = path("eval");
    eo.dataset = c_.dataset;
    eo.device = c_.device;
    eo.window_batch = c_.eval.window_batch;
    eval::ScoreReport report = eval::evaluate(eo);
    result.final_metrics = eval::report_to_json(report);
    log_.info("final evaluation of best.h5 on " + c_.data.val_list + ":\n" +
              eval::format_table(report));
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  log_.record("event", {{"event", "finished"}, {"seconds", result.seconds}});
  return result;
}

}  // namespace

TrainResult train(const TrainOptions& options) {
  const TrainConfig& c = options.config;
  validate_config(c);
  // Checked before the run directory and its logs exist, so a refused run leaves nothing behind.
  if (c.world_size != 1)
    throw std::invalid_argument("world_size " + std::to_string(c.world_size) +
                                ": multi-process training is not available in this build");
  util::parse_device(c.device, "train");
  // Checked before the Trainer opens the run's logs, so a refused resume changes nothing.
  const std::string last = (fs::path(options.out_dir) / "last.h5").string();
  if (options.resume && fs::exists(last)) check_resume_config(last, c);
  Trainer t(options);
  return t.run();
}

}  // namespace bcp::train
