// Runs the built `bcp import`: the authors' .pth becomes a bcp checkpoint that loads with the
// same logits and that `bcp evaluate` accepts; bad files fail with one line naming them and
// leave nothing behind.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../support.h"
#include "bcp/io/h5.h"
#include "bcp/nets/model_archive.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_cli_import {

namespace fs = std::filesystem;

namespace {

using bcp::test::RunResult;

using bcp::test::TempDir;

std::string q(const fs::path& p) {
  return bcp::test::quoted(p);
}
using bcp::test::count_lines;

fs::path fixture(const std::string& name) {
  return bcp::test::parity_file("checkpoints/" + name);
}

RunResult run_import(const fs::path& pth, const fs::path& out, const std::string& more = "") {
  return bcp::test::run_cli("import --pth " + q(pth) + " --arch unet2d --classes 4 --out " +
                            q(out) + more);
}

}  // namespace

TEST(CliImport, ImportsTheAuthorsStateDict) {
  const auto pth = fixture("unet2d_state_dict.pth");
  const auto ref = bcp::test::parity_file("unet2d.h5");
  BCP_REQUIRE_SHARED(pth);
  BCP_REQUIRE_SHARED(ref);
  TempDir tmp("bare");
  const RunResult r = run_import(pth, tmp.path / "m.h5");
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_EQ(r.output.rfind("imported unet2d_state_dict.pth as unet2d", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("unused keys ignored"), std::string::npos) << r.output;

  bcp::nets::LoadedModel m = bcp::nets::load_model((tmp.path / "m.h5").string());
  EXPECT_EQ(m.config.arch, bcp::nets::Arch::kUNet2d);
  EXPECT_EQ(m.config.num_classes, 4);
  EXPECT_EQ(m.meta.at("imported_from"), "unet2d_state_dict.pth");
  EXPECT_EQ(m.meta.at("dataset"), "acdc");
  ASSERT_TRUE(m.meta.at("ignored_keys").is_array());
  EXPECT_FALSE(m.meta.at("ignored_keys").empty());
  EXPECT_NE(r.output.find(std::to_string(m.meta.at("ignored_keys").size()) + " unused keys"),
            std::string::npos)
      << r.output;

  torch::NoGradGuard no_grad;
  torch::Tensor logits = m.model->forward(bcp::io::read_h5(ref.string(), "input"));
  torch::Tensor expected = bcp::io::read_h5(ref.string(), "logits");
  EXPECT_LT((logits - expected).abs().max().item<double>(), 1e-4);
}

TEST(CliImport, ImportedCheckpointEvaluatesOnARealVolume) {
  const auto pth = fixture("unet2d_wrapped.pth");
  const auto acdc = bcp::test::data_dir("ACDC");
  BCP_REQUIRE_SHARED(pth);
  BCP_REQUIRE_SHARED(acdc / "val.list");
  // One case of val.list keeps the run short; the rest of the protocol is evaluate's own.
  std::string first_case;
  std::getline(std::ifstream(acdc / "val.list"), first_case);
  ASSERT_FALSE(first_case.empty());
  BCP_REQUIRE_SHARED(acdc / "data" / (first_case + ".h5"));
  TempDir tmp("evaluate");
  fs::create_directories(tmp.path / "root" / "data");
  fs::create_symlink(acdc / "data" / (first_case + ".h5"),
                     tmp.path / "root" / "data" / (first_case + ".h5"));
  std::ofstream(tmp.path / "root" / "val.list") << first_case << "\n";

  const RunResult imported = run_import(pth, tmp.path / "m.h5");
  ASSERT_EQ(imported.rc, 0) << imported.output;
  EXPECT_NE(imported.output.find("['net']"), std::string::npos) << imported.output;
  // No --dataset: evaluate must take "acdc" from the imported checkpoint's meta.
  const RunResult r = bcp::test::run_cli("evaluate --model " + q(tmp.path / "m.h5") + " --data " +
                                         q(tmp.path / "root") + " --list val.list --out " +
                                         q(tmp.path / "eval") + " --no-predictions --follow-links");
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("Dice"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp.path / "eval" / "metrics.json"));
}

TEST(CliImport, MissingFileIsOneLineNamingIt) {
  TempDir tmp("missing");
  const RunResult r = run_import(tmp.path / "nope.pth", tmp.path / "m.h5");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_EQ(r.output.rfind("bcp: error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find((tmp.path / "nope.pth").string() + ": no such file"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(tmp.path / "m.h5"));
}

TEST(CliImport, MaliciousFileIsRefusedAndNothingIsWritten) {
  const auto pth = fixture("malicious.pth");
  BCP_REQUIRE_SHARED(pth);
  const fs::path markers[] = {fs::temp_directory_path() / "bcp_import_executed_code",
                              "/tmp/bcp_import_executed_code"};
  for (const auto& marker : markers)
    ASSERT_FALSE(fs::exists(marker))
        << marker << " exists BEFORE this test: something ran the payload of " << pth
        << " earlier. Investigate, then delete the marker.";
  TempDir tmp("malicious");
  const RunResult r = run_import(pth, tmp.path / "m.h5");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("bcp: error: " + pth.string() + ": refusing pickle global"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(tmp.path / "m.h5"));
  for (const auto& marker : markers) EXPECT_FALSE(fs::exists(marker)) << marker;
}

TEST(CliImport, RejectsBadFlags) {
  TempDir tmp("flags");
  const fs::path pth = tmp.path / "x.pth", out = tmp.path / "m.h5";
  EXPECT_NE(
      bcp::test::run_cli("import --pth " + q(pth) + " --arch resnet --classes 4 --out " + q(out))
          .rc,
      0);
  EXPECT_NE(bcp::test::run_cli("import --pth " + q(pth) + " --arch unet2d --out " + q(out)).rc, 0);
  EXPECT_NE(run_import(pth, out, " --dataset brats").rc, 0);
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace bcp_test_cli_import
