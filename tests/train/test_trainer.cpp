#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "../support.h"
#include "bcp/eval/evaluate.h"
#include "bcp/io/h5.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/state_dict.h"
#include "bcp/train/losses.h"
#include "bcp/train/steps.h"
#include "bcp/train/trainer.h"
#include "tiny_run.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_trainer {

namespace fs = std::filesystem;
using namespace bcp;
using namespace bcp::train;

namespace {

using bcp::test::tiny_acdc;
using bcp::test::tiny_config;

fs::path fresh_dir(const std::string& name) {
  fs::path p = bcp::test::process_temp_dir() / ("bcp_test_trainer_" + name);
  fs::remove_all(p);
  return p;
}

TrainResult run(const TrainConfig& c, const fs::path& out, bool resume = false,
                int64_t stop_after = 0, const std::string& root = tiny_acdc(),
                bool final_evaluation = false) {
  TrainOptions o;
  o.config = c;
  o.data_root = root;
  o.out_dir = out.string();
  o.resume = resume;
  o.echo = false;
  o.final_evaluation = final_evaluation;
  o.stop_after = stop_after;
  return bcp::train::train(o);
}

/// A seeded UNet student, its gradient-free EMA teacher, SGD and the stage context over them:
/// what one step needs outside a trainer.
struct StepRig {
  StepRig(const TrainConfig& c, const TrainingSet& set)
      : student((torch::manual_seed(0), nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4}))),
        teacher(nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4})),
        opt(student->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9)),
        rng(1),
        ctx{c, set, torch::kCPU, *student, teacher.get(), opt, rng},
        copies(make_compute_copies(c, *student, teacher.get())) {
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    copies.attach(ctx);
  }
  std::shared_ptr<nets::SegmentationNetImpl> student, teacher;
  torch::optim::SGD opt;
  std::mt19937_64 rng;
  StageContext ctx;
  ComputeCopies copies;
};

}  // namespace

TEST(TrainStep, BcpSelfTrainStepUpdatesStudentByGradientAndTeacherByEmaOnly) {
  TrainConfig c = tiny_config("bcp");
  TrainingSet set = load_training_set(c, tiny_acdc());
  StepRig rig(c, set);
  auto& [student, teacher, opt, rng, ctx, copies] = rig;
  auto s_before = nets::state_dict(*student);
  auto t_before = nets::state_dict(*teacher);
  for (auto& [k, v] : s_before) v = v.clone();
  for (auto& [k, v] : t_before) v = v.clone();
  StepStats st = take_step(ctx, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, 0);
  EXPECT_TRUE(std::isfinite(st.loss));
  EXPECT_TRUE(st.parts.contains("mix_dice"));
  auto s_after = nets::state_dict(*student);
  auto t_after = nets::state_dict(*teacher);
  int changed = 0;
  for (auto& p : student->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    if (!torch::equal(s_before[p.key()], s_after[p.key()])) ++changed;
  }
  EXPECT_GT(changed, 0);
  for (auto& p : teacher->named_parameters()) {
    EXPECT_FALSE(p.value().grad().defined()) << "teacher got a gradient: " << p.key();
    // teacher = 0.99 teacher + 0.01 student (after the student's step)
    torch::Tensor expect = t_before[p.key()] * 0.99 + s_after[p.key()] * 0.01;
    EXPECT_TRUE(torch::allclose(t_after[p.key()], expect, 1e-6, 1e-7)) << p.key();
  }
  // ACDC blends BN statistics too (bcp.ema_buffers).
  auto key = std::string("encoder.in_conv.conv_conv.1.running_mean");
  ASSERT_TRUE(t_after.count(key));
  EXPECT_FALSE(torch::equal(t_after[key], t_before[key]));
}

TEST(TrainStep, MaskShapeChangesOnlyTheMaskAndBoxKeepsTheDefault) {
  TrainConfig c = tiny_config("bcp");
  TrainingSet set = load_training_set(c, tiny_acdc());
  auto inputs = [&](const std::string& shape) {
    TrainConfig v = c;
    v.bcp.mask = util::parse_enum<MaskShape>(shape);
    std::mt19937_64 rng(9);
    return prepare_step_inputs(v, set, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, rng);
  };
  const StepInputs box = inputs("box"), boxes = inputs("boxes"), contact = inputs("contact");
  // The default draws exactly what the single zero box always drew.
  std::mt19937_64 rng(9);
  const StepInputs before =
      prepare_step_inputs(c, set, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, rng);
  EXPECT_TRUE(torch::equal(box.mask, before.mask));
  EXPECT_TRUE(torch::equal(box.labeled.images, boxes.labeled.images));  // batches are unchanged
  // 32 x 32, beta 2/3: one 21 x 21 box; 9 boxes of int(32 * 2 / 9) = 7; a band of 14 rows.
  EXPECT_EQ((box.mask == 0).sum().item<int64_t>(), 21 * 21);
  EXPECT_EQ((boxes.mask == 0).sum().item<int64_t>(), 9 * 7 * 7);
  EXPECT_EQ((contact.mask == 0).sum().item<int64_t>(), 14 * 32);
  // And the step runs with each.
  for (const auto* in : {&boxes, &contact}) {
    StepRig rig(c, set);
    EXPECT_TRUE(std::isfinite(take_step(rig.ctx, StepKind::kBcpSelftrain, *in, 0).loss));
  }
}

TEST(TrainStep, SoftPseudoLabelsChangeTheSelfTrainingLossAndHardStaysTheDefault) {
  TrainConfig c = tiny_config("bcp");
  EXPECT_EQ(c.bcp.pseudo_label, PseudoLabel::kHard);
  TrainingSet set = load_training_set(c, tiny_acdc());
  std::mt19937_64 rng(9);
  const StepInputs in =
      prepare_step_inputs(c, set, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, rng);
  auto loss_with = [&](const std::string& mode, double temperature) {
    TrainConfig v = c;
    v.bcp.pseudo_label = util::parse_enum<PseudoLabel>(mode);
    v.bcp.temperature = temperature;
    StepRig rig(v, set);    // same seeded weights every time
    torch::manual_seed(1);  // same dropout draws
    return take_step(rig.ctx, StepKind::kBcpSelftrain, in, 0).loss;
  };
  const double hard = loss_with("hard", 1.0), hard_again = loss_with("hard", 1.0);
  const double soft = loss_with("soft", 1.0), sharp = loss_with("soft", 0.5);
  EXPECT_EQ(hard, hard_again);
  for (double v : {soft, sharp}) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_NE(v, hard);
  }
  EXPECT_NE(soft, sharp);
}

TEST(TrainStep, BlendMixesEveryPixelByItsWeightAndPasteStaysTheDefault) {
  TrainConfig c = tiny_config("bcp");
  EXPECT_EQ(c.bcp.mix, bcp::train::MixMode::kPaste);
  TrainingSet set = load_training_set(c, tiny_acdc());
  TrainConfig b = c;
  b.bcp.mix = bcp::train::MixMode::kBlend;
  b.bcp.blend_weight = 0.3;
  b.channels_last = false;  // the step's forward is then the network's own, as below
  std::mt19937_64 r1(9), r2(9);
  const StepInputs paste =
      prepare_step_inputs(c, set, StepKind::kBcpPretrain, {0, 1, 2, 3}, {}, r1);
  const StepInputs blend =
      prepare_step_inputs(b, set, StepKind::kBcpPretrain, {0, 1, 2, 3}, {}, r2);
  EXPECT_TRUE(torch::equal(paste.labeled.images, blend.labeled.images));
  EXPECT_TRUE(torch::equal(paste.mask, paste.mask.round()));  // the paste's mask is 0/1
  EXPECT_TRUE(torch::equal(blend.mask, torch::full_like(blend.mask, 0.3)));

  // The documented step: one forward of 0.3 A + 0.7 B; A's losses weighed 2 * 0.3, B's 2 * 0.7.
  StepRig rig(b, set);
  auto before = rig.student->clone_net();
  torch::manual_seed(1);
  const double got = take_step(rig.ctx, StepKind::kBcpPretrain, blend, 0).loss;
  const auto& x = blend.labeled.images;
  const auto& y = blend.labeled.labels;
  torch::manual_seed(1);
  const auto out = before->forward(x.narrow(0, 0, 2) * 0.3 + x.narrow(0, 2, 2) * 0.7);
  auto both = [&](const torch::Tensor& t) {
    return acdc_dice_loss(torch::softmax(out, 1), t) + mean_cross_entropy(out, t);
  };
  const double want =
      ((0.6 * both(y.narrow(0, 0, 2)) + 1.4 * both(y.narrow(0, 2, 2))) / 2).item<double>();
  EXPECT_NEAR(got, want, 1e-5);

  // Self-training runs with it too, and differs from the paste.
  StepRig rp(c, set), rb(b, set);
  std::mt19937_64 r3(9), r4(9);
  const StepInputs sp =
      prepare_step_inputs(c, set, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, r3);
  const StepInputs sb =
      prepare_step_inputs(b, set, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, r4);
  torch::manual_seed(1);
  const double lp = take_step(rp.ctx, StepKind::kBcpSelftrain, sp, 0).loss;
  torch::manual_seed(1);
  const double lb = take_step(rb.ctx, StepKind::kBcpSelftrain, sb, 0).loss;
  EXPECT_TRUE(std::isfinite(lb));
  EXPECT_NE(lp, lb);

  TrainConfig bad = b;
  // An unknown choice is refused when the config is read, naming the valid ones.
  const std::string mix = bcp::test::error_of([&] { apply_override(bad, "bcp.mix=mixup"); });
  EXPECT_NE(mix.find("config 'bcp.mix': unknown value \"mixup\" (valid: paste or blend)"),
            std::string::npos)
      << mix;
  apply_override(bad, "bcp.blend_weight=1");
  EXPECT_THROW(validate_config(bad), std::invalid_argument);
}

TEST(TrainStep, SupervisedStepLowersTheLossOnAFixedBatch) {
  TrainConfig c = tiny_config("supervised");
  TrainingSet set = load_training_set(c, tiny_acdc());
  torch::manual_seed(0);
  auto student = nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4});
  torch::optim::SGD opt(student->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  std::mt19937_64 rng(1);
  StageContext ctx{c, set, torch::kCPU, *student, nullptr, opt, rng};
  double first = 0, last = 0;
  for (int i = 0; i < 15; ++i) {
    rng.seed(1);  // same augmentation every step: the same batch
    StepStats st = take_step(ctx, StepKind::kSupervised, {0, 1, 2, 3}, {}, i);
    if (i == 0) first = st.loss;
    last = st.loss;
  }
  EXPECT_LT(last, first * 0.9) << "first " << first << " last " << last;
}

TEST(Trainer, BcpRunWritesItsFilesAndResumeEqualsUninterrupted) {
  TrainConfig c = tiny_config("bcp");
  fs::path a = fresh_dir("bcp_a"), b = fresh_dir("bcp_b");
  TrainResult ra = run(c, a);
  ASSERT_EQ(ra.stages.size(), 2u);
  for (const char* f :
       {"config.json", "log.txt", "metrics.jsonl", "last.h5", "best.h5", "pretrain_best.h5"})
    EXPECT_TRUE(fs::exists(a / f)) << f;
  // Interrupted mid-pretrain, then mid-selftrain, then resumed to the end.
  EXPECT_TRUE(run(c, b, false, 3).interrupted);
  EXPECT_TRUE(run(c, b, true, 3).interrupted);
  EXPECT_FALSE(run(c, b, true).interrupted);
  auto la = io::load_tensor_archive((a / "last.h5").string());
  auto lb = io::load_tensor_archive((b / "last.h5").string());
  ASSERT_EQ(la.tensors.size(), lb.tensors.size());
  for (const auto& [name, t] : la.tensors) {
    ASSERT_TRUE(lb.tensors.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, lb.tensors[name])) << "differs after resume: " << name;
  }
  EXPECT_TRUE(la.tensors.count("teacher/encoder.in_conv.conv_conv.0.weight"));
  EXPECT_TRUE(la.tensors.count("optim/0"));
  EXPECT_EQ(la.meta["train"]["iteration"], 4);
  EXPECT_EQ(la.meta["train"]["stage"], "selftrain");
  // The log holds validation records with per-class Dice and HD95.
  std::ifstream log(a / "metrics.jsonl");
  int validations = 0;
  for (std::string line; std::getline(log, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == "validation") {
      ++validations;
      EXPECT_EQ(j["dice"].size(), 3u);
      EXPECT_EQ(j["hd95"].size(), 3u);
    }
  }
  EXPECT_EQ(validations, 4);  // iterations 2 and 4 of both stages
}

TEST(Trainer, ResumeRefusesAnotherExperimentAndChangesNothing) {
  TrainConfig c = tiny_config("bcp");
  fs::path out = fresh_dir("resume_guard");
  ASSERT_TRUE(run(c, out, false, 3).interrupted);
  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string config_before = read(out / "config.json");
  const std::string log_before = read(out / "log.txt");
  const std::string last_before = read(out / "last.h5");
  for (const char* set : {"method=\"supervised\"", "bcp.beta=0.5", "optim.lr=0.02"}) {
    TrainConfig other = c;
    if (std::string(set).rfind("method", 0) == 0)
      other = tiny_config("supervised");
    else
      apply_override(other, set);
    try {
      run(other, out, true);
      FAIL() << "resume with " << set << " must be refused";
    } catch (const std::invalid_argument& e) {
      const std::string key = std::string(set).substr(0, std::string(set).find('='));
      EXPECT_NE(std::string(e.what()).find(key + ": saved"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("last.h5"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read(out / "config.json"), config_before) << set;
    EXPECT_EQ(read(out / "log.txt"), log_before) << set;
    EXPECT_EQ(read(out / "last.h5"), last_before) << set;
  }
  // The same config on other training cases (the list reordered in a copy of the root: other
  // cases become the labeled ones) is another experiment too.
  const fs::path reordered = fresh_dir("resume_guard_root");
  fs::copy(tiny_acdc(), reordered, fs::copy_options::recursive);
  {
    std::vector<std::string> names;
    std::ifstream in(reordered / c.data.train_list);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) names.push_back(line);
    std::ofstream list(reordered / c.data.train_list, std::ios::trunc);
    for (auto it = names.rbegin(); it != names.rend(); ++it) list << *it << "\n";
  }
  const std::string other_cases =
      bcp::test::error_of([&] { run(c, out, true, 0, reordered.string()); });
  EXPECT_NE(other_cases.find("--resume on other training cases"), std::string::npos) << other_cases;
  EXPECT_EQ(read(out / "log.txt"), log_before);
  EXPECT_EQ(read(out / "last.h5"), last_before);
  // More iterations are a safe change: the run continues and records the new length.
  TrainConfig longer = c;
  longer.schedule.selftrain_iters = 6;
  TrainResult r = run(longer, out, true);
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(io::load_tensor_archive_meta((out / "last.h5").string())["train"]["iteration"], 6);
  std::ifstream cfg(out / "config.json");
  EXPECT_EQ(nlohmann::json::parse(cfg)["schedule"]["selftrain_iters"], 6);
}

TEST(Trainer, MissingValidationCaseBeyondMaxCasesFailsBeforeTraining) {
  TrainConfig c = tiny_config("supervised");
  // A list of its own in the tiny root: the first case exists, the second does not.
  const fs::path list = fs::path(tiny_acdc()) / "val_with_missing.list";
  {
    std::ifstream val(fs::path(tiny_acdc()) / "val.list");
    std::string first;
    std::getline(val, first);
    std::ofstream(list) << first << "\npatient999_frame01\n";
  }
  c.data.val_list = list.filename().string();
  c.eval.max_cases = 1;
  fs::path out = fresh_dir("missing_val");
  try {
    run(c, out);
    FAIL() << "a missing validation case must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("patient999_frame01"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out / "last.h5"));
}

TEST(Trainer, BadValidationCaseBeyondMaxCasesFailsBeforeTraining) {
  TrainConfig c = tiny_config("supervised");
  // A list of its own in the tiny root: the first case is fine, the second holds a NaN.
  const fs::path root(tiny_acdc());
  std::string first;
  std::getline(std::ifstream(root / "val.list"), first);
  const std::string source = (root / "data" / (first + ".h5")).string();
  torch::Tensor image = io::read_h5(source, "image").clone();
  image.view({-1})[7] = std::numeric_limits<float>::quiet_NaN();
  io::write_h5_atomically((root / "data" / "patient998_frame01.h5").string(),
                          {{"image", image}, {"label", io::read_h5(source, "label")}});
  std::ofstream(root / "val_with_nan.list") << first << "\npatient998_frame01\n";
  c.data.val_list = "val_with_nan.list";
  c.eval.max_cases = 1;
  const fs::path out = fresh_dir("nan_val");
  const std::string e = bcp::test::error_of([&] { run(c, out); });
  EXPECT_NE(e.find("patient998_frame01"), std::string::npos) << e;
  EXPECT_NE(e.find("NaN"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(out / "last.h5"));
  EXPECT_FALSE(fs::exists(out / "config.json"));
}

TEST(Trainer, MeanTeacherAndSupervisedRunAndRefuseToOverwrite) {
  for (std::string m : {"mean-teacher", "supervised"}) {
    fs::path out = fresh_dir(m);
    TrainResult r = run(tiny_config(m), out);
    ASSERT_EQ(r.stages.size(), 1u) << m;
    EXPECT_GE(r.stages[0].best_dice, 0.0) << m;
    EXPECT_TRUE(fs::exists(out / "best.h5")) << m;
    auto last = io::load_tensor_archive((out / "last.h5").string());
    EXPECT_EQ(last.tensors.count("teacher/encoder.in_conv.conv_conv.0.weight") > 0,
              m == "mean-teacher");
    try {
      run(tiny_config(m), out);
      FAIL() << "a second run into the same folder must be refused";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
    }
  }
}

TEST(Trainer, SameSeedSameWeights) {
  TrainConfig c = tiny_config("supervised");
  fs::path a = fresh_dir("det_a"), b = fresh_dir("det_b");
  run(c, a);
  run(c, b);
  auto la = io::load_tensor_archive((a / "last.h5").string());
  auto lb = io::load_tensor_archive((b / "last.h5").string());
  for (const auto& [name, t] : la.tensors) EXPECT_TRUE(torch::equal(t, lb.tensors[name])) << name;
}

TEST(Trainer, BadInputsAreClearErrors) {
  TrainConfig c = tiny_config("bcp");
  TrainOptions o;
  o.config = c;
  o.data_root = "/nonexistent/acdc";
  o.out_dir = fresh_dir("bad").string();
  o.echo = false;
  try {
    bcp::train::train(o);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/acdc"), std::string::npos) << e.what();
  }
  o.data_root = tiny_acdc();
  o.config.data.labeled = 1000;
  EXPECT_THROW(bcp::train::train(o), std::exception);
  o.config = c;
  o.resume = true;
  o.out_dir = fresh_dir("bad2").string();
  EXPECT_THROW(bcp::train::train(o), std::runtime_error);  // nothing to resume
  // Settings this build cannot run are refused before the run folder exists.
  o.resume = false;
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"world_size", "2"}, {"device", "cuda"}}) {
    if (key == "device" && torch::cuda::is_available()) continue;
    o.config = c;
    apply_override(o.config, key + "=" + (key == "world_size" ? value : "\"" + value + "\""));
    o.out_dir = fresh_dir("refused_" + key).string();
    try {
      bcp::train::train(o);
      ADD_FAILURE() << key << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(o.out_dir)) << key;
  }
}

TEST(Trainer, LaBcpRunsEndToEndAndResumesBitExactly) {
  static const std::string root = [] {
    fs::path p = bcp::test::process_temp_dir() / "bcp_test_trainer_la";
    fs::remove_all(p);
    data::SynthLaOptions o;
    o.seed = 3;
    o.train_cases = 4;
    o.val_cases = 1;
    o.test_cases = 1;
    o.size_x = 40;
    o.size_y = 36;
    o.size_z = 20;
    data::write_synth_la(p.string(), o);
    return p.string();
  }();
  TrainConfig c = preset("la", 5, "bcp");
  c.data.patch = {32, 32, 16};
  c.data.labeled = 2;
  c.batch = {2, 2};
  c.schedule.pretrain_iters = 2;
  c.schedule.selftrain_iters = 2;
  c.schedule.val_every = 2;
  c.schedule.checkpoint_every = 1;
  c.schedule.log_every = 0;
  c.eval.stride = {16, 16, 8};
  c.threads = 1;
  auto run_la = [&](const fs::path& out, bool resume, int64_t stop_after, bool final_eval) {
    return run(c, out, resume, stop_after, root, final_eval);
  };
  fs::path a = fresh_dir("la_a"), b = fresh_dir("la_b");
  TrainResult ra = run_la(a, false, 0, true);
  ASSERT_EQ(ra.stages.size(), 2u);
  EXPECT_TRUE(fs::exists(a / "pretrain_best.h5"));
  EXPECT_TRUE(fs::exists(a / "eval" / "metrics.json"));  // the final LA sliding-window evaluation
  // ... of last.h5 too: its metrics (no masks) are those of evaluating last.h5 itself.
  EXPECT_TRUE(fs::exists(a / "eval_last" / "metrics.json"));
  EXPECT_FALSE(fs::exists(a / "eval_last" / "predictions"));
  {
    eval::EvaluateOptions eo;
    eo.model_path = (a / "last.h5").string();
    eo.data_root = root;
    eo.list_name = c.data.val_list;
    eo.out_dir = fresh_dir("la_last_eval").string();
    eo.save_predictions = false;
    const nlohmann::json direct = eval::report_to_json(eval::evaluate(eo));
    EXPECT_EQ(ra.final_metrics_last.at("mean"), direct.at("mean"));
  }
  EXPECT_TRUE(run_la(b, false, 3, false).interrupted);  // mid self-training
  EXPECT_FALSE(run_la(b, true, 0, false).interrupted);
  auto la = io::load_tensor_archive((a / "last.h5").string());
  auto lb = io::load_tensor_archive((b / "last.h5").string());
  ASSERT_EQ(la.tensors.size(), lb.tensors.size());
  for (const auto& [name, t] : la.tensors) {
    ASSERT_TRUE(lb.tensors.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, lb.tensors[name])) << "differs after resume: " << name;
  }
  EXPECT_EQ(la.meta["config"]["dataset"], "la");
}

TEST(Bf16, StepsAgreeWithFp32ToBf16PrecisionAndKeepFp32Weights) {
  for (std::string method : {"supervised", "bcp"}) {
    SCOPED_TRACE(method);
    std::vector<double> losses;
    for (std::string precision : {"fp32", "bf16"}) {
      TrainConfig c = tiny_config(method);
      c.precision = util::parse_enum<Precision>(precision);
      TrainingSet set = load_training_set(c, tiny_acdc());
      StepRig rig(c, set);
      auto& [student, teacher, opt, rng, ctx, copies] = rig;
      StepStats st = method == "bcp"
                         ? take_step(ctx, StepKind::kBcpSelftrain, {0, 1, 2, 3}, {8, 9, 10, 11}, 0)
                         : take_step(ctx, StepKind::kSupervised, {0, 1, 2, 3}, {}, 0);
      ASSERT_TRUE(std::isfinite(st.loss));
      losses.push_back(st.loss);
      for (auto& p : student->parameters()) {
        EXPECT_EQ(p.scalar_type(), torch::kFloat32);
        ASSERT_TRUE(p.grad().defined());
        EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
      }
    }
    // bf16 keeps 8 bits of mantissa: the same step's loss agrees to about a percent, not exactly.
    EXPECT_NEAR(losses[1], losses[0], 0.03 * losses[0]);
    EXPECT_NE(losses[1], losses[0]);  // it really ran in bf16
  }
}

TEST(Bf16, BcpRunCompletesWithFp32Checkpoints) {
  TrainConfig c = tiny_config("bcp");
  c.precision = bcp::nets::Precision::kBf16;
  fs::path out = fresh_dir("bf16");
  TrainResult r = run(c, out);
  ASSERT_EQ(r.stages.size(), 2u);
  auto last = io::load_tensor_archive((out / "last.h5").string());
  for (const auto& [name, t] : last.tensors)
    if (t.is_floating_point()) {
      EXPECT_EQ(t.scalar_type(), torch::kFloat32) << name;
    }
  EXPECT_EQ(last.meta["config"]["precision"], "bf16");
}

}  // namespace bcp_test_trainer
