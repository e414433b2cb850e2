// `bcp train --nproc 2`: two real processes on 127.0.0.1 (Gloo) train BCP on synthetic data,
// validate, write their files once (rank 0) and resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../support.h"
#include "bcp/distributed/distributed.h"
#include "bcp/io/tensor_archive.h"

namespace fs = std::filesystem;
using bcp::test::quoted;
using bcp::test::run_cli;

namespace {

int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(CliDistributed, TwoLocalRanksTrainValidateAndResume) {
  if (!bcp::distributed::gloo_available()) GTEST_SKIP() << "this build has no Gloo: no CPU ranks";
  bcp::test::TempDir tmp("cli_dist");
  const fs::path root = tmp.path / "root";
  ASSERT_TRUE(bcp::test::synth_small_acdc(root));
  const fs::path out = tmp.path / "run";
  const std::string train =
      "train --preset acdc-5-bcp --no-eval --nproc 2 --data " + quoted(root) +
      " --set data.patch=[32,32] --set data.labeled=8 --set batch.labeled=4"
      " --set batch.unlabeled=4 --set schedule.pretrain_iters=4 --set schedule.val_every=2"
      " --set schedule.log_every=0 --set threads=1 --set sync_batchnorm=true --out " +
      quoted(out);
  auto first = run_cli(train + " --set schedule.selftrain_iters=4");
  ASSERT_EQ(first.rc, 0) << first.output;
  EXPECT_EQ(occurrences(first.output, "best model: "), 1)
      << "rank 0 alone reports: " << first.output;
  const std::string log = bcp::test::read_file_bytes(out / "log.txt");
  EXPECT_NE(log.find("2 ranks (gloo)"), std::string::npos) << log;
  EXPECT_NE(log.find("selftrain iteration 4: val mean Dice"), std::string::npos) << log;
  for (const char* f : {"config.json", "last.h5", "best.h5", "pretrain_best.h5"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_NE(bcp::test::read_file_bytes(out / "config.json").find("\"world_size\": 2"),
            std::string::npos);

  // Two more self-training steps, again on two ranks (more iterations is a safe change).
  auto resumed = run_cli(train + " --set schedule.selftrain_iters=6 --resume");
  ASSERT_EQ(resumed.rc, 0) << resumed.output;
  const auto last = bcp::io::load_tensor_archive_meta((out / "last.h5").string());
  EXPECT_EQ(last["train"]["stage"], "selftrain");
  EXPECT_EQ(last["train"]["iteration"], 6);
  EXPECT_NE(bcp::test::read_file_bytes(out / "log.txt").find("selftrain: resumed at iteration 4"),
            std::string::npos);
}

TEST(CliDistributed, BadSetupsFailWithOneClearError) {
  bcp::test::TempDir tmp("cli_dist_bad");
  // 4 labeled per step cannot split into even halves on 4 ranks: refused before any rank starts.
  auto split =
      run_cli("train --preset acdc-5-bcp --nproc 4 --data " + quoted(tmp.path / "none") +
              " --set batch.labeled=4 --set batch.unlabeled=4 --out " + quoted(tmp.path / "a"));
  EXPECT_EQ(split.rc, 1) << split.output;
  EXPECT_EQ(bcp::test::count_lines(split.output), 1) << split.output;
  EXPECT_NE(split.output.find("batch.labeled"), std::string::npos) << split.output;
  EXPECT_FALSE(fs::exists(tmp.path / "a"));
  // A rank that fails (no data) fails the whole launch, naming the rank.
  auto missing =
      run_cli("train --preset acdc-5-bcp --nproc 2 --data " + quoted(tmp.path / "none") +
              " --set batch.labeled=4 --set batch.unlabeled=4 --out " + quoted(tmp.path / "b"));
  EXPECT_EQ(missing.rc, 1) << missing.output;
  EXPECT_NE(missing.output.find("bcp: error: rank "), std::string::npos) << missing.output;
  EXPECT_NE(missing.output.find("--nproc 2: a rank failed"), std::string::npos) << missing.output;
  // world_size in a config needs a launcher.
  auto alone = run_cli("train --preset acdc-5-bcp --set world_size=2 --data " +
                       quoted(tmp.path / "none") + " --out " + quoted(tmp.path / "c"));
  EXPECT_EQ(alone.rc, 1) << alone.output;
  EXPECT_NE(alone.output.find("--nproc N"), std::string::npos) << alone.output;
}
