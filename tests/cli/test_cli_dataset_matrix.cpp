// Any user's dataset, end to end through the CLI: synthetic nnU-Net raw folders that vary what
// real ones vary (2-D and 3-D, two classes and three, one channel and two, isotropic and strongly
// anisotropic spacing, volumes smaller and larger than the patch, integer and float images,
// whole-valued float labels) go prepare -> plan -> train (both stages) -> resume -> predict ->
// evaluate -> score with each method. Short runs: the checks are that nothing crashes, every
// output lies on its scan's grid and is complete, and one 3-class 3-D run learns far above chance.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support.h"
#include "bcp/io/nifti.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_cli_dataset_matrix {

namespace fs = std::filesystem;
using bcp::test::quoted;
using bcp::test::run_cli;

namespace {

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace

struct MatrixCase {
  std::string name;
  std::string synth;   ///< bcp synth options
  std::string dim;     ///< prepare --dim
  std::string method;  ///< --set method=...
  int classes;
  std::string train;  ///< extra --set options of the short run
};

std::ostream& operator<<(std::ostream& os, const MatrixCase& c) {
  return os << c.name;
}

class CliDatasetMatrix : public ::testing::TestWithParam<MatrixCase> {};

#ifdef BCP_WITH_ITK
TEST_P(CliDatasetMatrix, PrepareTrainResumePredictEvaluateScore) {
  const MatrixCase& c = GetParam();
  bcp::test::TempDir tmp("matrix_" + c.name);
  const fs::path raw = tmp.path / "raw", root = tmp.path / "root", run = tmp.path / "run",
                 masks = tmp.path / "masks";
  auto r = run_cli("synth --format nnunet --seed 7 " + c.synth + " --out " + quoted(raw));
  ASSERT_EQ(r.rc, 0) << r.output;
  const bool semi = c.method != "supervised";
  r = run_cli("prepare --nnunet " + quoted(raw) +
              (semi ? " --unlabeled " + quoted(raw / "unlabeledTr") : std::string()) + " --dim " +
              c.dim + " --val-cases synth_001 --out " + quoted(root));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("schedule"), std::string::npos) << r.output;  // the plan is printed
  r = run_cli("plan " + quoted(root));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(c.classes) + " classes"), std::string::npos) << r.output;
  EXPECT_EQ(read_json(root / "bcp.json")["data"]["num_classes"], c.classes);

  // Both stages of BCP (or the one of the baselines), then a resume that extends the run.
  const std::string common = " --set threads=1 method=" + c.method + " " + c.train +
                             " schedule.val_every=10 schedule.log_every=10"
                             " schedule.checkpoint_every=10";
  const std::string train = "train --config " + quoted(root / "bcp.json") + " --data " +
                            quoted(root) + " --out " + quoted(run) + common;
  r = run_cli(train + (semi && c.method == "bcp" ? " schedule.pretrain_iters=20" : "") +
              " schedule.selftrain_iters=20");
  ASSERT_EQ(r.rc, 0) << r.output;
  ASSERT_TRUE(fs::exists(run / "best.h5")) << r.output;
  r = run_cli(train + (semi && c.method == "bcp" ? " schedule.pretrain_iters=20" : "") +
              " schedule.selftrain_iters=30 --resume");
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("resum"), std::string::npos) << r.output;

  r = run_cli("predict --model " + quoted(run / "best.h5") + " --input " +
              quoted(raw / "imagesTs") + " --out " + quoted(masks));
  ASSERT_EQ(r.rc, 0) << r.output;
  int predicted = 0;
  for (const auto& e : fs::directory_iterator(raw / "labelsTs")) {
    const std::string file = e.path().filename().string();
    const auto mask = bcp::io::read_volume((masks / file).string());
    const auto scan = bcp::io::read_volume(
        (raw / "imagesTs" / (file.substr(0, file.size() - 7) + "_0000.nii.gz")).string());
    EXPECT_EQ(mask.data.sizes(), scan.data.sizes()) << file;
    EXPECT_LT(mask.data.max().item<int>(), c.classes) << file;
    ++predicted;
  }
  EXPECT_GT(predicted, 0);

  r = run_cli("evaluate --model " + quoted(run / "best.h5") + " --data " + quoted(root) +
              " --list val.list --out " + quoted(tmp.path / "eval"));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp.path / "eval" / "metrics.json"));

  r = run_cli("score --pred " + quoted(masks) + " --ref " + quoted(raw / "labelsTs") +
              " --classes " + std::to_string(c.classes) + " --out " +
              quoted(tmp.path / "score.json"));
  ASSERT_EQ(r.rc, 0) << r.output;
  const auto score = read_json(tmp.path / "score.json");
  EXPECT_EQ(score["per_class"].size(), static_cast<size_t>(c.classes - 1)) << score.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Datasets, CliDatasetMatrix,
    ::testing::Values(
        // 3-D, three classes, small volumes of varying size (some below the patch, some above),
        // float and integer files: the dataset that used to crash self-training.
        MatrixCase{"vol_3class_bcp",
                   "--kind la --classes 3 --cases 4 --unlabeled 4 --test 1 --size 24 28 20 "
                   "--size-jitter 0.3 --mixed-dtypes",
                   "3d", "bcp", 3, "batch.labeled=2 batch.unlabeled=2"},
        // 3-D, two classes, two channels, thick slices (0.8 x 0.8 x 4 mm): the plan keeps z
        // unpooled at first.
        MatrixCase{"vol_aniso_2ch_mt",
                   "--kind la --channels 2 --cases 4 --unlabeled 2 --test 1 --size 32 32 8 "
                   "--spacing 0.8,0.8,4",
                   "3d", "mean-teacher", 2, "batch.labeled=2 batch.unlabeled=2"},
        // 3-D, three classes, labels only: supervised.
        MatrixCase{"vol_3class_sup",
                   "--kind la --classes 3 --cases 4 --unlabeled 0 --test 1 --size 24 20 16 "
                   "--mixed-dtypes",
                   "3d", "supervised", 3, "batch.labeled=2"},
        // 2-D, two classes, float and integer files, Mean Teacher.
        MatrixCase{"slices_2class_mt",
                   "--kind acdc --classes 2 --cases 3 --unlabeled 2 --test 1 --mixed-dtypes", "2d",
                   "mean-teacher", 2, "data.patch=[64,64] batch.labeled=2 batch.unlabeled=2"},
        // 2-D, four classes, two channels, BCP.
        MatrixCase{"slices_4class_2ch_bcp",
                   "--kind acdc --channels 2 --cases 3 --unlabeled 2 --test 1", "2d", "bcp", 4,
                   "data.patch=[64,64] batch.labeled=2 batch.unlabeled=2"}),
    [](const ::testing::TestParamInfo<MatrixCase>& info) { return info.param.name; });

TEST(CliOwnData, SmallThreeClassVolumesLearnFarAboveChance) {
  // The dataset in small: a few labeled 3-class volumes of about 35 x 50 x 35 voxels at
  // 1 mm, many unlabeled ones, the plan as `bcp prepare` writes it but a shorter schedule.
  bcp::test::TempDir tmp("own_3class");
  const fs::path raw = tmp.path / "raw", root = tmp.path / "root", run = tmp.path / "run",
                 masks = tmp.path / "masks";
  auto r = run_cli(
      "synth --format nnunet --kind la --classes 3 --cases 5 --unlabeled 8 --test 3 --seed 11 "
      "--size 35 50 35 --size-jitter 0.15 --spacing 1,1,1 --mixed-dtypes --out " +
      quoted(raw));
  ASSERT_EQ(r.rc, 0) << r.output;
  r = run_cli("prepare --nnunet " + quoted(raw) + " --unlabeled " + quoted(raw / "unlabeledTr") +
              " --dim 3d --val-cases synth_001 --out " + quoted(root));
  ASSERT_EQ(r.rc, 0) << r.output;
  const auto plan = read_json(root / "bcp.json");
  // The patch covers the median volume, each axis a multiple of its down-sampling.
  const auto patch = plan["data"]["patch"].get<std::vector<int64_t>>();
  ASSERT_EQ(patch.size(), 3u);
  EXPECT_GE(patch[0], 32);
  EXPECT_GE(patch[1], 48);
  EXPECT_LE(patch[0] * patch[1] * patch[2], 64 * 64 * 64) << plan.dump();
  r = run_cli("train --config " + quoted(root / "bcp.json") + " --data " + quoted(root) +
              " --out " + quoted(run) +
              " --set threads=1 schedule.pretrain_iters=150 schedule.selftrain_iters=100"
              " schedule.val_every=50 schedule.log_every=50");
  ASSERT_EQ(r.rc, 0) << r.output;
  r = run_cli("predict --model " + quoted(run / "best.h5") + " --input " +
              quoted(raw / "imagesTs") + " --out " + quoted(masks));
  ASSERT_EQ(r.rc, 0) << r.output;
  r = run_cli("score --pred " + quoted(masks) + " --ref " + quoted(raw / "labelsTs") +
              " --classes 3 --out " + quoted(tmp.path / "score.json"));
  ASSERT_EQ(r.rc, 0) << r.output;
  const auto score = read_json(tmp.path / "score.json");
  // Chance (all background, or a random class) scores near 0 on both small structures.
  EXPECT_GT(score["mean"]["dice"].get<double>(), 0.5) << score.dump();
}

TEST(CliOwnData, UnsupportedCombinationsAreRefusedBeforeTraining) {
  bcp::test::TempDir tmp("own_refused");
  const fs::path raw = tmp.path / "raw", root = tmp.path / "root";
  auto r = run_cli(
      "synth --format nnunet --kind la --classes 3 --cases 3 --unlabeled 2 --test 0 --seed 1 "
      "--size 20 20 12 --out " +
      quoted(raw));
  ASSERT_EQ(r.rc, 0) << r.output;
  r = run_cli("prepare --nnunet " + quoted(raw) + " --unlabeled " + quoted(raw / "unlabeledTr") +
              " --dim 3d --val-cases synth_001 --out " + quoted(root));
  ASSERT_EQ(r.rc, 0) << r.output;
  const std::string train = "train --config " + quoted(root / "bcp.json") + " --data " +
                            quoted(root) + " --out " + quoted(tmp.path / "run") +
                            // Short, so that a combination wrongly accepted fails fast.
                            " --set schedule.pretrain_iters=2 schedule.selftrain_iters=2 ";
  // A patch the network's down-sampling does not divide (the plan halves x twice: 4 divides it).
  r = run_cli(train + "data.patch=[18,20,12]");
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("data.patch"), std::string::npos) << r.output;
  // Strides on the 2-D recipe, and strides other than 1 or 2.
  r = run_cli(train +
              "dataset=acdc data.patch=[64,64] net.strides=[[2,2,1],[2,2,1],[2,2,1],[2,2,1]]");
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("strides"), std::string::npos) << r.output;
  r = run_cli(train + "net.strides=[[3,2,1],[2,2,1],[2,2,1],[2,2,1]]");
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("strides"), std::string::npos) << r.output;
  // Fewer classes than the labels hold: named with the file before any step.
  r = run_cli(train + "data.num_classes=2");
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find(".h5"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("step"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.path / "run" / "last.h5"));
}
#else
TEST(CliDatasetMatrix, NeedsItk) {
  GTEST_SKIP() << "SKIPPED: built without ITK";
}
#endif

}  // namespace bcp_test_cli_dataset_matrix
