// Inputs stay inside the data root the user named: a file that a root reaches through a symbolic
// link leading out of it is refused (naming it and --follow-links) before anything is read or
// written, unless the user passes --follow-links. One test per way in: the check itself, train,
// evaluate (the CLI, both places of the flag) and prepare (nnU-Net folders).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "../support.h"
#include "../train/tiny_run.h"
#include "bcp/io/input_path.h"
#include "bcp/nets/model_archive.h"
#include "bcp/train/trainer.h"

#ifdef BCP_WITH_ITK
#include "../data/nnunet_fixture.h"
#include "bcp/data/prepare.h"
#endif

namespace fs = std::filesystem;
using bcp::test::error_of;

namespace {

/// A copy of the tiny synthetic ACDC root whose first validation volume is moved out of it (to
/// `outside`) and linked back in.
fs::path root_with_a_link_out(const fs::path& dir, const fs::path& outside) {
  fs::copy(bcp::test::tiny_acdc(), dir / "root", fs::copy_options::recursive);
  std::string first;
  std::getline(std::ifstream(dir / "root" / "val.list"), first);
  const fs::path inside = dir / "root" / "data" / (first + ".h5");
  fs::create_directories(outside.parent_path());
  fs::rename(inside, outside);
  fs::create_symlink(outside, inside);
  return inside;
}

}  // namespace

TEST(InputLinks, InsideRootJudgesWhereAPathLeads) {
  bcp::test::TempDir tmp("inlinks_unit");
  fs::create_directories(tmp.path / "root" / "data");
  fs::create_directories(tmp.path / "elsewhere");
  std::ofstream(tmp.path / "elsewhere" / "scan.h5") << "x";
  std::ofstream(tmp.path / "root" / "data" / "real.h5") << "x";
  fs::create_symlink(tmp.path / "elsewhere" / "scan.h5", tmp.path / "root" / "data" / "out.h5");
  fs::create_symlink(tmp.path / "root" / "data" / "real.h5", tmp.path / "root" / "data" / "in.h5");
  fs::create_directory_symlink(tmp.path / "elsewhere", tmp.path / "root" / "linked");
  fs::create_directory_symlink(tmp.path / "root", tmp.path / "root_link");
  const std::string root = (tmp.path / "root").string();
  using bcp::io::inside_root;

  const std::string out = (tmp.path / "root" / "data" / "out.h5").string();
  const std::string e = error_of([&] { inside_root(root, out); });
  EXPECT_NE(e.find(out + ": leads outside the data root"), std::string::npos) << e;
  EXPECT_NE(e.find("--follow-links"), std::string::npos) << e;
  // A folder on the way counts as much as the file itself.
  EXPECT_FALSE(error_of([&] {
                 inside_root(root, (tmp.path / "root" / "linked" / "scan.h5").string());
               }).empty());
  // Links that stay inside, a root that is itself a link, and a file not there yet are fine.
  const std::string in = (tmp.path / "root" / "data" / "in.h5").string();
  EXPECT_EQ(inside_root(root, in), in);
  const std::string via_link = (tmp.path / "root_link" / "data" / "real.h5").string();
  EXPECT_EQ(inside_root((tmp.path / "root_link").string(), via_link), via_link);
  const std::string missing = (tmp.path / "root" / "data" / "none.h5").string();
  EXPECT_EQ(inside_root(root, missing), missing);

  bcp::test::FollowLinksOutOfRoot follow;
  EXPECT_EQ(inside_root(root, out), out);
}

TEST(InputLinks, ListsAreNamedInsideTheRootEvenWithFollowLinks) {
  bcp::test::TempDir tmp("inlinks_lists");
  fs::create_directories(tmp.path / "root" / "lists");
  std::ofstream(tmp.path / "other.list") << "case\n";
  const std::string root = (tmp.path / "root").string();
  using bcp::io::file_in_root;
  EXPECT_EQ(file_in_root(root, "val.list"), (tmp.path / "root" / "val.list").string());
  EXPECT_EQ(file_in_root(root, "lists/fold1.list"),
            (tmp.path / "root" / "lists" / "fold1.list").string());
  bcp::test::FollowLinksOutOfRoot follow;  // links may be followed; names still may not climb
  for (const std::string& name : {std::string("../other.list"), std::string("lists/../../x.list"),
                                  (tmp.path / "other.list").string(), std::string()}) {
    const std::string e = error_of([&] { file_in_root(root, name); });
    EXPECT_NE(e.find("'" + name + "': not a file name inside the data root " + root),
              std::string::npos)
        << e;
  }
}

TEST(InputLinks, TrainRefusesALinkOutOfTheRootBeforeWritingAnything) {
  bcp::test::TempDir tmp("inlinks_train");
  const fs::path linked = root_with_a_link_out(tmp.path, tmp.path / "elsewhere" / "case.h5");
  bcp::train::TrainOptions o;
  o.config = bcp::test::tiny_config("supervised");
  o.config.schedule.selftrain_iters = 2;
  o.data_root = (tmp.path / "root").string();
  o.out_dir = (tmp.path / "run").string();
  o.echo = false;
  const std::string e = error_of([&] { bcp::train::train(o); });
  EXPECT_NE(e.find(linked.string() + ": leads outside the data root"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp.path / "run" / "config.json"));
  EXPECT_FALSE(fs::exists(tmp.path / "run" / "last.h5"));
}

TEST(InputLinks, EvaluateRefusesALinkOutOfTheRootUnlessFollowLinks) {
  bcp::test::TempDir tmp("inlinks_evaluate");
  const fs::path linked = root_with_a_link_out(tmp.path, tmp.path / "elsewhere" / "case.h5");
  torch::manual_seed(0);
  auto net = bcp::nets::make_model({bcp::nets::Arch::kUNet2d, 1, 4, 4});
  bcp::nets::save_model((tmp.path / "m.h5").string(), *net, net->config(), {{"dataset", "acdc"}});
  const auto q = [](const fs::path& p) { return bcp::test::quoted(p); };
  const std::string args = "--model " + q(tmp.path / "m.h5") + " --data " + q(tmp.path / "root") +
                           " --list val.list --no-predictions --out ";

  const auto refused = bcp::test::run_cli("evaluate " + args + q(tmp.path / "eval"));
  EXPECT_EQ(refused.rc, 1) << refused.output;
  EXPECT_EQ(bcp::test::count_lines(refused.output), 1) << refused.output;
  EXPECT_NE(refused.output.find("bcp: error: " + linked.string() + ": leads outside"),
            std::string::npos)
      << refused.output;
  EXPECT_FALSE(fs::exists(tmp.path / "eval" / "metrics.json"));

  // A list named outside the root is refused, with or without the flag.
  std::string climbing_args = args;
  climbing_args.replace(climbing_args.find("val.list"), 8, "../v.list");
  const auto climbing =
      bcp::test::run_cli("--follow-links evaluate " + climbing_args + q(tmp.path / "c"));
  EXPECT_EQ(climbing.rc, 1) << climbing.output;
  EXPECT_NE(climbing.output.find("'../v.list': not a file name inside the data root"),
            std::string::npos)
      << climbing.output;

  // The flag before the command's name, or after it.
  const auto before = bcp::test::run_cli("--follow-links evaluate " + args + q(tmp.path / "a"));
  EXPECT_EQ(before.rc, 0) << before.output;
  EXPECT_TRUE(fs::exists(tmp.path / "a" / "metrics.json"));
  const auto after = bcp::test::run_cli("evaluate --follow-links " + args + q(tmp.path / "b"));
  EXPECT_EQ(after.rc, 0) << after.output;
  EXPECT_TRUE(fs::exists(tmp.path / "b" / "metrics.json"));
}

#ifdef BCP_WITH_ITK
TEST(InputLinks, PrepareRefusesAnImageLinkedIntoImagesTrFromOutside) {
  bcp::test::TempDir tmp("inlinks_prepare");
  bcp::test::NnunetFixture fx(tmp.path / "raw");
  for (const char* c : {"a", "b", "c"}) fx.add_case(c);
  const fs::path image = tmp.path / "raw" / "imagesTr" / "b_0000.nii.gz";
  fs::create_directories(tmp.path / "elsewhere");
  fs::rename(image, tmp.path / "elsewhere" / "scan.nii.gz");
  fs::create_symlink(tmp.path / "elsewhere" / "scan.nii.gz", image);
  bcp::data::PrepareOptions o;
  o.nnunet_dir = (tmp.path / "raw").string();
  o.out_dir = (tmp.path / "root").string();
  o.dim = 2;
  const std::string e = error_of([&] { bcp::data::prepare_nnunet(o); });
  EXPECT_NE(e.find(image.string() + ": leads outside"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(tmp.path / "root" / "bcp_dataset.json"));
}
#endif
