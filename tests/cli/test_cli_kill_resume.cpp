// A tool that writes checkpoints must survive `kill -9` at any moment: the previous checkpoint
// stays loadable, and `--resume` continues bit-exactly (CPU fp32). This test kills a real
// `bcp train` child process at random moments, checkpointing every step so that many kills land
// inside a save, resumes each time, and compares the final weights with an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "../support.h"
#include "bcp/io/tensor_archive.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

/// Starts `sh -c "exec bcp ARGS > log 2>&1"`; `exec` makes the returned pid bcp's own.
pid_t spawn_cli(const std::string& args, const fs::path& log) {
  const std::string cmd =
      "exec '" + bcp::test::cli_path() + "' " + args + " > " + bcp::test::quoted(log) + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

/// Waits for `pid` until `deadline_ms`, then kills it with SIGKILL. Returns the exit code, or -1
/// when it was killed.
int wait_or_kill(pid_t pid, int deadline_ms) {
  const auto end = Clock::now() + std::chrono::milliseconds(deadline_ms);
  int status = 0;
  while (Clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);  // finished just before the kill
  return -1;
}

}  // namespace

TEST(CliKillResume, KillNineAtRandomMomentsThenResumeEqualsAnUninterruptedRun) {
  bcp::test::TempDir tmp("kill_resume");
  const fs::path root = tmp.path / "root";
  ASSERT_TRUE(bcp::test::synth_small_acdc(root));
  const std::string train =
      "train --preset acdc-5-bcp --no-eval --data " + bcp::test::quoted(root) +
      " --set data.patch=[32,32] --set data.labeled=8 --set batch.labeled=4"
      " --set batch.unlabeled=4 --set schedule.pretrain_iters=8 --set schedule.selftrain_iters=8"
      " --set schedule.val_every=4 --set schedule.checkpoint_every=1 --set schedule.log_every=0"
      " --set threads=1 --set eval.max_cases=1 --out ";

  const auto t0 = Clock::now();
  const auto whole = bcp::test::run_cli(train + bcp::test::quoted(tmp.path / "whole"));
  ASSERT_EQ(whole.rc, 0) << whole.output;
  const int whole_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());

  const fs::path out = tmp.path / "killed";
  const fs::path last = out / "last.h5";
  std::mt19937 rng(7);
  // Each attempt is killed within its first quarter of a whole run's time, so the first three
  // are killed whatever the draws (each resumes with more than half the run left) and later ones
  // land anywhere from start-up to the end; the last attempt runs to completion.
  std::uniform_int_distribution<int> delay(whole_ms / 10, whole_ms / 4);
  int kills = 0, rc = -1;
  for (int attempt = 0; attempt < 30 && rc != 0; ++attempt) {
    // Any run file makes the folder a run; one killed before its first checkpoint starts over
    // with --resume.
    const bool resume = fs::exists(out) && !fs::is_empty(out);
    const pid_t pid = spawn_cli(train + bcp::test::quoted(out) + (resume ? " --resume" : ""),
                                tmp.path / ("attempt" + std::to_string(attempt) + ".log"));
    ASSERT_GT(pid, 0);
    rc = wait_or_kill(pid, attempt == 29 ? 10 * whole_ms + 60000 : delay(rng));
    if (rc == -1) {
      ++kills;
      // Whatever the moment of the kill, the checkpoint on disk is a complete one.
      if (fs::exists(last)) {
        EXPECT_NO_THROW(bcp::io::load_tensor_archive(last.string())) << "after kill " << kills;
      }
    } else {
      ASSERT_EQ(rc, 0) << "attempt " << attempt << " failed; see its log in " << tmp.path;
    }
  }
  ASSERT_EQ(rc, 0);
  std::printf("killed bcp train %d times (whole run %d ms), then it finished\n", kills, whole_ms);
  EXPECT_GE(kills, 3) << "the run finished before it could be killed often enough";

  const auto a = bcp::io::load_tensor_archive((tmp.path / "whole" / "last.h5").string());
  const auto b = bcp::io::load_tensor_archive(last.string());
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, b.tensors.at(name))) << "differs after kills: " << name;
  }
  EXPECT_EQ(b.meta["train"]["iteration"], 8);
  EXPECT_EQ(b.meta["train"]["stage"], "selftrain");
}
