// `bcp report` and `bcp kde` end to end on tiny synthetic runs: the report opened in a real
// (headless) browser, the KDE's numbers and plots.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "../support.h"
#include "../train/tiny_run.h"
#include "bcp/analysis/png.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/train/ablation.h"
#include "bcp/util/subprocess.h"

namespace fs = std::filesystem;
using bcp::test::run_cli;
using bcp::test::TempDir;

namespace {

/// A two-run beta ablation (evaluated) on the tiny synthetic ACDC root, made once per process.
const fs::path& tiny_ablation() {
  static const TempDir dir("report_runs");
  static const bool made = [] {
    bcp::train::AblationOptions o;
    o.base = bcp::test::tiny_config("bcp");
    o.axes = {bcp::train::parse_vary("bcp.beta=0.5,0.75")};
    o.data_root = bcp::test::tiny_acdc();
    o.out_dir = (dir.path / "beta").string();
    o.echo = false;
    bcp::train::run_ablation(o);
    return true;
  }();
  (void)made;
  return dir.path;
}

int count_colour(const bcp::analysis::RgbImage& im, std::array<uint8_t, 3> c, int tol) {
  int n = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      const uint8_t* p = im.at(x, y);
      n += std::abs(p[0] - c[0]) <= tol && std::abs(p[1] - c[1]) <= tol &&
           std::abs(p[2] - c[2]) <= tol;
    }
  return n;
}

}  // namespace

TEST(CliReport, WritesOnePageThatABrowserLoadsWithEveryImage) {
  if (bcp::util::find_program("gnuplot").empty())
    GTEST_SKIP() << "gnuplot is not installed (scripts/install_deps.sh installs gnuplot-nox)";
  const fs::path runs = tiny_ablation() / "beta";
  TempDir out("report_out");
  const fs::path page = out.path / "sub" / "report.html";
  const auto r = run_cli("report '" + runs.string() + "' --out '" + page.string() + "'");
  ASSERT_EQ(r.rc, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(r.output, m, std::regex(R"((\d+) runs, (\d+) plots, (\d+) case pictures)")))
      << r.output;
  EXPECT_EQ(m[1], "2");
  const int plots = std::stoi(m[2]), pictures = std::stoi(m[3]);
  // The summary's Dice over all stages, then per stage (pretrain, selftrain): loss, mean Dice and
  // one plot per class.
  EXPECT_EQ(plots, 1 + 2 * 5);
  EXPECT_GE(pictures, 2);
  const std::string html = bcp::test::read_file_bytes(page);
  EXPECT_NE(html.find("Summary"), std::string::npos);
  EXPECT_NE(html.find("Ablation"), std::string::npos);
  EXPECT_NE(html.find("bcp.beta=0.5"), std::string::npos);
  EXPECT_NE(html.find("Final evaluation"), std::string::npos);
  // Both checkpoints of every run: best.h5 (selected on the list) and last.h5 (not).
  EXPECT_NE(html.find("<td>last.h5</td>"), std::string::npos);
  EXPECT_NE(html.find("mean, last.h5"), std::string::npos);
  EXPECT_NE(html.find("<th>last Dice %</th>"), std::string::npos);
  EXPECT_NE(html.find("&quot;beta&quot;"), std::string::npos);  // the configs, escaped
  // Self-contained: no file or network references.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("src=\"file"), std::string::npos);

  const std::string chromium = bcp::util::find_program("chromium");
  if (chromium.empty())
    GTEST_SKIP() << "chromium is not installed (scripts/install_deps.sh installs it): the page "
                    "was written but not opened in a browser";
  const std::vector<std::string> common = {chromium,
                                           "--headless",
                                           "--no-sandbox",
                                           "--disable-gpu",
                                           "--user-data-dir=" + (out.path / "profile").string(),
                                           "--virtual-time-budget=10000"};
  // The page's own script counts the images the browser decoded once it loaded.
  auto dom_args = common;
  dom_args.insert(dom_args.end(), {"--dump-dom", "file://" + page.string()});
  const auto dom = bcp::util::run_process(dom_args, "");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  ASSERT_TRUE(std::regex_search(dom.out, m, std::regex(R"re(data-images-total="(\d+)")re")))
      << dom.err;
  EXPECT_EQ(std::stoi(m[1]), plots + pictures);
  ASSERT_TRUE(std::regex_search(dom.out, m, std::regex(R"re(data-images-loaded="(\d+)")re")));
  EXPECT_EQ(std::stoi(m[1]), plots + pictures) << "the browser could not decode every image";

  // And what it drew: plot lines in the first runs' palette colours, outlines in class colours.
  auto shot_args = common;
  const fs::path shot = out.path / "shot.png";
  shot_args.insert(shot_args.end(), {"--hide-scrollbars", "--window-size=1400,5000",
                                     "--screenshot=" + shot.string(), "file://" + page.string()});
  const auto s = bcp::util::run_process(shot_args, "");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto image = bcp::analysis::decode_png(bcp::test::read_file_bytes(shot));
  EXPECT_EQ(image.width, 1400);
  EXPECT_GT(count_colour(image, {0x00, 0x72, 0xB2}, 8), 200) << "first run's curves not drawn";
  EXPECT_GT(count_colour(image, {0xD5, 0x5E, 0x00}, 8), 200) << "second run's curves not drawn";
}

TEST(CliReport, RefusesWhatIsNotARunWithOneLine) {
  TempDir out("report_bad");
  fs::create_directories(out.path / "empty");
  const auto r = run_cli("report '" + (out.path / "empty").string() + "' --out '" +
                         (out.path / "r.html").string() + "'");
  EXPECT_EQ(r.rc, 1) << r.output;
  EXPECT_NE(r.output.find("not a bcp run folder"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_FALSE(fs::exists(out.path / "r.html"));
  const auto missing = run_cli("report '" + (out.path / "nope").string() + "' --out '" +
                               (out.path / "r.html").string() + "'");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.output.find("no such run folder"), std::string::npos) << missing.output;
}

TEST(CliKde, MeasuresLabeledAgainstUnlabeledFeaturesPerClass) {
  const fs::path run = tiny_ablation() / "beta" / "bcp.beta=0.5";
  ASSERT_TRUE(fs::exists(run / "best.h5"));
  TempDir out("kde_out");
  // A four-step run predicts next to nothing; its output layer is set to say "class 1" everywhere,
  // so class 1 has pixels on both sides (its labeled pixels) and classes 2 and 3 have none.
  auto archive = bcp::io::load_tensor_archive((run / "best.h5").string());
  archive.tensors["decoder.out_conv.weight"].zero_();
  archive.tensors["decoder.out_conv.bias"].copy_(torch::tensor({0.f, 10.f, 0.f, 0.f}));
  const fs::path model = out.path / "class1.h5";
  bcp::io::save_tensor_archive(model.string(), archive.tensors, archive.meta);
  const bool plots = !bcp::util::find_program("gnuplot").empty();
  const std::string common = "kde --model '" + model.string() + "' --data '" +
                             bcp::test::tiny_acdc() + "' --batch 4 --max-pixels 50";
  const auto r = run_cli(common + " --out '" + (out.path / "kde").string() + "'" +
                         (plots ? "" : " --no-plots"));
  ASSERT_EQ(r.rc, 0) << r.output;
  const auto j = nlohmann::json::parse(bcp::test::read_file_bytes(out.path / "kde" / "kde.json"));
  EXPECT_EQ(j["method"], "bcp");
  ASSERT_EQ(j["classes"].size(), 3u);
  const auto& one = j["classes"][0];
  for (const char* side : {"labeled", "unlabeled"}) {
    EXPECT_LE(one[side]["pixels"].get<int>(), 50) << side;
    EXPECT_GE(one[side]["pixels"].get<int>(), 10) << side;
  }
  ASSERT_TRUE(one.contains("overlap")) << one.dump();
  EXPECT_GT(one["overlap"].get<double>(), 0.0);
  EXPECT_LE(one["overlap"].get<double>(), 1.0 + 1e-9);
  EXPECT_GT(one["ks"].get<double>(), 0.0);
  EXPECT_LE(one["ks"].get<double>(), 1.0);
  for (int c : {1, 2}) {
    EXPECT_EQ(j["classes"][c]["labeled"]["pixels"].get<int>(), 0);
    EXPECT_TRUE(j["classes"][c].contains("note"));
  }
  EXPECT_NE(r.output.find("too few pixels"), std::string::npos) << r.output;
  if (plots) {
    const auto png = bcp::analysis::decode_png(
        bcp::test::read_file_bytes(out.path / "kde" / one["plot"].get<std::string>()));
    EXPECT_EQ(png.width, 640);
    EXPECT_GT(count_colour(png, {0x2c, 0xa0, 0x2c}, 10), 50) << "no green (labeled) curve";
    EXPECT_GT(count_colour(png, {0x1f, 0x77, 0xb4}, 10), 50) << "no blue (unlabeled) curve";
  }
  // The same seed draws the same pixels; another seed others.
  const auto again = run_cli(common + " --no-plots --out '" + (out.path / "again").string() + "'");
  ASSERT_EQ(again.rc, 0) << again.output;
  const auto k = nlohmann::json::parse(bcp::test::read_file_bytes(out.path / "again" / "kde.json"));
  EXPECT_EQ(k["classes"][0]["ks"], one["ks"]);
  EXPECT_EQ(k["classes"][0]["overlap"], one["overlap"]);
  ASSERT_EQ(
      run_cli(common + " --no-plots --seed 7 --out '" + (out.path / "seed7").string() + "'").rc, 0);
  const auto s7 =
      nlohmann::json::parse(bcp::test::read_file_bytes(out.path / "seed7" / "kde.json"));
  EXPECT_NE(s7["classes"][0]["labeled"]["mean"], one["labeled"]["mean"]);

  const auto bad =
      run_cli(common + " --no-plots --out '" + (out.path / "bad").string() + "' --class 7");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.output.find("class 7 is not a foreground class"), std::string::npos) << bad.output;
  // A network without a training config cannot name its labeled split.
  const fs::path bare = out.path / "bare.h5";
  bcp::io::save_tensor_archive(bare.string(), archive.tensors, nullptr);
  const auto no_config =
      run_cli("kde --no-plots --model '" + bare.string() + "' --data '" + bcp::test::tiny_acdc() +
              "' --out '" + (out.path / "bare").string() + "'");
  EXPECT_EQ(no_config.rc, 1);
  EXPECT_NE(no_config.output.find("no training config"), std::string::npos) << no_config.output;
}
