#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "../support.h"
#include "bcp/distributed/distributed.h"

namespace fs = std::filesystem;
using bcp::test::quoted;
using bcp::test::run_cli;

namespace {

fs::path unique_dir(const std::string& name) {
  fs::path p =
      bcp::test::process_temp_dir() / ("bcp_test_bench_" + name + "_" + std::to_string(::getpid()) +
                                       "_" + std::to_string(std::random_device{}()));
  fs::create_directories(p);
  return p;
}

std::vector<nlohmann::json> read_lines(const fs::path& file) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

void expect_common_fields(const nlohmann::json& r) {
  for (const char* key : {"benchmark", "dataset", "precision", "device", "threads",
                          "seconds_median", "seconds_min", "repeats", "warmup", "peak_memory_mib"})
    EXPECT_TRUE(r.contains(key)) << key << " missing in " << r.dump();
  EXPECT_GT(r["seconds_median"].get<double>(), 0);
  EXPECT_LE(r["seconds_min"].get<double>(), r["seconds_median"].get<double>());
  EXPECT_GT(r["peak_memory_mib"].get<double>(), 0);
}

}  // namespace

TEST(CliBench, StepTimesBothPrecisionsAtThePapersShapeAndWritesJsonLines) {
  const fs::path dir = unique_dir("step");
  const auto json = dir / "step.jsonl";
  // Pre-training's step costs less than half of self-training's, and bf16 without AVX-512 runs
  // emulated, 7 to 8 times slower than fp32 (2-core AVX2 machine: 36 s for both, not 81 s).
  auto r = run_cli(
      "bench step --dataset acdc --method bcp --stage pretrain --repeats 1 --warmup 0 --json " +
      quoted(json));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("| step | acdc | bcp | fp32 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("warm-up runs excluded"), std::string::npos);
  auto rows = read_lines(json);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    expect_common_fields(row);
    EXPECT_EQ(row["benchmark"], "step");
    EXPECT_EQ(row["patch"], nlohmann::json({256, 256}));
    EXPECT_EQ(row["batch"], nlohmann::json({12, 0}));  // pre-training: labeled images only
    EXPECT_EQ(row["stage"], "pretrain");
  }
  EXPECT_EQ(rows[0]["precision"], "fp32");
  EXPECT_EQ(rows[1]["precision"], "bf16");
  EXPECT_TRUE(rows[1].contains("speedup_vs_fp32"));
  // The default stage, self-training, in fp32: 12 labeled + 12 unlabeled images (9 s here).
  const auto selftrain = dir / "selftrain.jsonl";
  r = run_cli("bench step --precision fp32 --repeats 1 --warmup 0 --json " + quoted(selftrain));
  ASSERT_EQ(r.rc, 0) << r.output;
  rows = read_lines(selftrain);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["stage"], "selftrain");
  EXPECT_EQ(rows[0]["batch"], nlohmann::json({12, 12}));
  EXPECT_EQ(rows[0]["patch"], nlohmann::json({256, 256}));
  fs::remove_all(dir);
}

// --profile: one more step under LibTorch's profiler, its operators by self time; every second
// of the profiled step is attributed (to an operator or to the time between operators).
TEST(CliBench, StepProfileSaysWhereTheStepWent) {
  const fs::path dir = unique_dir("step_profile");
  const auto json = dir / "profile.jsonl";
  auto r = run_cli(
      "bench step --stage pretrain --precision fp32 --repeats 1 --warmup 0 --profile 4 --json " +
      quoted(json));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("where one fp32 step goes"), std::string::npos) << r.output;
  auto rows = read_lines(json);
  ASSERT_EQ(rows.size(), 1u);
  const auto& profile = rows[0].at("profile");
  ASSERT_EQ(profile.size(), 6u);  // 4 operators, the others, the time outside operators
  EXPECT_EQ(profile.back()["op"], "(outside operators)");
  EXPECT_EQ(profile[4]["op"], "(other operators)");
  bool convolution = false;
  double attributed = 0;
  for (size_t i = 0; i < profile.size(); ++i) {
    const double self = profile[i]["self_seconds"].get<double>();
    if (i > 0 && i < 4) {
      EXPECT_LE(self, profile[i - 1]["self_seconds"].get<double>()) << i;
    }
    EXPECT_GE(self, 0);
    attributed += self;
    convolution =
        convolution || profile[i]["op"].get<std::string>().find("convolution") != std::string::npos;
  }
  EXPECT_TRUE(convolution) << profile.dump();  // the UNet's convolutions lead any step
  EXPECT_NEAR(attributed, rows[0]["profile_seconds"].get<double>(), 1e-6) << profile.dump();

  r = run_cli("bench step --profile 4 --nproc 2");
  EXPECT_EQ(r.rc, 2) << r.output;
  EXPECT_NE(r.output.find("--profile"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

// --profile-shapes: an operator's calls told apart by their input shapes, so that the table says
// which convolution took the time.
TEST(CliBench, StepProfileShapesNamesEachConvolutionByItsShapes) {
  const fs::path dir = unique_dir("step_profile_shapes");
  const auto json = dir / "profile.jsonl";
  auto r = run_cli(
      "bench step --stage pretrain --precision fp32 --steps 1 --warmup 0 --profile 12 "
      "--profile-shapes --json " +
      quoted(json));
  ASSERT_EQ(r.rc, 0) << r.output;
  auto rows = read_lines(json);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["repeats"], 1);  // --steps names step's --repeats
  // Pre-training runs the student on one mixed batch of 6: its convolutions carry that shape.
  bool convolution_with_shape = false;
  for (const auto& op : rows[0].at("profile")) {
    const auto name = op["op"].get<std::string>();
    convolution_with_shape =
        convolution_with_shape ||
        (name.find("convolution") != std::string::npos && name.find(" [6, ") != std::string::npos);
  }
  EXPECT_TRUE(convolution_with_shape) << rows[0].at("profile").dump();
  r = run_cli("bench step --steps 0");
  EXPECT_EQ(r.rc, 2) << r.output;
  r = run_cli("bench step --profile-shapes");
  EXPECT_EQ(r.rc, 2) << r.output;
  EXPECT_NE(r.output.find("needs --profile"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CliBench, StepWithTwoRanksTimesOneProcessAndTheGroupInOneRun) {
  if (!bcp::distributed::gloo_available()) GTEST_SKIP() << "this build has no Gloo: no CPU ranks";
  const fs::path dir = unique_dir("step_ranks");
  const auto json = dir / "ranks.jsonl";
  auto r = run_cli(
      "bench step --stage pretrain --precision fp32 --repeats 1 --warmup 0 --nproc 2 "
      "--json " +
      quoted(json));
  ASSERT_EQ(r.rc, 0) << r.output;
  // Rank 0 alone reports: one table, one JSON file, the baseline first.
  EXPECT_EQ(r.output.find("| benchmark |"), r.output.rfind("| benchmark |")) << r.output;
  auto rows = read_lines(json);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) expect_common_fields(row);
  EXPECT_EQ(rows[0]["ranks"], 1);
  EXPECT_EQ(rows[1]["ranks"], 2);
  EXPECT_EQ(rows[1]["batch"], rows[0]["batch"]);  // the same global batch, shared
  EXPECT_GT(rows[1]["speedup_vs_1_rank"].get<double>(), 0);
  fs::remove_all(dir);
}

TEST(CliBench, InferRunsTheAcdcProtocolAndComparesLabelsWithFp32) {
  const fs::path dir = unique_dir("infer");
  const auto json = dir / "infer.jsonl";
  auto r = run_cli("bench infer --dataset acdc --repeats 1 --json " + quoted(json));
  ASSERT_EQ(r.rc, 0) << r.output;
  auto rows = read_lines(json);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    expect_common_fields(row);
    EXPECT_EQ(row["windows"], 10);  // one network input per slice of the 10-slice volume
    EXPECT_GT(row["seconds_per_volume"].get<double>(), 0);
  }
  const double agree = rows[1]["label_agreement"].get<double>();
  EXPECT_GT(agree, 0.5);
  EXPECT_LE(agree, 1.0);
  fs::remove_all(dir);
}

TEST(CliBench, MetricsAndBadFlags) {
  auto r = run_cli("bench metrics --repeats 2");
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("| metrics | la |"), std::string::npos) << r.output;
  auto bad = run_cli("bench step --precision fp8");
  EXPECT_NE(bad.rc, 0);
  auto missing = run_cli("bench step --json /nonexistent_bcp_dir/x.jsonl --repeats 1");
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.output.find("folder does not exist"), std::string::npos) << missing.output;
  auto none = run_cli("bench step --data /nonexistent_bcp_root --repeats 1");
  EXPECT_EQ(none.rc, 1);
  EXPECT_NE(none.output.find("bcp: error:"), std::string::npos) << none.output;
}
