// Outputs stay inside the folder the user named: a symbolic link planted inside it (a folder bcp
// creates there, a log it appends to) is refused, never written through; a final file name that
// is a link is replaced by the rename, never followed. One test per command that writes such
// things: train, ablate, predict, evaluate.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "../support.h"
#include "../train/tiny_run.h"
#include "bcp/eval/evaluate.h"
#include "bcp/eval/predict.h"
#include "bcp/io/h5.h"
#include "bcp/io/output_path.h"
#include "bcp/nets/model_archive.h"
#include "bcp/train/ablation.h"
#include "bcp/train/trainer.h"

namespace fs = std::filesystem;
using bcp::test::error_of;

namespace {

bool empty_dir(const fs::path& p) {
  return fs::is_directory(p) && fs::is_empty(p);
}

bcp::train::TrainOptions tiny_train(const fs::path& out) {
  bcp::train::TrainOptions o;
  o.config = bcp::test::tiny_config("supervised");
  o.config.schedule.selftrain_iters = 2;
  o.data_root = bcp::test::tiny_acdc();
  o.out_dir = out.string();
  o.echo = false;
  o.final_evaluation = false;
  return o;
}

}  // namespace

TEST(OutputLinks, MakeDirInsideRefusesLinksAndEscapes) {
  bcp::test::TempDir tmp("outlinks_unit");
  fs::create_directories(tmp.path / "elsewhere");
  fs::create_directories(tmp.path / "out");
  fs::create_directory_symlink(tmp.path / "elsewhere", tmp.path / "out" / "tb");
  const std::string e = error_of([&] { bcp::io::make_dir_inside(tmp.path / "out", "tb/train"); });
  EXPECT_NE(e.find("tb: is a symbolic link"), std::string::npos) << e;
  EXPECT_TRUE(empty_dir(tmp.path / "elsewhere"));
  EXPECT_THROW(bcp::io::make_dir_inside(tmp.path / "out", "../up"), std::invalid_argument);
  EXPECT_EQ(bcp::io::make_dir_inside(tmp.path / "out", "a/b"), tmp.path / "out" / "a" / "b");
  EXPECT_TRUE(fs::is_directory(tmp.path / "out" / "a" / "b"));
  // The folder the user named may itself be a link: that is their choice.
  fs::create_directory_symlink(tmp.path / "elsewhere", tmp.path / "named");
  EXPECT_NO_THROW(bcp::io::make_dir_inside(tmp.path / "named", "x"));
}

TEST(OutputLinks, TrainRefusesALinkedLogOrTensorBoardFolder) {
  bcp::test::TempDir tmp("outlinks_train");
  const fs::path outside = tmp.path / "outside.txt";
  std::ofstream(outside) << "keep\n";
  fs::create_directories(tmp.path / "run");
  fs::create_symlink(outside, tmp.path / "run" / "log.txt");
  std::string e = error_of([&] { bcp::train::train(tiny_train(tmp.path / "run")); });
  EXPECT_NE(e.find("log.txt: is a symbolic link"), std::string::npos) << e;
  EXPECT_EQ(bcp::test::read_file_bytes(outside), "keep\n");

  fs::create_directories(tmp.path / "elsewhere");
  fs::create_directories(tmp.path / "run2");
  fs::create_directory_symlink(tmp.path / "elsewhere", tmp.path / "run2" / "tb");
  e = error_of([&] { bcp::train::train(tiny_train(tmp.path / "run2")); });
  EXPECT_NE(e.find("tb: is a symbolic link"), std::string::npos) << e;
  EXPECT_TRUE(empty_dir(tmp.path / "elsewhere"));
}

TEST(OutputLinks, AblateRefusesALinkedRunFolder) {
  bcp::test::TempDir tmp("outlinks_ablate");
  fs::create_directories(tmp.path / "elsewhere");
  bcp::train::AblationOptions o;
  o.base = tiny_train(tmp.path).config;
  o.axes = {bcp::train::parse_vary("optim.lr=0.01")};
  o.data_root = bcp::test::tiny_acdc();
  o.out_dir = (tmp.path / "grid").string();
  o.echo = false;
  o.final_evaluation = false;
  const auto runs = bcp::train::plan_ablation(o.base, o.axes);
  fs::create_directories(o.out_dir);
  fs::create_directory_symlink(tmp.path / "elsewhere", fs::path(o.out_dir) / runs[0].name);
  const std::string e = error_of([&] { bcp::train::run_ablation(o); });
  EXPECT_NE(e.find("is a symbolic link"), std::string::npos) << e;
  EXPECT_TRUE(empty_dir(tmp.path / "elsewhere"));
}

TEST(OutputLinks, PredictRefusesALinkedProbabilitiesFolder) {
  bcp::test::TempDir tmp("outlinks_predict");
  torch::manual_seed(0);
  auto net = bcp::nets::make_model({bcp::nets::Arch::kUNet2d, 1, 2, 4});
  bcp::nets::save_model((tmp.path / "model.h5").string(), *net, net->config());
  fs::create_directories(tmp.path / "in");
  bcp::io::write_h5_atomically((tmp.path / "in" / "case.h5").string(),
                               {{"image", torch::rand({2, 32, 32})}});
  fs::create_directories(tmp.path / "elsewhere");
  fs::create_directories(tmp.path / "out");
  fs::create_directory_symlink(tmp.path / "elsewhere", tmp.path / "out" / "probabilities");
  bcp::eval::PredictOptions o;
  o.model_path = (tmp.path / "model.h5").string();
  o.input = (tmp.path / "in").string();
  o.out_dir = (tmp.path / "out").string();
  o.save_probabilities = true;
  const std::string e = error_of([&] { bcp::eval::predict(o); });
  EXPECT_NE(e.find("probabilities: is a symbolic link"), std::string::npos) << e;
  EXPECT_TRUE(empty_dir(tmp.path / "elsewhere"));
}

TEST(OutputLinks, EvaluateReplacesALinkedPredictionsFolderWithoutFollowingIt) {
  bcp::test::TempDir tmp("outlinks_evaluate");
  const auto run = bcp::train::train(tiny_train(tmp.path / "run"));
  fs::create_directories(tmp.path / "elsewhere");
  std::ofstream(tmp.path / "elsewhere" / "keep.txt") << "keep\n";
  fs::create_directories(tmp.path / "eval");
  fs::create_directory_symlink(tmp.path / "elsewhere", tmp.path / "eval" / "predictions");
  bcp::eval::EvaluateOptions o;
  o.model_path = run.best_path;
  o.data_root = bcp::test::tiny_acdc();
  o.list_name = "val.list";
  o.out_dir = (tmp.path / "eval").string();
  bcp::eval::evaluate(o);
  EXPECT_FALSE(fs::is_symlink(tmp.path / "eval" / "predictions"));
  EXPECT_TRUE(fs::is_directory(tmp.path / "eval" / "predictions"));
  EXPECT_FALSE(fs::is_empty(tmp.path / "eval" / "predictions"));
  EXPECT_EQ(bcp::test::read_file_bytes(tmp.path / "elsewhere" / "keep.txt"), "keep\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path / "elsewhere"), {}), 1);
}
