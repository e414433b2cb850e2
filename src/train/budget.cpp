#include "bcp/train/budget.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "bcp/nets/segmentation_net.h"
#include "bcp/train/stage_plan.h"
#include "bcp/train/step_runner.h"
#include "bcp/train/training_set.h"
#include "bcp/train/validation.h"
#include "bcp/util/device.h"

namespace bcp::train {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

std::string minutes(double seconds) {
  return fixed(seconds / 60.0, 1) + " min";
}

/// Steps timed per stage after one untimed (oneDNN builds its kernels on first use).
constexpr int kTimedSteps = 3;
/// Validations a run aims for: enough to select a checkpoint, few enough to leave time to train.
constexpr int64_t kValidations = 10;
/// The shortest run worth planning: fewer steps than this per stage teach the network nothing.
constexpr int64_t kMinStageSteps = 20;
/// Steps are planned to fill this share of the time the rest leaves: steps in a run cost a little
/// more than the timed ones (checkpoints, logs, the stages' set-up), and a budget is a limit.
constexpr double kPlannedShare = 0.95;
/// short_run_recipe halves no side below this: measured on ACDC (256 -> 128); smaller images
/// would lose their thin structures, and nothing here measured what halving them costs.
constexpr int64_t kMinHalvedSide = 128;
/// The 3-D counterpart: 64 leaves 4 voxels after the VNet's four poolings (the plan's floor). LA's
/// 112x112x80 is kept (56 is no multiple of 16); ACDC as volumes (224x256 in-plane) is halved.
constexpr int64_t kMinHalvedSide3d = 64;

/// "256x256", "56x56x40": a patch or stride as the plan prints it.
std::string shape(const std::vector<int64_t>& sizes) {
  std::string out;
  for (int64_t v : sizes) out += (out.empty() ? "" : "x") + std::to_string(v);
  return out;
}

double median_step(const TrainConfig& c, const TrainingSet& set, StepKind kind,
                   torch::Device device) {
  StepRunner runner(c, set, kind, device);
  runner.step();
  std::vector<double> t;
  for (int i = 0; i < kTimedSteps; ++i) {
    const auto t0 = Clock::now();
    runner.step();
    t.push_back(since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

double parse_duration(const std::string& text, const std::string& what) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument(what + " '" + text + "': " + why +
                                 " (give seconds, or a number with s, m or h: 90s, 20m, 1.5h)");
  };
  if (text.empty()) throw bad("empty");
  double scale = 1;
  std::string number = text;
  switch (text.back()) {
    case 's':
      number.pop_back();
      break;
    case 'm':
      scale = 60;
      number.pop_back();
      break;
    case 'h':
      scale = 3600;
      number.pop_back();
      break;
    default:
      break;
  }
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(number, &used);
  } catch (const std::exception&) {
    throw bad("not a duration");
  }
  if (used != number.size() || number.empty()) throw bad("not a duration");
  if (!std::isfinite(v) || v <= 0) throw bad("must be a positive, finite time");
  return v * scale;
}

TrainConfig short_run_recipe(const TrainConfig& input, std::vector<std::string>& changes) {
  TrainConfig c = input;
  if (c.method == Method::kBcp && c.schedule.pretrain_iters > 0 &&
      c.schedule.pretrain_iters != c.schedule.selftrain_iters) {
    changes.push_back("recipe    stages in equal steps, not the config's " +
                      std::to_string(c.schedule.pretrain_iters) + ":" +
                      std::to_string(c.schedule.selftrain_iters) +
                      " (a short pre-training leaves a weak teacher)");
    c.schedule.pretrain_iters = c.schedule.selftrain_iters;
  }
  const nets::ModelConfig net = model_config_for(c);
  const std::vector<int64_t> factor = nets::pooling_factor(net);
  const auto first_strides = nets::stage_strides(net).front();
  // 2-D: both sides (slices are resized to the patch: the same view at half the resolution).
  // 3-D: the sides the network pools first (the finest spacing; the reference pools all three),
  // and only where the halves are still kMinHalvedSide3d: the patch becomes a random crop of a
  // quarter of what it was (a whole volume, for a plan's patch), as LA's patch is of its volumes.
  const bool volumes = c.data.patch.size() == 3;
  const int64_t min_side = volumes ? kMinHalvedSide3d : kMinHalvedSide;
  std::vector<int64_t> half = c.data.patch;
  bool halvable = true;
  for (size_t a = 0; a < c.data.patch.size(); ++a) {
    if (first_strides.at(a) != 2) continue;  // not pooled first
    const int64_t h = c.data.patch[a] / 2;
    halvable = halvable && c.data.patch[a] % 2 == 0 && h >= min_side && h % factor.at(a) == 0;
    half[a] = h;
  }
  const bool halved = halvable && half != c.data.patch;
  if (halved) {
    changes.push_back("recipe    patch " + shape(c.data.patch) + " -> " + shape(half) +
                      (volumes ? " (a quarter of the voxels: about 4x the steps; random crops, "
                                 "evaluated by sliding windows of " +
                                     shape(half) + ")"
                               : " (4x the steps; validated and evaluated at " + shape(half) +
                                     ", zoomed back to each scan)"));
    c.data.patch = half;
  }
  if (volumes && c.eval.stride.size() == 3) {
    // The authors' LA stride (18x18x4) runs 72 windows a volume: validations would take most of
    // a short budget. Half-overlapping windows (nnU-Net's default) cost a few; a halved patch
    // gets them too (its old stride could leave gaps between windows).
    std::vector<int64_t> stride = c.eval.stride;
    for (size_t a = 0; a < 3; ++a) {
      const int64_t overlap_half = std::max<int64_t>(1, c.data.patch[a] / 2);
      stride[a] = halved ? overlap_half : std::max(stride[a], overlap_half);
    }
    if (stride != c.eval.stride) {
      changes.push_back("recipe    sliding-window stride " + shape(c.eval.stride) + " -> " +
                        shape(stride) + " (windows overlapping by half, for validations that fit)");
      c.eval.stride = stride;
    }
  }
  validate_config(c);
  return c;
}

BudgetPlan plan_budget(const TrainConfig& input, const std::string& data_root, double seconds,
                       bool final_evaluation, bool short_run) {
  const auto t0 = Clock::now();
  BudgetPlan p;
  std::vector<std::string> recipe;
  p.config = short_run ? short_run_recipe(input, recipe) : input;
  const TrainConfig config = p.config;  // as planned, before the schedule is set
  p.budget_seconds = seconds;
  const torch::Device device = util::parse_device(config.device, "train");
  const std::vector<StagePlan> stages = plan_stages(config);
  int64_t planned_total = 0;
  for (const StagePlan& s : stages) planned_total += s.iterations;
  if (planned_total <= 0)
    throw std::invalid_argument("--budget: the config plans no training steps");

  // Timed on the run's own data and config, as the trainer will load and run them.
  const auto load0 = Clock::now();
  const TrainingSet set = load_training_set(config, data_root);
  const ValidationSet val = load_validation_set(config, data_root);
  const double load_seconds = since(load0);
  double cost_per_step = 0;  // seconds per step of the whole run, stages in the config's ratio
  for (const StagePlan& s : stages) {
    p.step_seconds.push_back(median_step(config, set, s.kind, device));
    cost_per_step += p.step_seconds.back() * static_cast<double>(s.iterations) /
                     static_cast<double>(planned_total);
  }
  if (!val.empty()) {
    torch::manual_seed(config.seed);
    auto net = nets::make_model(model_config_for(config));
    net->to(device);
    const auto v0 = Clock::now();
    validate_model(*net, val, config);
    p.validation_seconds = since(v0);
  }
  // The final evaluations (best.h5 and last.h5) read the whole list in fp32 and also compute
  // 95HD and ASD: estimated at twice a validation each (more cases when eval.max_cases cuts
  // validation short, and fp32 where validation runs bf16, cost more: a first guess, printed).
  if (final_evaluation && !val.empty()) {
    p.final_seconds = 4.0 * p.validation_seconds;
    if (config.eval.max_cases > 0) p.final_seconds *= 2.0;
    if (config.precision == nets::Precision::kBf16) p.final_seconds *= 1.5;
  }
  p.timing_seconds = since(t0);

  const int64_t validations = val.empty() ? 0 : kValidations + static_cast<int64_t>(stages.size());
  const double fixed_seconds = p.timing_seconds + load_seconds + p.final_seconds +
                               static_cast<double>(validations) * p.validation_seconds;
  // Steps fill kPlannedShare of what is left, and the budget that n steps need: one the inverse
  // of the other, for the refusal's suggestion.
  const auto steps_within = [&](double budget) {
    const double left = kPlannedShare * (budget - fixed_seconds);
    return left > 0 ? static_cast<int64_t>(left / cost_per_step) : int64_t{0};
  };
  const auto budget_for = [&](double n_steps) {
    return fixed_seconds + n_steps * cost_per_step / kPlannedShare;
  };
  const int64_t steps = steps_within(seconds);
  TrainConfig& c = p.config;
  int64_t shortest = steps;
  int64_t fewest_planned = planned_total;
  std::vector<int64_t> iters;
  for (const StagePlan& s : stages) {
    fewest_planned = std::min(fewest_planned, s.iterations);
    iters.push_back(static_cast<int64_t>(
        std::llround(static_cast<double>(steps) * static_cast<double>(s.iterations) /
                     static_cast<double>(planned_total))));
    shortest = std::min(shortest, iters.back());
  }
  if (shortest < kMinStageSteps) {
    // The budget at which the shortest stage would get its kMinStageSteps, by the same sums.
    const double need_steps = static_cast<double>(kMinStageSteps) *
                              static_cast<double>(planned_total) /
                              static_cast<double>(std::max<int64_t>(1, fewest_planned));
    const double need = budget_for(need_steps + 1);
    throw std::invalid_argument(
        "--budget " + minutes(seconds) + ": too short on this machine (a step costs " +
        fixed(cost_per_step, 2) + " s on average, a validation " + fixed(p.validation_seconds, 1) +
        " s, timing took " + fixed(p.timing_seconds, 0) + " s); each stage needs at least " +
        std::to_string(kMinStageSteps) + " steps: give at least " +
        std::to_string(static_cast<int64_t>(std::ceil(need / 60.0))) + "m");
  }
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].id == StageId::kPretrain)
      c.schedule.pretrain_iters = iters[i];
    else
      c.schedule.selftrain_iters = iters[i];
  }
  int64_t total = 0;
  for (int64_t n : iters) total += n;
  c.schedule.val_every = val.empty() ? 0 : std::max<int64_t>(1, total / kValidations);
  c.schedule.checkpoint_every = c.schedule.val_every > 0 ? c.schedule.val_every : total;
  c.schedule.log_every = std::max<int64_t>(1, std::min<int64_t>(c.schedule.log_every, total / 50));

  p.planned_seconds = p.timing_seconds + load_seconds + cost_per_step * static_cast<double>(total) +
                      static_cast<double>(validations) * p.validation_seconds + p.final_seconds;
  std::string timed;
  for (size_t i = 0; i < stages.size(); ++i)
    timed += (i ? ", " : "") + stages[i].name() + " " + fixed(p.step_seconds[i], 2) + " s";
  p.lines.push_back("budget    " + minutes(seconds) + " on this machine (" +
                    std::to_string(torch::get_num_threads()) +
                    (torch::get_num_threads() == 1 ? " thread, " : " threads, ") + config.device +
                    ")");
  p.lines.insert(p.lines.end(), recipe.begin(), recipe.end());
  p.lines.push_back("timed     a step: " + timed + " (median of " + std::to_string(kTimedSteps) +
                    "); a validation " + fixed(p.validation_seconds, 1) + " s (" +
                    std::to_string(val.size()) + " cases); loading " + fixed(load_seconds, 1) +
                    " s; timing took " + fixed(p.timing_seconds, 0) + " s");
  std::string plan;
  for (size_t i = 0; i < stages.size(); ++i)
    plan += (i ? " + " : "") + std::to_string(iters[i]) + " " + stages[i].name();
  p.lines.push_back(
      "schedule  " + plan + " steps (" + (short_run ? "the recipe's" : "the config's") +
      " ratio), validation and last.h5 every " + std::to_string(c.schedule.val_every) + " steps" +
      (p.final_seconds > 0 ? ", then the final evaluations of best.h5 and last.h5 (about " +
                                 fixed(p.final_seconds, 0) + " s)"
                           : std::string()));
  p.lines.push_back("expected  " + minutes(p.planned_seconds) + " in all, timing included");
  return p;
}

}  // namespace bcp::train
