#include "bcp/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <sstream>

#include "bcp/data/two_stream_sampler.h"
#include "bcp/eval/evaluate.h"
#include "bcp/io/atomic_file.h"
#include "bcp/io/output_path.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/batch_norm.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/nets/state_dict.h"
#include "bcp/train/lr_schedule.h"
#include "bcp/train/optimizer_state.h"
#include "bcp/train/resume_check.h"
#include "bcp/train/run_folder.h"
#include "bcp/train/run_log.h"
#include "bcp/train/stage_plan.h"
#include "bcp/train/step_prefetcher.h"
#include "bcp/train/steps.h"
#include "bcp/train/train_state.h"
#include "bcp/train/training_set.h"
#include "bcp/train/validation.h"
#include "bcp/util/device.h"
#include "bcp/util/error_message.h"
#include "bcp/util/progress.h"
#include "bcp/util/threads.h"

namespace bcp::train {
namespace fs = std::filesystem;
using Net = std::shared_ptr<nets::SegmentationNetImpl>;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// What a stage trains: built by Trainer::start_stage, the one place that makes networks.
struct StageNets {
  Net student;
  Net teacher;  ///< EMA teacher, or null
  std::optional<torch::optim::SGD> optimizer;
  LoopState loop;  ///< where the stage starts (iteration 0, or the resumed checkpoint's)
  bool resumed = false;
};

/// The running averages behind the status line and the periodic log line.
struct StageProgress {
  Clock::time_point start = Clock::now();
  int64_t first_iteration = 0;
  double loss_sum = 0, step_seconds_sum = 0;
  int64_t steps = 0;
  std::string last_validation;  ///< appended to the status line
};

class Trainer {
 public:
  explicit Trainer(const TrainOptions& o, distributed::ProcessGroup* group)
      : o_(o), c_(o.config), device_(c_.device), group_(group), lead_(o.dist.rank == 0) {}

  TrainResult run();

 private:
  std::string path(const std::string& name) const { return (fs::path(o_.out_dir) / name).string(); }
  Net new_model() const;
  StageNets start_stage(const StagePlan& stage, const Net& first_student, bool resumed);
  StageSummary run_stage(const StagePlan& stage, StageNets& nets);
  void on_step_end(const StagePlan& stage, const LoopState& loop, const StepStats& st, double lr,
                   double step_seconds, StageProgress& progress);
  bool validation_due(const StagePlan& stage, int64_t iteration) const;
  void on_validation(const StagePlan& stage, StageNets& nets, const StepPrefetcher& prefetcher,
                     StageProgress& progress);
  void snapshot(const std::string& file, StageNets& nets, const StepPrefetcher& prefetcher);
  void final_evaluation(TrainResult& result);

  // The run's files and logs are rank 0's.
  void info(const std::string& line) {
    if (log_) log_->info(line);
  }
  void record(const std::string& kind, nlohmann::json fields) {
    if (log_) log_->record(kind, std::move(fields));
  }

  TrainOptions o_;
  TrainConfig c_;
  torch::Device device_;
  distributed::ProcessGroup* group_;  ///< null: one process
  bool lead_;                         ///< rank 0
  std::optional<RunLock> lock_;       ///< held by the lead rank while it writes the run folder
  std::optional<RunLog> log_;
  TrainingSet train_set_;
  ValidationSet val_set_;
  int64_t session_steps_ = 0;
  bool interrupted_ = false;
};

Net Trainer::new_model() const {
  Net net = nets::make_model(model_config_for(c_));
  net->to(device_);
  return net;
}

/// A teacher starts as a frozen copy (or takes a checkpoint's weights later).
Net frozen(Net net) {
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  return net;
}

// The networks are made in the order the first release made them (the first stage's student
// before anything else, BCP's self-training teacher before its student): their initial weights
// draw from LibTorch's global generator, so a fixed seed keeps giving the same run.
StageNets Trainer::start_stage(const StagePlan& stage, const Net& first_student, bool resumed) {
  StageNets n;
  n.resumed = resumed;
  if (stage.own_networks) {
    n.teacher = frozen(new_model());
    n.student = new_model();
  } else {
    n.student = first_student;
    if (stage.teacher) n.teacher = frozen(new_model());
  }
  n.optimizer.emplace(make_optimizer(*n.student, c_));
  if (resumed) {
    const std::string last = path("last.h5");
    const io::TensorArchive checkpoint = io::load_tensor_archive(last);
    n.loop = load_train_state(checkpoint, last, *n.student, n.teacher.get(), &*n.optimizer);
    restore_generators(checkpoint, last);
  } else if (!stage.starts_from.empty()) {
    // Self-training starts from the best pre-trained model (ACDC: with its optimizer state).
    if (group_) group_->barrier();  // rank 0 has written it
    const std::string from = path(stage.starts_from);
    const io::TensorArchive checkpoint = io::load_tensor_archive(from);
    load_train_state(checkpoint, from, *n.student, nullptr,
                     stage.inherit_optimizer ? &*n.optimizer : nullptr);
    load_train_state(checkpoint, from, *n.teacher, nullptr, nullptr);
    // And, as the first release did, with LibTorch's generators as they were when that model was
    // saved: the stage's dropout draws continue from there, and fixed-seed runs (and their
    // checkpoints) depend on it.
    restore_generators(checkpoint, from);
    info(stage.name() + ": student and teacher from " + stage.starts_from +
         std::string(stage.inherit_optimizer ? " (with its optimizer state)" : ""));
  } else if (n.teacher) {
    nets::load_state_dict(*n.teacher, nets::state_dict(*n.student));
  }
  if (group_) {  // every rank starts from rank 0's networks
    distributed::broadcast_module(*group_, *n.student);
    if (n.teacher) distributed::broadcast_module(*group_, *n.teacher);
  }
  return n;
}

bool Trainer::validation_due(const StagePlan& stage, int64_t iteration) const {
  if (val_set_.empty()) return false;
  const bool periodic = c_.schedule.val_every > 0 && iteration % c_.schedule.val_every == 0;
  return periodic || iteration == stage.iterations;
}

/// The one place that writes a checkpoint: the networks, the optimizer, the loop counters and the
/// sampler's and generator's states from before the inputs not consumed yet.
void Trainer::snapshot(const std::string& file, StageNets& nets, const StepPrefetcher& prefetcher) {
  if (!lead_) return;
  nets.loop.sampler = prefetcher.sampler_state();
  nets.loop.rng = prefetcher.rng_state();
  nets.loop.cases = cases_fingerprint(train_set_);
  save_train_state(path(file), *nets.student, nets.teacher.get(), &*nets.optimizer, nets.loop,
                   config_to_json(c_));
}

void Trainer::on_step_end(const StagePlan& stage, const LoopState& loop, const StepStats& st,
                          double lr, double step_seconds, StageProgress& progress) {
  if (!std::isfinite(st.loss))
    throw std::runtime_error(stage.name() + ": loss became " + std::to_string(st.loss) +
                             " at iteration " + std::to_string(loop.iteration) +
                             " (lower optim.lr?)");
  if (!lead_) return;
  progress.loss_sum += st.loss;
  progress.step_seconds_sum += step_seconds;
  ++progress.steps;
  nlohmann::json rec = {{"stage", stage.name()},
                        {"iteration", loop.iteration},
                        {"loss", st.loss},
                        {"lr", lr},
                        {"step_seconds", step_seconds}};
  rec.update(st.parts);
  record("step", rec);
  const double rate = static_cast<double>(loop.iteration - progress.first_iteration) /
                      seconds_since(progress.start);
  char text[160];
  std::snprintf(
      text, sizeof text, "%s %lld/%lld loss %.4f %.2f it/s ETA %s", stage.name().c_str(),
      static_cast<long long>(loop.iteration), static_cast<long long>(stage.iterations),
      progress.loss_sum / static_cast<double>(progress.steps), rate,
      util::format_duration(static_cast<double>(stage.iterations - loop.iteration) / rate).c_str());
  log_->status(text + progress.last_validation);
  if (c_.schedule.log_every > 0 && loop.iteration % c_.schedule.log_every == 0) {
    std::ostringstream line;
    line << stage.name() << " iteration " << loop.iteration << "/" << stage.iterations << ": loss "
         << progress.loss_sum / progress.steps << " lr " << lr << " ("
         << progress.step_seconds_sum / progress.steps << " s/step)";
    info(line.str());
    progress.loss_sum = progress.step_seconds_sum = 0;
    progress.steps = 0;
  }
}

void Trainer::on_validation(const StagePlan& stage, StageNets& nets,
                            const StepPrefetcher& prefetcher, StageProgress& progress) {
  if (!lead_) return;  // the other ranks go on to the next step's collectives and wait there
  LoopState& loop = nets.loop;
  const ValidationScores v = validate_model(*nets.student, val_set_, c_);
  const bool better = v.mean_dice > loop.best_dice;
  if (better) {
    loop.best_dice = v.mean_dice;
    loop.best_iteration = loop.iteration;
  }
  char text[64];
  std::snprintf(text, sizeof text, " | val Dice %.4f (best %.4f)", v.mean_dice, loop.best_dice);
  progress.last_validation = text;
  record("validation", {{"stage", stage.name()},
                        {"iteration", loop.iteration},
                        {"mean_dice", v.mean_dice},
                        {"mean_hd95", v.mean_hd95},
                        {"dice", v.dice},
                        {"hd95", v.hd95}});
  std::ostringstream line;
  line << stage.name() << " iteration " << loop.iteration << ": val mean Dice " << v.mean_dice
       << " HD95 " << v.mean_hd95 << (better ? " (best)" : "");
  info(line.str());
  if (better) snapshot(stage.best_file, nets, prefetcher);
}

StageSummary Trainer::run_stage(const StagePlan& stage, StageNets& nets) {
  const auto t0 = Clock::now();
  LoopState& loop = nets.loop;
  std::vector<int64_t> labeled(train_set_.labeled), unlabeled;
  std::iota(labeled.begin(), labeled.end(), 0);
  for (int64_t i = train_set_.labeled; i < train_set_.size(); ++i) unlabeled.push_back(i);
  const int64_t ubs = c_.method == Method::kSupervised ? 0 : c_.batch.unlabeled;
  // Every rank draws the whole step's batch the same way and trains on its share of it.
  data::TwoStreamSampler sampler(labeled, ubs > 0 ? unlabeled : std::vector<int64_t>{},
                                 c_.batch.labeled, ubs, stage.seed);
  std::mt19937_64 rng(stage.seed ^ 0x9E3779B97F4A7C15ULL);
  if (nets.resumed) {
    sampler.load_state(loop.sampler);
    rng_from_string(rng, loop.rng, path("last.h5"));
    info(stage.name() + ": resumed at iteration " + std::to_string(loop.iteration));
  } else {
    loop = LoopState{};
    loop.stage = stage.name();
    info(stage.name() + ": " + std::to_string(stage.iterations) + " iterations, " +
         std::to_string(sampler.batches_per_epoch()) + " per epoch, labeled " +
         std::to_string(labeled.size()) + ", unlabeled " + std::to_string(unlabeled.size()));
  }
  record(
      "stage",
      {{"stage", stage.name()}, {"iterations", stage.iterations}, {"resumed_at", loop.iteration}});
  StageContext ctx{c_, train_set_, device_, *nets.student, nets.teacher.get(), *nets.optimizer,
                   rng};
  ctx.group = group_;
  ComputeCopies low_precision = make_compute_copies(c_, *nets.student, nets.teacher.get());
  low_precision.attach(ctx);
  if (group_ && c_.sync_batchnorm) {
    const nets::RankSum sum = [group = group_](const torch::Tensor& t) {
      return distributed::rank_sum(*group, t);
    };
    // The networks and the compute copies that run their passes.
    std::vector<nets::SegmentationNetImpl*> all{nets.student.get(), nets.teacher.get()};
    for (nets::ComputeCopy* copy : {low_precision.student.get(), low_precision.teacher.get()})
      if (copy) all.push_back(&copy->compute());
    for (nets::SegmentationNetImpl* net : all)
      if (net) nets::synchronize_batch_norm(*net, sum);
  }
  // From here on the prefetcher owns the sampler and the generator.
  StepPrefetcher prefetcher(c_, train_set_, stage.kind, sampler, rng);
  StageProgress progress;
  progress.first_iteration = loop.iteration;
  while (loop.iteration < stage.iterations) {
    const double lr = learning_rate(c_.optim, loop.iteration, stage.iterations);
    set_learning_rate(*nets.optimizer, lr);
    const auto step_t0 = Clock::now();
    const StepStats st = take_step(ctx, stage.kind, prefetcher.next(), loop.iteration);
    ++loop.iteration;
    on_step_end(stage, loop, st, lr, seconds_since(step_t0), progress);
    if (validation_due(stage, loop.iteration)) on_validation(stage, nets, prefetcher, progress);
    const bool last_step = loop.iteration == stage.iterations;
    if (last_step ||
        (c_.schedule.checkpoint_every > 0 && loop.iteration % c_.schedule.checkpoint_every == 0))
      snapshot("last.h5", nets, prefetcher);
    if (o_.stop_after > 0 && ++session_steps_ >= o_.stop_after && !last_step) {
      snapshot("last.h5", nets, prefetcher);
      interrupted_ = true;
      info(stage.name() + ": stopped after " + std::to_string(session_steps_) +
           " steps of this session (resume with --resume)");
      return StageSummary{stage.name(), stage.iterations, loop.best_dice, loop.best_iteration, 0};
    }
  }
  if (loop.best_iteration < 0) {  // no validation data: the last state is the best we know
    loop.best_iteration = loop.iteration;
    snapshot(stage.best_file, nets, prefetcher);
  }
  info(stage.name() + ": done, best val mean Dice " + std::to_string(loop.best_dice) +
       " at iteration " + std::to_string(loop.best_iteration));
  return StageSummary{stage.name(), stage.iterations, loop.best_dice, loop.best_iteration,
                      seconds_since(t0)};
}

void Trainer::final_evaluation(TrainResult& result) {
  // Both checkpoints, so that a report never has to choose for the reader: best.h5 was selected
  // on this same list (optimistic), last.h5 was not. last.h5's masks are not kept.
  const auto evaluate = [&](const std::string& model, const std::string& folder, bool masks) {
    eval::EvaluateOptions eo;
    eo.model_path = model;
    eo.data_root = o_.data_root;
    eo.list_name = c_.data.val_list;
    eo.out_dir = io::make_dir_inside(o_.out_dir, folder).string();
    eo.dataset = c_.dataset;
    eo.device = c_.device;
    eo.window_batch = c_.eval.window_batch;
    eo.save_predictions = masks;
    const eval::ScoreReport report = eval::evaluate(eo);
    info("final evaluation of " + fs::path(model).filename().string() + " on " + c_.data.val_list +
         ":\n" + eval::format_table(report));
    return eval::report_to_json(report);
  };
  result.final_metrics = evaluate(result.best_path, "eval", true);
  result.final_metrics_last = evaluate(result.last_path, "eval_last", false);
}

TrainResult Trainer::run() {
  const auto t0 = Clock::now();
  const bool have_last = fs::exists(path("last.h5"));
  if (o_.resume && !have_last) {
    // A run stopped before its first checkpoint left only logs: --resume starts it over. One
    // whose best checkpoints remain lost its last.h5, and starting over would replace them.
    if (first_run_file(o_.out_dir).empty())
      throw std::runtime_error(path("last.h5") + ": nothing to resume (no checkpoint)");
    for (const std::string& kept : best_files())
      if (fs::exists(path(kept)))
        throw std::runtime_error(path("last.h5") + ": nothing to resume (no checkpoint), but " +
                                 kept + " remains; train into another --out");
  }
  // Continuing from a checkpoint (a --resume of a run that never wrote one starts over).
  const bool resume = o_.resume && have_last;
  if (!o_.resume && have_last)
    throw std::runtime_error(o_.out_dir +
                             ": already holds a run (last.h5); pass --resume or another --out");
  // The data first: a run refused for its data leaves no run directory behind.
  train_set_ = load_training_set(c_, o_.data_root);
  if (lead_) val_set_ = load_validation_set(c_, o_.data_root);
  const LoopState resumed = resume ? peek_loop(path("last.h5")) : LoopState{};
  if (resume)
    check_resume_cases(path("last.h5"), resumed.cases, cases_fingerprint(train_set_), c_,
                       o_.data_root);
  if (lead_) {
    lock_.emplace(o_.out_dir);
    // Another run may have filled the folder between the first look and the lock.
    if (!o_.resume) refuse_existing_run(o_.out_dir, false);
    log_.emplace(o_.out_dir, o_.echo);
    io::write_file_atomically(path("config.json"), config_to_json(c_).dump(2) + "\n");
  }
  info("bcp train: " + std::string(util::name_of(c_.method)) + " on " +
       std::string(util::name_of(c_.dataset)) + " (" + o_.data_root + "), " +
       std::to_string(train_set_.labeled) + " labeled + " +
       std::to_string(train_set_.size() - train_set_.labeled) + " unlabeled, " +
       std::to_string(val_set_.size()) + " validation cases, device " + c_.device +
       (group_ ? ", " + std::to_string(group_->size()) + " ranks (" + group_->backend() + ")"
               : std::string()));

  TrainResult result;
  result.best_path = path("best.h5");
  result.last_path = path("last.h5");
  const std::vector<StagePlan> plan = plan_stages(c_);
  size_t first = 0;  // a resume continues in the checkpoint's stage
  if (resume) {
    const std::string& resumed_stage = resumed.stage;
    while (first < plan.size() && plan[first].name() != resumed_stage) ++first;
    if (first == plan.size())
      throw std::runtime_error(path("last.h5") + ": stage \"" + resumed_stage +
                               "\" is not one of this recipe's stages");
  }
  const Net first_student = new_model();
  for (size_t i = first; i < plan.size(); ++i) {
    StageNets nets = start_stage(plan[i], first_student, resume && i == first);
    result.stages.push_back(run_stage(plan[i], nets));
    if (interrupted_) {
      result.interrupted = true;
      return result;
    }
  }
  if (lead_ && o_.final_evaluation && !val_set_.empty()) final_evaluation(result);
  result.seconds = seconds_since(t0);
  record("event", {{"event", "finished"}, {"seconds", result.seconds}});
  return result;
}

}  // namespace

void apply_process_settings(const TrainConfig& config, const distributed::DistEnv& dist) {
  const int64_t threads = util::threads_or_default(config.threads, dist.local_world_size);
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(config.seed);
}

TrainResult train(const TrainOptions& options) {
  const TrainConfig& c = options.config;
  validate_config(c);
  // Checked before the run directory and its logs exist, so a refused run leaves nothing behind.
  if (c.world_size != options.dist.world_size)
    throw std::invalid_argument(
        "world_size " + std::to_string(c.world_size) +
        " in the config, but this process is one of " + std::to_string(options.dist.world_size) +
        ": start the ranks with `bcp train --nproc N` or a torchrun-style launcher (RANK, "
        "WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  util::parse_device(c.device, "train");
  std::error_code same_ec;
  if (fs::exists(options.out_dir) && fs::equivalent(options.out_dir, options.data_root, same_ec))
    throw std::invalid_argument(options.out_dir +
                                ": is the data root; give the run its own --out folder");
  // Checked before the Trainer opens the run's logs, so a refused resume changes nothing.
  const std::string last = (fs::path(options.out_dir) / "last.h5").string();
  if (options.resume && fs::exists(last)) check_resume_config(last, c);
  if (!options.resume && options.dist.rank == 0) refuse_existing_run(options.out_dir);
  apply_process_settings(c, options.dist);
  TrainOptions o = options;
  std::unique_ptr<distributed::ProcessGroup> group;
  if (o.dist.distributed()) {
    if (c.device == "cuda") o.config.device = "cuda:" + std::to_string(o.dist.local_rank);
    group = std::make_unique<distributed::ProcessGroup>(
        o.dist, util::parse_device(o.config.device, "train"));
  }
  Trainer t(o, group.get());
  return t.run();
}

}  // namespace bcp::train
