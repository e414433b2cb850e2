#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../support.h"

#include "bcp/eval/score_report.h"
#include "bcp/io/h5.h"

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_score_report {

namespace fs = std::filesystem;
using namespace bcp::eval;

namespace {

ScoreReport sample_report() {
  ScoreReport r;
  r.unit = "voxels";
  r.cases = {{"a", 1, {0.8, 0.6, 2.0, 1.0}},
             {"a", 2, {0.4, 0.3, 6.0, 3.0}},
             {"b", 1, {0.6, 0.4, 4.0, 2.0}},
             {"b", 2, {0.0, 0.0, 0.0, 0.0}}};
  return r;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = bcp::test::process_temp_dir() / ("bcp_test_score_report_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(ScoreReport, MeansPerClassThenOverClasses) {
  const auto per = per_class_mean(sample_report());
  ASSERT_EQ(per.size(), 2u);
  EXPECT_DOUBLE_EQ(per.at(1).dice, 0.7);
  EXPECT_DOUBLE_EQ(per.at(1).hd95, 3.0);
  EXPECT_DOUBLE_EQ(per.at(2).dice, 0.2);
  EXPECT_DOUBLE_EQ(per.at(2).asd, 1.5);
  const auto m = overall_mean(sample_report());
  EXPECT_DOUBLE_EQ(m.dice, 0.45);
  EXPECT_DOUBLE_EQ(m.jaccard, (0.5 + 0.15) / 2);
  EXPECT_DOUBLE_EQ(m.hd95, 3.0);
  EXPECT_DOUBLE_EQ(m.asd, 1.5);
  EXPECT_DOUBLE_EQ(overall_mean(ScoreReport{}).dice, 0.0);
}

TEST(ScoreReport, JsonHasTheDocumentedLayout) {
  const nlohmann::json j = report_to_json(sample_report());
  EXPECT_EQ(j.size(), 5u);
  EXPECT_EQ(j.at("unit"), "voxels");
  EXPECT_EQ(j.at("empty").at("pred"), 0);
  EXPECT_EQ(j.at("empty").at("ref"), 0);
  ASSERT_EQ(j.at("cases").size(), 4u);
  const auto& c0 = j.at("cases")[0];
  EXPECT_EQ(c0.size(), 8u);
  EXPECT_FALSE(c0.at("pred_empty").get<bool>());
  EXPECT_FALSE(c0.at("ref_empty").get<bool>());
  EXPECT_EQ(c0.at("case"), "a");
  EXPECT_EQ(c0.at("class"), 1);
  EXPECT_DOUBLE_EQ(c0.at("dice").get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(c0.at("jaccard").get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(c0.at("hd95").get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(c0.at("asd").get<double>(), 1.0);
  EXPECT_EQ(j.at("per_class").size(), 2u);
  EXPECT_DOUBLE_EQ(j.at("per_class").at("2").at("dice").get<double>(), 0.2);
  EXPECT_EQ(j.at("per_class").at("1").size(), 4u);
  EXPECT_DOUBLE_EQ(j.at("mean").at("dice").get<double>(), 0.45);
}

TEST(ScoreReport, WritesJsonAndCsvBesideIt) {
  const fs::path dir = fresh_dir("write") / "sub";  // parent folder created on demand
  const fs::path json = dir / "scores.json";
  write_report(sample_report(), json.string());
  ASSERT_TRUE(fs::exists(json));
  ASSERT_TRUE(fs::exists(dir / "scores.csv"));
  EXPECT_EQ(nlohmann::json::parse(slurp(json)), report_to_json(sample_report()));
  const std::string csv = slurp(dir / "scores.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "case,class,dice,jaccard,hd95,asd,pred_empty,ref_empty");
  EXPECT_NE(csv.find("\na,1,0.8,0.6,2,1,0,0\n"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  // Nothing temporary is left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);
  // Overwriting replaces the whole file.
  ScoreReport small;
  small.unit = "mm";
  small.cases = {{"x,y", 3, {1, 1, 0, 0}}};
  write_report(small, json.string());
  EXPECT_EQ(nlohmann::json::parse(slurp(json)).at("unit"), "mm");
  EXPECT_NE(slurp(dir / "scores.csv").find("\"x,y\",3,1,1,0,0"), std::string::npos);
  EXPECT_THROW(write_report(small, (dir / "scores.csv").string()), std::invalid_argument);
}

TEST(ScoreReport, TableShowsPercentagesAndUnit) {
  const std::string t = format_table(sample_report());
  EXPECT_NE(t.find("2 cases"), std::string::npos) << t;
  EXPECT_NE(t.find("Dice %"), std::string::npos);
  EXPECT_NE(t.find("Jaccard %"), std::string::npos);
  EXPECT_NE(t.find("95HD (voxels)"), std::string::npos);
  EXPECT_NE(t.find("ASD (voxels)"), std::string::npos);
  EXPECT_NE(t.find("70.00"), std::string::npos);  // class 1 Dice
  EXPECT_NE(t.find("45.00"), std::string::npos);  // mean Dice
  EXPECT_NE(t.find("32.50"), std::string::npos);  // mean Jaccard
  EXPECT_NE(t.find("mean"), std::string::npos);
  EXPECT_EQ(t.back(), '\n');
}

TEST(ScoreReport, ScoresFoldersPerClassWithPadding) {
  const fs::path root = fresh_dir("dirs");
  fs::create_directories(root / "pred");
  fs::create_directories(root / "ref");
  auto ref = torch::zeros({3, 8, 8}, torch::kUInt8);
  ref.index_put_(
      {torch::indexing::Slice(), torch::indexing::Slice(2, 6), torch::indexing::Slice(2, 6)}, 1);
  auto ref2 = ref.clone();
  ref2[1][0][0] = 3;
  {
    bcp::io::H5File f((root / "ref" / "c1.h5").string(), bcp::io::H5File::Mode::kTruncate);
    f.write("label", ref);
  }
  {
    bcp::io::H5File f((root / "pred" / "c1.h5").string(), bcp::io::H5File::Mode::kTruncate);
    f.write("pred", ref);
  }
  {
    bcp::io::H5File f((root / "ref" / "c2.h5").string(), bcp::io::H5File::Mode::kTruncate);
    f.write("label", ref2);
  }
  {
    bcp::io::H5File f((root / "pred" / "c2.h5").string(), bcp::io::H5File::Mode::kTruncate);
    f.write("label", ref2);
  }
  ScoreDirsOptions o;
  o.pred_dir = (root / "pred").string();
  o.ref_dir = (root / "ref").string();
  EXPECT_THROW(score_mask_dirs(o), std::invalid_argument);  // K is never guessed from the data
  o.num_classes = 4;
  const ScoreReport r = score_mask_dirs(o);
  EXPECT_EQ(r.unit, "voxels");
  ASSERT_EQ(r.cases.size(), 6u);                               // classes 1..3 for both cases
  EXPECT_TRUE(r.cases[2].pred_empty && r.cases[2].ref_empty);  // c1 has no class 3
  EXPECT_FALSE(r.cases[5].pred_empty || r.cases[5].ref_empty);
  EXPECT_EQ(r.cases[0].case_name, "c1");
  EXPECT_EQ(r.cases[0].cls, 1);
  EXPECT_DOUBLE_EQ(r.cases[0].scores.dice, 1.0);
  EXPECT_DOUBLE_EQ(r.cases[2].scores.dice, 0.0);  // c1 has no class 3
  EXPECT_EQ(r.cases[5].case_name, "c2");
  EXPECT_DOUBLE_EQ(r.cases[5].scores.dice, 1.0);
  o.spacing = {2.0, 1.0, 1.0};
  EXPECT_EQ(score_mask_dirs(o).unit, "mm");
  o.spacing = {2.0, 1.0};
  EXPECT_THROW(score_mask_dirs(o), std::invalid_argument);
  o.spacing.clear();
  o.num_classes = 3;  // label 3 is out of range
  try {
    score_mask_dirs(o);
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("c2.h5"), std::string::npos) << e.what();
  }
  fs::remove(root / "ref" / "c2.h5");
  try {
    score_mask_dirs(ScoreDirsOptions{o.pred_dir, o.ref_dir, {}, 4});
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("c2.h5"), std::string::npos) << e.what();
  }
  // A reference without its prediction is not scored, and said so.
  fs::remove(root / "pred" / "c2.h5");
  fs::copy_file(root / "ref" / "c1.h5", root / "ref" / "c3.h5");
  const ScoreReport partial = score_mask_dirs(ScoreDirsOptions{o.pred_dir, o.ref_dir, {}, 4});
  EXPECT_EQ(partial.unscored_references, std::vector<std::string>{"c3.h5"});
  EXPECT_EQ(report_to_json(partial).at("unscored_references"), nlohmann::json({"c3.h5"}));
  fs::remove(root / "ref" / "c3.h5");
  // K in 2..256, and never against the dataset.json beside the references.
  EXPECT_THROW(score_mask_dirs(ScoreDirsOptions{o.pred_dir, o.ref_dir, {}, 300}),
               std::invalid_argument);
  std::ofstream(root / "ref" / "dataset.json")
      << R"({"labels": {"background": 0, "a": 1, "b": 2, "c": 3}})";
  EXPECT_EQ(score_mask_dirs(ScoreDirsOptions{o.pred_dir, o.ref_dir, {}, 0}).cases.size(), 3u);
  const std::string contradicts = bcp::test::error_of([&] {
    score_mask_dirs(ScoreDirsOptions{o.pred_dir, o.ref_dir, {}, 5});
  });
  EXPECT_NE(contradicts.find("--classes 5 contradicts the dataset.json"), std::string::npos)
      << contradicts;
  fs::remove_all(root);
}

}  // namespace bcp_test_score_report
