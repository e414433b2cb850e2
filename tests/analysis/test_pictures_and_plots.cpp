// What reports are made of: base64, PNG in memory, class outlines on a slice, slice choice, the
// gnuplot script, gnuplot itself, and running a child process.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bcp/analysis/gnuplot.h"
#include "bcp/analysis/overlay.h"
#include "bcp/analysis/png.h"
#include "bcp/util/subprocess.h"

using namespace bcp::analysis;

TEST(Pictures, Base64MatchesTheRfcVectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\x00\x10", 3)), "/wAQ");
}

TEST(Pictures, PngRoundTripsAndBadBytesAreRefused) {
  RgbImage im(5, 3);
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<uint8_t>(i * 7);
  const std::string png = encode_png(im);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const RgbImage back = decode_png(png);
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.pixels, im.pixels);
  EXPECT_THROW(decode_png("not a png"), std::runtime_error);
  EXPECT_THROW(encode_png(RgbImage()), std::invalid_argument);
  const RgbImage both = hconcat({im, im}, 2);
  EXPECT_EQ(both.width, 12);
  EXPECT_EQ(both.at(5, 0)[0], 255);  // the white gap
  EXPECT_EQ(both.at(7, 1)[1], im.at(0, 1)[1]);
}

TEST(Pictures, OutlinesAreTheClassBoundaryInTheClassColour) {
  auto image = torch::arange(64, torch::kFloat32).reshape({8, 8});
  auto labels = torch::zeros({8, 8}, torch::kUInt8);
  labels.slice(0, 2, 6).slice(1, 2, 6).fill_(2);  // a 4 x 4 square of class 2
  const RgbImage out = contour_overlay(image, labels, 2);
  ASSERT_EQ(out.width, 16);
  const auto green = class_color(2);
  int coloured = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      const uint8_t* p = out.at(x, y);
      if (p[0] == green[0] && p[1] == green[1] && p[2] == green[2]) ++coloured;
    }
  EXPECT_EQ(coloured, 12 * 4);           // the square's 12 edge pixels, each a 2 x 2 block
  const uint8_t* inside = out.at(6, 6);  // pixel (3, 3): inside, grey
  EXPECT_TRUE(inside[0] == inside[1] && inside[1] == inside[2]);
  EXPECT_EQ(out.at(0, 0)[0], 0);      // the darkest pixel is black (1st percentile)
  EXPECT_EQ(out.at(15, 15)[0], 255);  // the brightest white
  EXPECT_EQ(class_color_hex(1), "#e6194b");
  EXPECT_THROW(contour_overlay(image, labels.slice(0, 0, 4), 1), std::invalid_argument);
}

TEST(Pictures, SlicesAreSpreadOverTheForeground) {
  auto labels = torch::zeros({10, 4, 4}, torch::kUInt8);
  for (int z : {2, 3, 4, 5, 6, 7}) labels[z][1][1] = 1;
  EXPECT_EQ(pick_slices(labels, 3), (std::vector<int64_t>{3, 5, 7}));  // centres of 3 equal parts
  EXPECT_EQ(pick_slices(labels, 10).size(), 6u);
  EXPECT_EQ(pick_slices(torch::zeros({3, 2, 2}), 2), (std::vector<int64_t>{0, 2}));
}

TEST(Plots, ScriptQuotesNamesAndCarriesTheData) {
  LinePlot p{"it's a title", "x", "y", {{"run_a", {1, 2}, {0.5, NAN}, ""}}};
  const std::string s = gnuplot_script(p, PlotFormat::kSvg, 300, 200);
  EXPECT_NE(s.find("set title 'it''s a title'"), std::string::npos) << s;
  EXPECT_NE(s.find("2 NaN"), std::string::npos) << s;
  EXPECT_NE(s.find("title 'run_a'"), std::string::npos) << s;
  EXPECT_NE(s.find("set termoption noenhanced"), std::string::npos);
  LinePlot empty{"nothing", "x", "y", {}};
  EXPECT_THROW(gnuplot_script(empty, PlotFormat::kSvg, 300, 200), std::runtime_error);
  LinePlot ragged{"ragged", "x", "y", {{"a", {1, 2}, {1}, ""}}};
  EXPECT_THROW(gnuplot_script(ragged, PlotFormat::kSvg, 300, 200), std::invalid_argument);
}

TEST(Plots, GnuplotDrawsSvgAndPng) {
  if (bcp::util::find_program("gnuplot").empty())
    GTEST_SKIP() << "gnuplot is not installed (scripts/install_deps.sh installs gnuplot-nox)";
  LinePlot p{"loss", "iteration", "loss", {{"first_run", {1, 2, 3}, {3, 2, 1}, "#ff0000"}}};
  const std::string svg = render_plot(p, PlotFormat::kSvg, 320, 200);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("first_run"), std::string::npos);
  const RgbImage png = decode_png(render_plot(p, PlotFormat::kPng, 320, 200));
  EXPECT_EQ(png.width, 320);
  EXPECT_EQ(png.height, 200);
  int red = 0;
  for (int y = 0; y < png.height; ++y)
    for (int x = 0; x < png.width; ++x)
      red += png.at(x, y)[0] > 200 && png.at(x, y)[1] < 60 && png.at(x, y)[2] < 60;
  EXPECT_GT(red, 100) << "the red line is missing";
}

TEST(Subprocess, FeedsStdinCapturesOutputAndReportsExitCodes) {
  std::string big(300000, 'x');  // more than a pipe holds: needs the concurrent read and write
  const auto r = bcp::util::run_process({"cat"}, big);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, big);
  const auto e = bcp::util::run_process({"sh", "-c", "echo oops >&2; exit 3"}, "");
  EXPECT_EQ(e.exit_code, 3);
  EXPECT_EQ(e.err, "oops\n");
  // A child that reads nothing and exits must not take the caller down with SIGPIPE.
  const auto q = bcp::util::run_process({"true"}, big);
  EXPECT_EQ(q.exit_code, 0);
  EXPECT_THROW(bcp::util::run_process({"bcp-no-such-program"}, ""), std::runtime_error);
  EXPECT_EQ(bcp::util::find_program("bcp-no-such-program"), "");
  EXPECT_NE(bcp::util::find_program("sh"), "");
}
