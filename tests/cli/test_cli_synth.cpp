// Runs the built `bcp synth` and checks what it writes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>

#include "../support.h"
#include "bcp/data/acdc.h"
#include "bcp/data/la.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_cli_synth {

namespace fs = std::filesystem;

namespace {

using bcp::test::RunResult;

RunResult run_synth(const std::string& args) {
  return bcp::test::run_cli("synth " + args);
}

using bcp::test::TempDir;

}  // namespace

TEST(CliSynth, HelpListsTheFlags) {
  auto r = run_synth("--help");
  EXPECT_EQ(r.rc, 0) << r.output;
  for (const char* flag : {"--kind", "--out", "--seed", "--cases", "--val", "--test", "--size"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag << "\n" << r.output;
}

TEST(CliSynth, WritesAcdcThatLoads) {
  TempDir t("acdc");
  auto r = run_synth("--kind acdc --out " + t.quoted() + " --seed 3 --cases 1 --val 1 --test 0");
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("1 train"), std::string::npos) << r.output;
  bcp::data::AcdcRoot root(t.path.string());
  const auto slices = root.read_list("train_slices.list");
  EXPECT_GE(slices.size(), 16u);
  auto s = bcp::data::load_acdc_slice(root, slices.back());
  EXPECT_EQ(s.image.dim(), 2);
  EXPECT_EQ(root.read_list("val.list").size(), 2u);
  EXPECT_TRUE(fs::exists(t.path / "test.list"));
}

TEST(CliSynth, WritesLaWithSize) {
  TempDir t("la");
  auto r =
      run_synth("--kind la --out " + t.quoted() + " --cases 1 --val 1 --test 1 --size 32 28 20");
  ASSERT_EQ(r.rc, 0) << r.output;
  bcp::data::LaRoot root(t.path.string());
  auto v = bcp::data::load_la_volume(root, root.read_list("test.list").at(0));
  EXPECT_EQ(v.image.sizes(), (std::vector<int64_t>{32, 28, 20}));
}

TEST(CliSynth, BadFlagsFailWithAMessage) {
  TempDir t("bad");
  for (const std::string& args :
       {std::string("--kind mri --out ") + t.quoted(), std::string("--kind acdc"),
        std::string("--out ") + t.quoted(),
        std::string("--kind la --out ") + t.quoted() + " --cases 0",
        std::string("--kind acdc --out ") + t.quoted() + " --size 10 10 10",
        std::string("--kind la --out ") + t.quoted() + " --size 10 10",
        std::string("--kind la --out ") + t.quoted() + " --bogus 1"}) {
    auto r = run_synth(args);
    EXPECT_NE(r.rc, 0) << args << "\n" << r.output;
    EXPECT_FALSE(r.output.empty()) << args;
  }
  EXPECT_FALSE(fs::exists(t.path / "train.list"));
}

}  // namespace bcp_test_cli_synth
