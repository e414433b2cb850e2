// Command-line mistakes get the same one-line `bcp: error:` form as every other error, with the
// documented exit code 2 (1 is for commands that fail on their input), and help still works.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support.h"

namespace {

using bcp::test::count_lines;
using bcp::test::run_cli;

void expect_usage_error(const std::string& args, const std::string& must_contain) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.rc, 2) << args << "\n" << r.output;
  EXPECT_EQ(r.output.rfind("bcp: error: ", 0), 0u) << args << "\n" << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(must_contain), std::string::npos) << args << "\n" << r.output;
}

}  // namespace

TEST(CliUsage, ParserErrorsAreOneLineWithExitCode2) {
  expect_usage_error("", "subcommand");
  expect_usage_error("no-such-command", "no-such-command");
  expect_usage_error("train --preset acdc-5-bcp --data d --out o --no-such-flag", "--no-such-flag");
  expect_usage_error("evaluate --data b --list c --out d", "'bcp evaluate --help'");
  expect_usage_error("train --config a.json --preset acdc-5-bcp --data d --out o", "--preset");
  expect_usage_error("score --pred p --ref r --out o --classes two", "--classes");
}

// Choices come from the same enum tables as the config files: a wrong one names the valid ones.
TEST(CliUsage, UnknownChoicesListTheValidOnes) {
  expect_usage_error("evaluate --model m --data d --list l --out o --format png",
                     "--format: unknown value \"png\" (valid: h5 or nii.gz)");
  expect_usage_error("evaluate --model m --data d --list l --out o --dataset brats",
                     "(valid: acdc or la)");
  expect_usage_error("predict --model m --input i --out o --precision fp16",
                     "(valid: fp32 or bf16)");
  expect_usage_error("predict --model m --input i --out o --largest-component maybe",
                     "(valid: auto, on or off)");
  expect_usage_error("import --pth p --arch unet3d --classes 4 --out o", "(valid: unet2d or vnet)");
  expect_usage_error("bench step --method mt", "(valid: supervised, mean-teacher or bcp)");
  expect_usage_error("prepare --nnunet n --dim 2d --out o --intensity percentile",
                     "(valid: auto, zscore, minmax, ct or none)");
}

TEST(CliUsage, HelpAndVersionStillExitZero) {
  const auto help = run_cli("--help");
  EXPECT_EQ(help.rc, 0) << help.output;
  EXPECT_NE(help.output.find("train"), std::string::npos) << help.output;
  const auto sub = run_cli("score --help");
  EXPECT_EQ(sub.rc, 0) << sub.output;
  EXPECT_NE(sub.output.find("--classes"), std::string::npos) << sub.output;
  const auto version = run_cli("--version");
  EXPECT_EQ(version.rc, 0) << version.output;
}

TEST(CliUsage, InputErrorsKeepExitCode1) {
  const auto r =
      run_cli("score --pred /nonexistent/p --ref /nonexistent/r --out o.json --classes 2");
  EXPECT_EQ(r.rc, 1) << r.output;
  EXPECT_EQ(r.output.rfind("bcp: error: ", 0), 0u) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
}

// Every command's path options refuse an empty path (`--out ""` would mean the current folder)
// as they refuse any malformed value, before any work.
TEST(CliUsage, EveryPathOptionRefusesAnEmptyPath) {
  const std::string train = "train --preset acdc-5-bcp ";
  const std::string evaluate = "evaluate ";
  const std::vector<std::string> commands = {
      train + "--data '' --out o",
      train + "--data d --out ''",
      "train --config '' --data d --out o",
      "ablate --preset acdc-5-bcp --vary bcp.beta=0.5 --data '' --out o",
      "ablate --preset acdc-5-bcp --vary bcp.beta=0.5 --data d --out ''",
      evaluate + "--model '' --data d --list l --out o",
      evaluate + "--model m --data '' --list l --out o",
      evaluate + "--model m --data d --list '' --out o",
      evaluate + "--model m --data d --list l --out ''",
      "predict --model '' --input i --out o",
      "predict --model m --input '' --out o",
      "predict --model m --input i --out ''",
      "import --pth '' --arch unet2d --classes 4 --out o",
      "import --pth p --arch unet2d --classes 4 --out ''",
      "kde --model '' --data d --out o",
      "kde --model m --data '' --out o",
      "kde --model m --data d --out ''",
      "plan ''",
      "prepare --nnunet '' --dim 2d --out o",
      "prepare --nnunet n --unlabeled '' --dim 2d --out o",
      "prepare --nnunet n --dim 2d --out ''",
      "report '' --out r.html",
      "report run --out ''",
      "score --pred '' --ref r --out o.json --classes 2",
      "score --pred p --ref '' --out o.json --classes 2",
      "score --pred p --ref r --out '' --classes 2",
      "synth --kind acdc --out ''",
      "demo --data ''",
      "demo --out ''",
      "bench step --data ''",
      "bench step --json ''",
      "bench infer --model ''",
  };
  for (const auto& args : commands)
    expect_usage_error(args, "an empty path names no file or folder");
}
