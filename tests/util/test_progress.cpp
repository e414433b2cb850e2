// The live status line: drawn in place only on terminals (or when asked), plain lines elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "../support.h"
#include "bcp/util/progress.h"

namespace fs = std::filesystem;
using bcp::util::format_duration;
using bcp::util::ProgressLine;

namespace {

/// What a ProgressLine writes to a file, with BCP_PROGRESS set to `env` ("" = unset).
template <typename Fn>
std::string written(const std::string& env, Fn use) {
  if (env.empty())
    ::unsetenv("BCP_PROGRESS");
  else
    ::setenv("BCP_PROGRESS", env.c_str(), 1);
  std::FILE* f = std::tmpfile();
  {
    ProgressLine line(f);
    use(line);
  }
  ::unsetenv("BCP_PROGRESS");
  std::fflush(f);
  std::rewind(f);
  std::string out;
  int c;
  while ((c = std::fgetc(f)) != EOF) out.push_back(static_cast<char>(c));
  std::fclose(f);
  return out;
}

}  // namespace

TEST(Progress, DurationsReadLikeEstimates) {
  EXPECT_EQ(format_duration(12.4), "12s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(NAN), "?");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Progress, RedrawsInPlaceWhenActiveAndErasesAtTheEnd) {
  const std::string out = written("1", [](ProgressLine& l) {
    EXPECT_TRUE(l.active());
    l.update("step 1");
    l.update("step 2");  // within 100 ms: skipped
    l.update("step 3", /*force=*/true);
  });
  EXPECT_EQ(out, "\r\033[Kstep 1\r\033[Kstep 3\r\033[K");
}

TEST(Progress, SilentOffTerminalsOrWhenTurnedOff) {
  EXPECT_EQ(written("",
                    [](ProgressLine& l) {
                      EXPECT_FALSE(l.active());  // a file is not a terminal
                      l.update("x", true);
                    }),
            "");
  EXPECT_EQ(written("0", [](ProgressLine& l) { l.update("x", true); }), "");
}

TEST(Progress, TrainAndPredictDrawTheLiveLineOnlyWhenAsked) {
  bcp::test::TempDir tmp("progress_cli");
  auto r = bcp::test::run_cli("synth --kind acdc --cases 2 --val 1 --test 0 --out " +
                              bcp::test::quoted(tmp.path / "data"));
  ASSERT_EQ(r.rc, 0) << r.output;
  const std::string train = "train --preset acdc-5-supervised --data " +
                            bcp::test::quoted(tmp.path / "data") +
                            " --set threads=1 data.patch=[64,64] data.labeled=8 batch.labeled=4"
                            " schedule.selftrain_iters=6 schedule.val_every=3 schedule.log_every=3"
                            " --no-eval --out ";
  r = bcp::test::run_cli(train + bcp::test::quoted(tmp.path / "plain"));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_EQ(r.output.find('\r'), std::string::npos) << "a pipe gets plain lines only";
  ::setenv("BCP_PROGRESS", "1", 1);
  r = bcp::test::run_cli(train + bcp::test::quoted(tmp.path / "live"));
  ::unsetenv("BCP_PROGRESS");
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("\r\033[Ktrain 1/6 loss "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" it/s ETA "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| val Dice "), std::string::npos) << r.output;
  // The plain log lines are still there, each on a line of its own.
  EXPECT_NE(r.output.find("\r\033[K["), std::string::npos) << r.output;
}
