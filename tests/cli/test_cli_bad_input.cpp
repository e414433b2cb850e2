// Bad input a new user gave the commands (an audit of 375 of them), each answered by one
// `bcp: error:` line with the documented exit code and nothing half-written: the cases not
// covered by the tests of the command's own library code.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support.h"

namespace fs = std::filesystem;
using bcp::test::quoted;
using bcp::test::run_cli;
using bcp::test::RunResult;

namespace {

void expect_one_line_error(const RunResult& r, int rc, const std::string& must_contain) {
  EXPECT_EQ(r.rc, rc) << r.output;
  EXPECT_EQ(r.output.rfind("bcp: error: ", 0), 0u) << r.output;
  EXPECT_EQ(bcp::test::count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(must_contain), std::string::npos) << r.output;
}

}  // namespace

TEST(CliBadInput, ImportRefusesToOverwriteItsInputOrToPairANetworkWithAnotherDataset) {
  const fs::path pth = bcp::test::parity_file("checkpoints/unet2d_wrapped.pth");
  BCP_REQUIRE_SHARED(pth);
  bcp::test::TempDir tmp("bad_import");
  const fs::path copy = tmp.path / "model.pth";
  fs::copy_file(pth, copy);
  const std::string before = bcp::test::read_file_bytes(copy);
  expect_one_line_error(
      run_cli("import --pth " + quoted(copy) + " --arch unet2d --classes 4 --out " + quoted(copy)),
      2, "is the .pth being imported");
  EXPECT_EQ(bcp::test::read_file_bytes(copy), before);
  expect_one_line_error(
      run_cli("import --pth " + quoted(copy) + " --arch unet2d --classes 4 --dataset la --out " +
              quoted(tmp.path / "m.h5")),
      2, "la needs the vnet network, not --arch unet2d");
  EXPECT_FALSE(fs::exists(tmp.path / "m.h5"));
  expect_one_line_error(
      run_cli("import --pth " + quoted(copy) + " --arch unet2d --classes 4 --out " +
              quoted(tmp.path / "none" / "m.h5")),
      1, (tmp.path / "none").string() + ": folder does not exist");
}

TEST(CliBadInput, NumericOptionsSayWhatTheyNeedInWords) {
  for (const std::string args : {"evaluate --model m --data d --list l --out o --window-batch 0",
                                 "bench step --repeats 0", "bench step --threads -1",
                                 "kde --model m --data d --out o "
                                 "--bw-adjust nan"}) {
    const RunResult r = run_cli(args);
    expect_one_line_error(r, 2, "--");
    EXPECT_EQ(r.output.find("179769313486231570"), std::string::npos) << r.output;  // DBL_MAX
    EXPECT_TRUE(r.output.find("must be > 0") != std::string::npos ||
                r.output.find("must be >= 0") != std::string::npos ||
                r.output.find("expects a number") != std::string::npos)
        << r.output;
  }
}

TEST(CliBadInput, FileSystemErrorsNameThePathFirst) {
  bcp::test::TempDir tmp("bad_paths");
  std::ofstream(tmp.path / "a_file") << "x";
  // --out names an existing file: the library's filesystem error, on one line, path first.
  const RunResult out_is_file = run_cli("demo --out " + quoted(tmp.path / "a_file"));
  expect_one_line_error(out_is_file, 1,
                        (tmp.path / "a_file").string() + ": cannot create directories");
  EXPECT_EQ(out_is_file.output.find("filesystem error"), std::string::npos) << out_is_file.output;
  // --json names a folder: refused before the benchmark runs.
  expect_one_line_error(run_cli("bench metrics --json " + quoted(tmp.path)), 1,
                        tmp.path.string() + ": is a folder");
  // --config names a folder.
  expect_one_line_error(run_cli("config --config " + quoted(tmp.path)), 1,
                        tmp.path.string() + ": is a folder, not a file");
}

TEST(CliBadInput, MistakesOfTheCommandLineExitWithTwo) {
  expect_one_line_error(run_cli("config"), 2, "give --config FILE or --preset NAME");
  bcp::test::TempDir tmp("bad_usage");
  fs::create_directories(tmp.path / "p");
  fs::create_directories(tmp.path / "r");
  expect_one_line_error(
      run_cli("score --pred " + quoted(tmp.path / "p") + " --ref " + quoted(tmp.path / "r") +
              " --out " + quoted(tmp.path / "s.json") + " --classes 4 --spacing a,b,c"),
      2, "--spacing");
  expect_one_line_error(run_cli("config --preset acdc-5-bcp --set data.train_list="), 1,
                        "'data.train_list' must name a list file");
  // Values the parser can check on its own are checked there, before any data is generated.
  expect_one_line_error(run_cli("demo --patch 33 --out " + quoted(tmp.path / "demo")), 2,
                        "multiple of 16");
  EXPECT_FALSE(fs::exists(tmp.path / "demo"));
  expect_one_line_error(run_cli("kde --model m --data d --out o --class 0"), 2, "--class");
  expect_one_line_error(
      run_cli("report " + quoted(tmp.path / "r") + " --out " + quoted(tmp.path / "report.html") +
              " --data " + quoted(tmp.path / "absent")),
      2, "absent");
  EXPECT_FALSE(fs::exists(tmp.path / "report.html"));
}

TEST(CliBadInput, ModelsThatAreNotCheckpointsSaySoAndRunsKeepOutOfTheirData) {
  const fs::path pth = bcp::test::parity_file("checkpoints/unet2d_state_dict.pth");
  bcp::test::TempDir tmp("bad_models");
  fs::create_directories(tmp.path / "root");
  const std::string rest =
      " --data " + quoted(tmp.path / "root") + " --list val.list --out " + quoted(tmp.path / "out");
  expect_one_line_error(run_cli("evaluate --model " + quoted(tmp.path) + rest), 1,
                        tmp.path.string() + ": is a folder, not a checkpoint file");
  if (fs::exists(pth))
    expect_one_line_error(run_cli("evaluate --model " + quoted(pth) + rest), 1,
                          "convert it first with `bcp import");
  expect_one_line_error(run_cli("train --preset acdc-5-bcp --data " + quoted(tmp.path / "root") +
                                " --out " + quoted(tmp.path / "root")),
                        1, "is the data root");
  EXPECT_TRUE(fs::is_empty(tmp.path / "root"));
}
