// Runs the built `bcp score` on small files written to a temporary folder, and once on real ACDC
// validation volumes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../support.h"
#include "bcp/eval/binary_metrics.h"
#include "bcp/io/h5.h"
#include "bcp/io/nifti.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_cli_score {

namespace fs = std::filesystem;
using torch::indexing::Slice;

namespace {

using bcp::test::RunResult;

RunResult run(const std::string& args) {
  return bcp::test::run_cli("score " + args);
}

std::string q(const fs::path& p) {
  return bcp::test::quoted(p);
}

void write_h5(const fs::path& p, const std::string& name, const torch::Tensor& t) {
  bcp::io::H5File f(p.string(), bcp::io::H5File::Mode::kTruncate);
  f.write(name, t);
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A folder with pred/ and ref/ holding two 3-class cases.
struct Fixture {
  fs::path root, pred, ref;
  torch::Tensor ref_a, pred_a;
  explicit Fixture(const std::string& name) {
    root = bcp::test::process_temp_dir() / ("bcp_test_cli_score_" + name);
    fs::remove_all(root);
    pred = root / "pred";
    ref = root / "ref";
    fs::create_directories(pred);
    fs::create_directories(ref);
    ref_a = torch::zeros({4, 20, 24}, torch::kUInt8);
    ref_a.index_put_({Slice(0, 3), Slice(3, 12), Slice(3, 12)}, 1);
    ref_a.index_put_({Slice(1, 4), Slice(12, 18), Slice(10, 20)}, 2);
    pred_a = torch::roll(ref_a, {2}, {2});
    write_h5(ref / "a.h5", "label", ref_a);
    write_h5(pred / "a.h5", "pred", pred_a);
    write_h5(ref / "b.h5", "label", ref_a.flip(1).contiguous());
    write_h5(pred / "b.h5", "label", ref_a.flip(1).contiguous());
  }
  ~Fixture() { fs::remove_all(root); }
  /// The class count is always given (3 here) unless `extra` gives its own.
  std::string args(const std::string& extra = "") const {
    const bool classes = extra.find("--classes") != std::string::npos;
    return "--pred " + q(pred) + " --ref " + q(ref) + " --out " + q(root / "out" / "s.json") +
           (classes ? "" : " --classes 3") + (extra.empty() ? "" : " " + extra);
  }
  std::string args_without_classes() const {
    return "--pred " + q(pred) + " --ref " + q(ref) + " --out " + q(root / "out" / "s.json");
  }
};

void expect_one_line_error(const RunResult& r, const std::string& must_contain) {
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_EQ(r.output.rfind("bcp: error: ", 0), 0u) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(must_contain), std::string::npos) << r.output;
}

}  // namespace

TEST(CliScore, ScoresHdf5FoldersInVoxels) {
  Fixture f("voxels");
  const RunResult r = run(f.args());
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("Dice %"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unit: voxels"), std::string::npos) << r.output;
  const auto j = read_json(f.root / "out" / "s.json");
  EXPECT_TRUE(fs::exists(f.root / "out" / "s.csv"));
  EXPECT_EQ(j.at("unit"), "voxels");
  ASSERT_EQ(j.at("cases").size(), 4u);  // 2 cases x classes 1, 2
  const auto want =
      bcp::eval::per_class_scores(f.pred_a.to(torch::kInt64), f.ref_a.to(torch::kInt64), 3);
  EXPECT_EQ(j.at("cases")[0].at("case"), "a");
  EXPECT_NEAR(j.at("cases")[0].at("dice").get<double>(), want[0].dice, 1e-12);
  EXPECT_NEAR(j.at("cases")[1].at("hd95").get<double>(), want[1].hd95, 1e-12);
  EXPECT_DOUBLE_EQ(j.at("cases")[2].at("dice").get<double>(), 1.0);
  EXPECT_NEAR(j.at("per_class").at("1").at("dice").get<double>(), (want[0].dice + 1.0) / 2, 1e-12);
}

TEST(CliScore, SpacingFlagAndClassCount) {
  Fixture f("spacing");
  const RunResult r = run(f.args("--spacing 10,1.5,1.25 --classes 4"));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("unit: mm"), std::string::npos) << r.output;
  const auto j = read_json(f.root / "out" / "s.json");
  EXPECT_EQ(j.at("unit"), "mm");
  ASSERT_EQ(j.at("cases").size(), 6u);  // classes 1..3
  const auto want = bcp::eval::per_class_scores(f.pred_a.to(torch::kInt64),
                                                f.ref_a.to(torch::kInt64), 3, {10, 1.5, 1.25});
  EXPECT_NEAR(j.at("cases")[0].at("hd95").get<double>(), want[0].hd95, 1e-12);
  EXPECT_NEAR(j.at("cases")[0].at("asd").get<double>(), want[0].asd, 1e-12);
  EXPECT_DOUBLE_EQ(j.at("cases")[2].at("dice").get<double>(), 0.0);  // class 3 nowhere
}

TEST(CliScore, NiftiHeaderSpacingGivesMillimetres) {
#ifndef BCP_WITH_ITK
  GTEST_SKIP() << "SKIPPED: built without ITK";
#endif
  Fixture f("nifti");
  fs::remove(f.pred / "a.h5");
  fs::remove(f.pred / "b.h5");
  const std::vector<double> spacing{3.0, 0.8, 0.7};
  bcp::io::write_volume((f.pred / "a.nii.gz").string(), f.pred_a, spacing);
  bcp::io::write_volume((f.ref / "a.nii.gz").string(), f.ref_a, spacing);
  const RunResult r = run(f.args());
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("unit: mm"), std::string::npos) << r.output;
  const auto j = read_json(f.root / "out" / "s.json");
  EXPECT_EQ(j.at("unit"), "mm");
  ASSERT_EQ(j.at("cases").size(), 2u);
  EXPECT_EQ(j.at("cases")[0].at("case"), "a");
  const auto want = bcp::eval::per_class_scores(f.pred_a.to(torch::kInt64),
                                                f.ref_a.to(torch::kInt64), 3, spacing);
  EXPECT_NEAR(j.at("cases")[1].at("hd95").get<double>(), want[1].hd95, 1e-6);
  EXPECT_NEAR(j.at("cases")[1].at("asd").get<double>(), want[1].asd, 1e-6);
}

TEST(CliScore, ErrorsAreOneLineAndNameTheFile) {
  Fixture f("errors");
  expect_one_line_error(
      run("--pred " + q(f.root / "nope") + " --ref " + q(f.ref) + " --out " + q(f.root / "o.json")),
      "nope");
  fs::create_directories(f.root / "empty");
  expect_one_line_error(run("--pred " + q(f.root / "empty") + " --ref " + q(f.ref) + " --out " +
                            q(f.root / "o.json")),
                        "no label files");
  expect_one_line_error(run(f.args("--spacing 1,x,2")), "--spacing");
  expect_one_line_error(run(f.args("--spacing 1,-2,2")), "--spacing");
  expect_one_line_error(run(f.args("--spacing 1,2")), "2 values");
  expect_one_line_error(run(f.args("--classes 2")), "a.h5");  // label 2 > K-1
  write_h5(f.pred / "c.h5", "label", torch::zeros({4, 20, 24}, torch::kUInt8));
  expect_one_line_error(run(f.args()), "c.h5");  // no reference
  write_h5(f.ref / "c.h5", "label", torch::zeros({4, 20, 25}, torch::kUInt8));
  expect_one_line_error(run(f.args()), "shape mismatch");
  write_h5(f.ref / "c.h5", "label", torch::full({4, 20, 24}, -1, torch::kInt64));
  expect_one_line_error(run(f.args()), "c.h5");         // negative labels
  EXPECT_FALSE(fs::exists(f.root / "out" / "s.json"));  // nothing written on failure
}

TEST(CliScore, EndToEndOnAcdcValidationVolumes) {
  const fs::path data = bcp::test::data_dir("ACDC") / "data";
  BCP_REQUIRE_SHARED(data / "patient002_frame01.h5");
  const fs::path root = bcp::test::process_temp_dir() / "bcp_test_cli_score_acdc";
  fs::remove_all(root);
  fs::create_directories(root / "pred");
  std::vector<std::pair<std::string, torch::Tensor>> refs;
  for (const std::string name : {"patient002_frame01", "patient019_frame02"}) {
    const fs::path src = data / (name + ".h5");
    BCP_REQUIRE_SHARED(src);
    const auto label = bcp::io::read_h5(src.string(), "label");
    // Prediction: the reference shifted by one row, class 3 wiped on the first case.
    auto pred = torch::roll(label, {1}, {1});
    if (refs.empty()) pred.masked_fill_(pred == 3, 0);
    write_h5(root / "pred" / (name + ".h5"), "pred", pred.contiguous());
    refs.emplace_back(name, label);
  }
  const RunResult r = run("--pred " + q(root / "pred") + " --ref " + q(data) + " --out " +
                          q(root / "acdc.json") + " --classes 4");
  ASSERT_EQ(r.rc, 0) << r.output;
  const auto j = read_json(root / "acdc.json");
  ASSERT_EQ(j.at("cases").size(), 6u);
  double sum_dice = 0;
  for (size_t c = 0; c < refs.size(); ++c) {
    const auto pred = bcp::io::read_h5((root / "pred" / (refs[c].first + ".h5")).string(), "pred");
    const auto want =
        bcp::eval::per_class_scores(pred.to(torch::kInt64), refs[c].second.to(torch::kInt64), 4);
    for (int k = 0; k < 3; ++k) {
      const auto& got = j.at("cases")[c * 3 + k];
      EXPECT_EQ(got.at("case"), refs[c].first);
      EXPECT_EQ(got.at("class"), k + 1);
      EXPECT_NEAR(got.at("dice").get<double>(), want[k].dice, 1e-12);
      EXPECT_NEAR(got.at("hd95").get<double>(), want[k].hd95, 1e-12);
      EXPECT_NEAR(got.at("asd").get<double>(), want[k].asd, 1e-12);
      sum_dice += want[k].dice;
    }
  }
  EXPECT_DOUBLE_EQ(j.at("cases")[2].at("dice").get<double>(), 0.0);  // class 3 wiped
  EXPECT_GT(j.at("cases")[0].at("dice").get<double>(), 0.5);
  EXPECT_NEAR(j.at("mean").at("dice").get<double>(), sum_dice / 6, 1e-12);
  fs::remove_all(root);
}

TEST(CliScore, ClassCountComesFromClassesOrDatasetJsonNeverFromTheLargestLabel) {
  Fixture f("classes");
  expect_one_line_error(run(f.args_without_classes()), "--classes");
  EXPECT_FALSE(fs::exists(f.root / "out" / "s.json"));
  // nnU-Net keeps dataset.json beside labelsTr: the references' parent folder.
  std::ofstream(f.root / "dataset.json")
      << R"({"channel_names": {"0": "MRI"}, "labels": {"background": 0, "a": 1, "b": 2, "c": 3},
             "file_ending": ".h5"})";
  const RunResult r = run(f.args_without_classes());
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_EQ(read_json(f.root / "out" / "s.json").at("cases").size(), 6u);  // 2 cases x 3 classes
  // --classes may not contradict it.
  expect_one_line_error(run(f.args("--classes 2")), "contradicts the dataset.json");
  fs::remove(f.root / "dataset.json");
  // A 0/255 mask is two classes with a bad value, not 256 classes.
  write_h5(f.pred / "a.h5", "pred", (f.pred_a > 0).to(torch::kUInt8) * 255);
  expect_one_line_error(run(f.args("--classes 2")), "label 255");
}

TEST(CliScore, EmptyCasesAreFlaggedAndCounted) {
  Fixture f("empty");
  write_h5(f.pred / "b.h5", "label", torch::zeros_like(f.ref_a));  // nothing predicted in b
  const RunResult r = run(f.args("--classes 4"));                  // class 3 in no reference
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("note: 4 case-class pairs with an empty prediction, 2 with an empty "
                          "reference"),
            std::string::npos)
      << r.output;
  const auto j = read_json(f.root / "out" / "s.json");
  EXPECT_EQ(j.at("empty").at("pred"), 4);  // b: classes 1-3; a: class 3 (pred_a has 1, 2)
  EXPECT_EQ(j.at("empty").at("ref"), 2);   // class 3 in a and b
  const auto& b1 = j.at("cases")[3];
  EXPECT_EQ(b1.at("case"), "b");
  EXPECT_EQ(b1.at("class"), 1);
  EXPECT_TRUE(b1.at("pred_empty").get<bool>());
  EXPECT_FALSE(b1.at("ref_empty").get<bool>());
  EXPECT_EQ(b1.at("hd95").get<double>(), 0.0);  // the convention the flag explains
  EXPECT_FALSE(j.at("cases")[0].at("pred_empty").get<bool>());
  std::ifstream csv(f.root / "out" / "s.csv");
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header, "case,class,dice,jaccard,hd95,asd,pred_empty,ref_empty");
}

TEST(CliScore, MasksOnAnotherGridAreRefused) {
#ifndef BCP_WITH_ITK
  GTEST_SKIP() << "SKIPPED: built without ITK";
#endif
  Fixture f("grid");
  fs::remove(f.pred / "a.h5");
  fs::remove(f.pred / "b.h5");
  const std::vector<double> spacing{3.0, 0.8, 0.7};
  bcp::io::write_volume((f.ref / "a.nii.gz").string(), f.ref_a, spacing, {0, 0, 0});
  // The same voxels shifted 10 mm, then mirrored: both score as if aligned unless checked.
  bcp::io::write_volume((f.pred / "a.nii.gz").string(), f.ref_a, spacing, {0, 10, 0});
  expect_one_line_error(run(f.args()), "geometry mismatch");
  bcp::io::write_volume((f.pred / "a.nii.gz").string(), f.ref_a, spacing, {0, 0, 0},
                        {1, 0, 0, 0, -1, 0, 0, 0, 1});
  expect_one_line_error(run(f.args()), "geometry mismatch");
  bcp::io::write_volume((f.pred / "a.nii.gz").string(), f.ref_a, spacing, {0, 0, 0});
  const RunResult r = run(f.args());
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_DOUBLE_EQ(read_json(f.root / "out" / "s.json").at("cases")[0].at("dice").get<double>(),
                   1.0);
}

}  // namespace bcp_test_cli_score
