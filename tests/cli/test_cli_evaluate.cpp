// Runs the built `bcp evaluate`: bad inputs fail with one line naming them; a tiny model on one
// real ACDC volume prints the table.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../support.h"
#include "bcp/nets/model_archive.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_cli_evaluate {

namespace fs = std::filesystem;

namespace {

using bcp::test::RunResult;

RunResult run_evaluate(const std::string& args) {
  return bcp::test::run_cli("evaluate " + args);
}

std::string q(const fs::path& p) {
  return bcp::test::quoted(p);
}
using bcp::test::count_lines;

/// A small seeded ACDC UNet (4 classes, 4 base filters) saved as a bcp checkpoint.
void save_small_unet(const fs::path& path) {
  torch::manual_seed(3);
  bcp::nets::ModelConfig c;
  c.arch = bcp::nets::Arch::kUNet2d;
  c.num_classes = 4;
  c.base_filters = 4;
  auto net = bcp::nets::make_model(c);
  bcp::nets::save_model(path.string(), *net, c);
}

TEST(CliEvaluate, MissingCheckpointIsOneLine) {
  const fs::path tmp = bcp::test::process_temp_dir() / "bcp_test_cli_evaluate_missing";
  fs::remove_all(tmp);
  fs::create_directories(tmp / "root");
  const auto r = run_evaluate("--model " + q(tmp / "nope.h5") + " --data " + q(tmp / "root") +
                              " --list val.list --out " + q(tmp / "out"));
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("bcp: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((tmp / "nope.h5").string()), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "out"));
  fs::remove_all(tmp);
}

TEST(CliEvaluate, RejectsBadFlags) {
  EXPECT_NE(run_evaluate("--model a --data b --list c --out d --format png").rc, 0);
  EXPECT_NE(run_evaluate("--model a --data b --list c --out d --window-batch 0").rc, 0);
  EXPECT_NE(run_evaluate("--data b --list c --out d").rc, 0);
}

TEST(CliEvaluate, PrintsTheTableOnARealVolume) {
  const auto src = bcp::test::data_dir("ACDC") / "data" / "patient028_frame01.h5";
  BCP_REQUIRE_SHARED(src);
  const fs::path tmp = bcp::test::process_temp_dir() / "bcp_test_cli_evaluate_acdc";
  fs::remove_all(tmp);
  fs::create_directories(tmp / "root" / "data");
  fs::create_symlink(src, tmp / "root" / "data" / "patient028_frame01.h5");
  std::ofstream(tmp / "root" / "one.list") << "patient028_frame01\n";
  save_small_unet(tmp / "m.h5");

  const auto r =
      run_evaluate("--model " + q(tmp / "m.h5") + " --data " + q(tmp / "root") +
                   " --list one.list --out " + q(tmp / "out") + " --format nii.gz --follow-links");
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("Dice"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "out" / "metrics.json"));
  EXPECT_TRUE(fs::exists(tmp / "out" / "predictions" / "patient028_frame01.nii.gz"));
  fs::remove_all(tmp);
}

TEST(CliEvaluate, AFailingCaseLeavesNoOutputThatLooksComplete) {
  const auto data = bcp::test::data_dir("ACDC") / "data";
  BCP_REQUIRE_SHARED(data / "patient028_frame01.h5");
  BCP_REQUIRE_SHARED(data / "patient002_frame01.h5");
  bcp::test::TempDir tmp("cli_evaluate_partial");
  fs::create_directories(tmp.path / "root" / "data");
  fs::create_symlink(data / "patient028_frame01.h5",
                     tmp.path / "root" / "data" / "patient028_frame01.h5");
  // The second case exists (so the up-front checks pass) but is not HDF5.
  std::ofstream(tmp.path / "root" / "data" / "patient002_frame01.h5") << "not an HDF5 file";
  std::ofstream(tmp.path / "root" / "two.list") << "patient028_frame01\npatient002_frame01\n";
  save_small_unet(tmp.path / "m.h5");
  const std::string args = "--model " + q(tmp.path / "m.h5") + " --data " + q(tmp.path / "root") +
                           " --list two.list --out " + q(tmp.path / "out") + " --follow-links";

  auto failed = run_evaluate(args);
  EXPECT_EQ(failed.rc, 1) << failed.output;
  // Progress lines for the cases done come first; the error is the one last line.
  const auto error_at = failed.output.find("bcp: error: ");
  ASSERT_NE(error_at, std::string::npos) << failed.output;
  const std::string error = failed.output.substr(error_at);
  EXPECT_EQ(count_lines(error), 1) << failed.output;
  EXPECT_NE(error.find("patient002_frame01"), std::string::npos) << failed.output;
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "metrics.json"));
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "predictions"));
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "predictions.incomplete" / "patient028_frame01.h5"));

  fs::remove(tmp.path / "root" / "data" / "patient002_frame01.h5");
  fs::create_symlink(data / "patient002_frame01.h5",
                     tmp.path / "root" / "data" / "patient002_frame01.h5");
  auto ok = run_evaluate(args);
  ASSERT_EQ(ok.rc, 0) << ok.output;
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "metrics.json"));
  EXPECT_TRUE(fs::exists(tmp.path / "out" / "predictions" / "patient002_frame01.h5"));
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "predictions.incomplete"));

  // Failing again into the same folder leaves nothing of the good run that could pass for this
  // one's results.
  fs::remove(tmp.path / "root" / "data" / "patient002_frame01.h5");
  std::ofstream(tmp.path / "root" / "data" / "patient002_frame01.h5") << "not an HDF5 file";
  EXPECT_EQ(run_evaluate(args).rc, 1);
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "metrics.json"));
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "metrics.csv"));
  EXPECT_FALSE(fs::exists(tmp.path / "out" / "predictions"));
}

}  // namespace

}  // namespace bcp_test_cli_evaluate
