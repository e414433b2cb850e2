#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/train/config.h"
#include "bcp/train/lr_schedule.h"
#include "bcp/train/resume_check.h"

using namespace bcp::train;
namespace fs = std::filesystem;

TEST(Config, JsonRoundTripIsExact) {
  TrainConfig c = preset("la", 10, "bcp");
  TrainConfig back = config_from_json(config_to_json(c));
  EXPECT_EQ(config_to_json(back), config_to_json(c));
  EXPECT_EQ(back.data.labeled, 8);
  EXPECT_EQ(back.data.patch, (std::vector<int64_t>{112, 112, 80}));
  EXPECT_FALSE(back.bcp.ema_buffers);
  // Oversampling is written only when set: the presets' configs and checkpoints stay as they were.
  EXPECT_FALSE(config_to_json(c)["data"].contains("foreground_oversample"));
  c.data.foreground_oversample = 0.33;
  EXPECT_EQ(config_from_json(config_to_json(c)).data.foreground_oversample, 0.33);
}

TEST(Config, PresetsFollowTheSpec) {
  TrainConfig a5 = preset("acdc", 5, "bcp");
  EXPECT_EQ(a5.data.labeled, 68);
  EXPECT_EQ(a5.batch.labeled, 12);
  EXPECT_EQ(a5.batch.unlabeled, 12);
  EXPECT_EQ(a5.schedule.pretrain_iters, 10000);
  EXPECT_EQ(a5.schedule.selftrain_iters, 30000);
  EXPECT_EQ(a5.optim.schedule, LrSchedule::kConstant);
  EXPECT_TRUE(a5.bcp.inherit_optimizer);
  EXPECT_NEAR(a5.bcp.beta, 2.0 / 3.0, 1e-12);
  EXPECT_EQ(preset("acdc", 10, "bcp").data.labeled, 136);
  TrainConfig l5 = preset("la", 5, "bcp");
  EXPECT_EQ(l5.data.labeled, 4);
  EXPECT_EQ(l5.schedule.pretrain_iters, 2000);
  EXPECT_EQ(l5.schedule.selftrain_iters, 15000);
  EXPECT_FALSE(l5.bcp.inherit_optimizer);
  EXPECT_EQ(preset("acdc", 5, "supervised").batch.unlabeled, 0);
  EXPECT_THROW(preset("acdc", 7, "bcp"), std::invalid_argument);
  EXPECT_THROW(preset("brats", 5, "bcp"), std::invalid_argument);
}

TEST(Config, OverridesAreTypedAndStrict) {
  TrainConfig c = preset("acdc", 5, "bcp");
  apply_override(c, "schedule.pretrain_iters=600");
  apply_override(c, "data.patch=[128,128]");
  apply_override(c, "method=supervised");
  apply_override(c, "bcp.ema_buffers=false");
  EXPECT_EQ(c.schedule.pretrain_iters, 600);
  EXPECT_EQ(c.data.patch, (std::vector<int64_t>{128, 128}));
  EXPECT_EQ(c.method, bcp::train::Method::kSupervised);
  EXPECT_FALSE(c.bcp.ema_buffers);
  EXPECT_THROW(apply_override(c, "schedule.pretrain_itrs=600"), std::invalid_argument);
  EXPECT_THROW(apply_override(c, "schedule.pretrain_iters=abc"), std::invalid_argument);
  EXPECT_THROW(apply_override(c, "novalue"), std::invalid_argument);
}

TEST(Config, ValidationNamesTheKey) {
  TrainConfig c = preset("acdc", 5, "bcp");
  c.batch.labeled = 3;
  try {
    validate_config(c);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("batch.labeled"), std::string::npos) << e.what();
  }
  c = preset("la", 5, "bcp");
  c.data.patch = {112, 112};
  EXPECT_THROW(validate_config(c), std::invalid_argument);
  // Both networks halve the patch four times: 65 would fail deep inside the forward pass.
  c = preset("acdc", 5, "bcp");
  c.data.patch = {64, 65};
  try {
    validate_config(c);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("multiples of the network's down-sampling"),
              std::string::npos)
        << e.what();
  }
}

TEST(Config, ValuesThatWouldFailLateAreRefusedUpFront) {
  // Each of these used to pass the check and fail (or misbehave) after training had run.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"la", "eval.stride=[18,0,4]"},
      {"la", "eval.stride=[18,18,81]"},
      {"acdc", "eval.max_cases=0"},
      {"acdc", "threads=-1"},
      {"acdc", "optim.momentum=1.5"},
      {"acdc", "optim.weight_decay=-1"},
      {"acdc", "schedule.log_every=-1"},
      {"acdc", "schedule.checkpoint_every=-5"},
      {"acdc", "bcp.u_weight=-0.5"},
      {"acdc", "mt.iters_per_epoch=0"},
      {"acdc", "data.unlabeled=-2"},
      {"acdc", "data.patch=[16,16]"},
      {"la", "data.patch=[16,16,16]"},
      {"la", "data.foreground_oversample=1.5"},
      {"acdc", "data.foreground_oversample=-0.1"}};
  for (const auto& [dataset, set] : cases) {
    TrainConfig c = preset(dataset, 5, "bcp");
    apply_override(c, set);
    const std::string key = set.substr(0, set.find('='));
    try {
      validate_config(c);
      FAIL() << set << " passed the check";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
    }
  }
  TrainConfig c = preset("acdc", 5, "bcp");
  c.optim.lr = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(validate_config(c), std::invalid_argument);
  c = preset("acdc", 5, "bcp");
  c.bcp.beta = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(validate_config(c), std::invalid_argument);
}

TEST(Config, OverridesNeverChangeANumberSilently) {
  // Each of these used to be accepted as another value (1, 0, 2^64 - 1, 32) or fail with the
  // JSON library's text and no key.
  for (const std::string set :
       {"schedule.pretrain_iters=1.5", "seed=-1", "seed=1e30", "data.patch=[32.5,32]",
        "data.patch=[32,\"a\"]", "schedule.pretrain_iters=99999999999999999999"}) {
    TrainConfig c = preset("acdc", 5, "bcp");
    const std::string e = bcp::test::error_of([&] { apply_override(c, set); });
    EXPECT_NE(e.find("config key '" + set.substr(0, set.find('='))), std::string::npos)
        << set << ": " << e;
  }
  TrainConfig c = preset("acdc", 5, "bcp");
  EXPECT_NE(bcp::test::error_of([&] {
              apply_override(c, "optim.lr=1e400");
            }).find("--set optim.lr=1e400: not a number"),
            std::string::npos);
  EXPECT_NE(
      bcp::test::error_of([&] { apply_override(c, "bcp.=1"); }).find("'bcp.' is not a config key"),
      std::string::npos);
  EXPECT_NE(bcp::test::error_of([&] {
              config_from_json(nlohmann::json::array());
            }).find("a config must be a JSON object"),
            std::string::npos);
  apply_override(c, "optim.lr=1");  // a whole number where a real one goes is fine
  EXPECT_EQ(c.optim.lr, 1.0);
}

TEST(Config, FilesRejectUnknownKeysAndBadJson) {
  fs::path p = bcp::test::process_temp_dir() / "bcp_cfg_test.json";
  std::ofstream(p) << R"({"dataset": "acdc", "shedule": {}})";
  try {
    load_config(p.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("shedule"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos);
  }
  std::ofstream(p) << "{ not json";
  EXPECT_THROW(load_config(p.string()), std::runtime_error);
  fs::remove(p);
}

TEST(Config, ShippedConfigsEqualThePresets) {
  fs::path dir = bcp::test::source_dir() / "configs";
  int checked = 0;
  for (std::string ds : {"acdc", "la"})
    for (int pct : {5, 10})
      for (std::string m : {"supervised", "mean-teacher", "bcp"}) {
        std::string name = ds + "_" + std::to_string(pct) + "_" + m + ".json";
        ASSERT_TRUE(fs::exists(dir / name)) << name;
        EXPECT_EQ(config_to_json(load_config((dir / name).string())),
                  config_to_json(preset(ds, pct, m)))
            << name;
        ++checked;
      }
  EXPECT_EQ(checked, 12);
}

TEST(LearningRate, SchedulesMatchTheReleasedCode) {
  TrainConfig::Optim o;
  o.lr = 0.01;
  o.schedule = bcp::train::LrSchedule::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate(o, 5000, 10000), 0.01);
  o.schedule = bcp::train::LrSchedule::kStep;
  EXPECT_DOUBLE_EQ(learning_rate(o, 2499, 15000), 0.01);
  EXPECT_NEAR(learning_rate(o, 2500, 15000), 0.001, 1e-15);
  EXPECT_NEAR(learning_rate(o, 5000, 15000), 0.0001, 1e-15);
  o.schedule = bcp::train::LrSchedule::kPoly;
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 100), 0.01);
  EXPECT_NEAR(learning_rate(o, 50, 100), 0.01 * std::pow(0.5, 0.9), 1e-15);
}

// What a resume may change: only length, cadence and where it runs; everything that makes the
// run another experiment is named.
namespace {

std::string joined_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST(ResumeCheck, SameConfigAndSafeChangesAreAllowed) {
  const TrainConfig saved = preset("acdc", 5, "bcp");
  EXPECT_TRUE(resume_conflicts(saved, saved).empty());
  TrainConfig more = saved;
  for (const char* set :
       {"schedule.selftrain_iters=40000", "schedule.pretrain_iters=12000", "schedule.val_every=50",
        "schedule.log_every=5", "schedule.checkpoint_every=10", "threads=1", "eval.window_batch=8",
        "eval.max_cases=3"})
    apply_override(more, set);
  EXPECT_TRUE(resume_conflicts(saved, more).empty()) << joined_lines(resume_conflicts(saved, more));
}

TEST(ResumeCheck, AnotherExperimentIsRefusedWithItsKeys) {
  const TrainConfig saved = preset("acdc", 5, "bcp");
  const auto method = resume_conflicts(saved, preset("acdc", 5, "supervised"));
  ASSERT_FALSE(method.empty());
  EXPECT_NE(joined_lines(method).find("method: saved \"bcp\", requested \"supervised\""),
            std::string::npos)
      << joined_lines(method);

  TrainConfig beta = saved;
  apply_override(beta, "bcp.beta=0.5");
  const auto b = resume_conflicts(saved, beta);
  ASSERT_EQ(b.size(), 1u) << joined_lines(b);
  EXPECT_EQ(b[0].rfind("bcp.beta: saved ", 0), 0u) << b[0];

  TrainConfig fewer = saved;
  apply_override(fewer, "schedule.selftrain_iters=100");
  const auto f = resume_conflicts(saved, fewer);
  ASSERT_EQ(f.size(), 1u) << joined_lines(f);
  EXPECT_NE(f[0].find("fewer iterations"), std::string::npos) << f[0];

  // Another dataset: many keys, each named, including a list that changes length.
  const auto la = joined_lines(resume_conflicts(saved, preset("la", 5, "bcp")));
  for (const char* key : {"dataset:", "data.patch.0:", "data.patch.2:", "batch.labeled:"})
    EXPECT_NE(la.find(key), std::string::npos) << key << " missing in\n" << la;
}

TEST(Config, StridesAreListsOfTriplesAndClassErrorsNameTheirKey) {
  auto c = bcp::train::preset("la", 5, "bcp");
  for (const char* bad :
       {"net.strides=[2,2,1]", "net.strides=[[2,2]]", "net.strides=[[1.5,2,2]]"}) {
    try {
      bcp::train::apply_override(c, bad);
      FAIL() << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("net.strides"), std::string::npos) << e.what();
    }
  }
  bcp::train::apply_override(c, "net.strides=[[2,2,1],[2,2,1],[2,2,2],[2,2,2]]");
  EXPECT_EQ(c.net.strides.size(), 4u);
  bcp::train::validate_config(c);  // 112 x 112 x 80: x and y by 16, z by 4
  c.data.num_classes = 1;
  try {
    bcp::train::validate_config(c);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("data.num_classes"), std::string::npos) << e.what();
  }
}
