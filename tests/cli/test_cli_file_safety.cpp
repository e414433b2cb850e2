// Never lose a user's file (issue 28): each test replays a command line that once deleted,
// replaced or mixed files the user had, and checks that it is now refused with one line and
// that the files are untouched. Limits on every number (the same issue, CliLimits): each test
// replays an input that once ran into a hang, an allocator's text, a raw library exception or a
// silently wrong result, and checks that it is now refused, before any work, with one line
// naming the file or option.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support.h"
#include "bcp/data/acdc.h"
#include "bcp/data/case_list.h"
#include "bcp/distributed/distributed.h"
#include "bcp/io/h5.h"
#include "bcp/io/tensor_archive.h"
#include "bcp/nets/model_archive.h"
#include "bcp/nets/segmentation_net.h"
#include "bcp/train/run_folder.h"

#ifdef BCP_WITH_ITK
#include "bcp/io/nifti.h"
#endif

// A namespace of its own: test files are compiled in batches (unity build).
namespace bcp_test_cli_file_safety {

namespace fs = std::filesystem;
using bcp::test::quoted;
using bcp::test::read_file_bytes;
using bcp::test::run_cli;
using bcp::test::RunResult;
using bcp::test::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// A failed command: non-zero exit, one `bcp: error:` line containing `what`.
void expect_refused(const RunResult& r, const std::string& what) {
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_EQ(r.output.rfind("bcp: error: ", 0), 0u) << r.output;
  EXPECT_EQ(bcp::test::count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
}

fs::path synth_acdc(const fs::path& root) {
  bcp::test::synth_small_acdc(root);
  return root;
}

/// A supervised run on `root` into `out`: `iters` steps, checkpoints every `every`.
std::string train_args(const fs::path& root, const fs::path& out, int iters, int every = 2) {
  return "train --preset acdc-5-supervised --no-eval --data " + quoted(root) +
         " --set data.patch=[32,32] --set data.labeled=8 --set batch.labeled=4"
         " --set batch.unlabeled=0 --set schedule.selftrain_iters=" +
         std::to_string(iters) + " --set schedule.val_every=" + std::to_string(iters) +
         " --set schedule.checkpoint_every=" + std::to_string(every) +
         " --set schedule.log_every=0 --set threads=1 --out " + quoted(out);
}

/// run_cli, but the process is ended (SIGTERM) after `seconds`; `env` ("A=1 B=2") is added to
/// its environment.
RunResult run_cli_within(int seconds, const std::string& args, const std::string& env = "") {
  const std::string cmd = (env.empty() ? "" : "env " + env + " ") + "timeout " +
                          std::to_string(seconds) + " '" + bcp::test::cli_path() + "' " + args +
                          " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// `bcp ARGS` started in the background, its output to `log`; returns its pid (a child of this
/// process).
pid_t spawn_cli(const std::string& args, const fs::path& log) {
  const std::string cmd =
      "exec '" + bcp::test::cli_path() + "' " + args + " > " + quoted(log) + " 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

/// Waits up to `seconds` for `ready`; false on time-out.
template <typename Fn>
bool wait_for(Fn ready, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ready();
}

/// Whether `pid` is still running (a zombie counts as ended).
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t c; in >> c;) out.push_back(c);
  return out;
}

/// A small trained checkpoint, made once per test process.
const fs::path& trained_model(const fs::path& root) {
  static const fs::path model = [&] {
    const fs::path run = bcp::test::process_temp_dir() / "file_safety_run";
    const auto r = run_cli(train_args(root, run, 2));
    EXPECT_EQ(r.rc, 0) << r.output;
    return run / "best.h5";
  }();
  return model;
}

const fs::path& shared_root() {
  static const fs::path root = synth_acdc(bcp::test::process_temp_dir() / "file_safety_acdc");
  return root;
}

bcp::nets::ModelConfig unet(int64_t in_channels = 1) {
  bcp::nets::ModelConfig c;
  c.arch = bcp::nets::Arch::kUNet2d;
  c.num_classes = 4;
  c.in_channels = in_channels;
  c.base_filters = 4;
  return c;
}

/// A checkpoint of an untrained network, its tensors and meta passed through `edit` first.
template <typename Edit>
void write_checkpoint(const fs::path& path, const bcp::nets::ModelConfig& config, Edit edit) {
  auto net = bcp::nets::make_model(config);
  std::map<std::string, torch::Tensor> tensors;
  nlohmann::json meta = nlohmann::json::object();
  bcp::nets::add_model_to_archive(tensors, meta, "", *net);
  meta["extra"] = {{"dataset", "acdc"}};
  edit(tensors, meta);
  bcp::io::save_tensor_archive(path.string(), tensors, meta);
}

}  // namespace

// Item 1: a PREPARE_INCOMPLETE marker in --out once made prepare empty the folder before reading
// its input, the raw dataset inside it included.
TEST(CliFileSafety, PrepareNeverDeletesItsInputOrUnrecordedFiles) {
  TempDir tmp("safety_prepare");
  const fs::path out = tmp.path / "out";
  write_text(out / "raw" / "dataset.json", "{\"name\": \"mine\"}\n");
  write_text(out / "PREPARE_INCOMPLETE", "bcp prepare is writing this data root\n");
  auto r =
      run_cli("prepare --nnunet " + quoted(out / "raw") + " --out " + quoted(out) + " --dim 2d");
  expect_refused(r, "holds this command's input");
  EXPECT_EQ(read_file_bytes(out / "raw" / "dataset.json"), "{\"name\": \"mine\"}\n");
  r = run_cli("prepare --nnunet " + quoted(out) + " --out " + quoted(out / "raw" / "x") +
              " --dim 2d");
  expect_refused(r, "lies inside this command's input");

  // The input is checked before anything is removed, and only recorded files are removed.
  const fs::path other = tmp.path / "other";
  write_text(other / "PREPARE_INCOMPLETE", "bcp prepare is writing this data root\n");
  write_text(other / "notes.txt", "mine\n");
  r = run_cli("prepare --nnunet " + quoted(tmp.path / "missing") + " --out " + quoted(other) +
              " --dim 2d");
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_EQ(read_file_bytes(other / "notes.txt"), "mine\n");
  EXPECT_TRUE(fs::exists(other / "PREPARE_INCOMPLETE"));
}

// Item 2: `predict --input raw/imagesTs --out raw/labelsTs` replaced a reference label.
TEST(CliFileSafety, PredictRefusesAFolderOfFilesItDidNotWrite) {
  TempDir tmp("safety_predict");
  const fs::path model = trained_model(shared_root());
  const fs::path in = tmp.path / "images", out = tmp.path / "labels";
  fs::create_directories(in);
  const std::string scan =
      bcp::data::AcdcRoot(shared_root().string())
          .volume_path(bcp::data::AcdcRoot(shared_root().string()).read_list("val.list").at(0));
  fs::copy_file(scan, in / "case.h5");
  write_text(out / "case.h5", "reference label\n");
  const std::string predict =
      "predict --model " + quoted(model) + " --input " + quoted(in) + " --out ";
  auto r = run_cli(predict + quoted(out));
  expect_refused(r, "not written by bcp predict");
  EXPECT_EQ(read_file_bytes(out / "case.h5"), "reference label\n");
  // Its own masks it replaces: a second run into the same folder works.
  r = run_cli(predict + quoted(tmp.path / "pred"));
  ASSERT_EQ(r.rc, 0) << r.output;
  r = run_cli(predict + quoted(tmp.path / "pred"));
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_FALSE(fs::exists(tmp.path / "pred" / "predictions.incomplete.json"));
  // Masks of an earlier run on other scans stay predict's own.
  fs::create_directories(tmp.path / "other");
  fs::copy_file(scan, tmp.path / "other" / "second.h5");
  r = run_cli("predict --model " + quoted(model) + " --input " + quoted(tmp.path / "other") +
              " --out " + quoted(tmp.path / "pred"));
  ASSERT_EQ(r.rc, 0) << r.output;
  r = run_cli(predict + quoted(tmp.path / "pred"));
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp.path / "pred" / "second.h5"));
}

// Item 3: `evaluate --out X` deleted X/predictions/ that predict had written, user files in it.
TEST(CliFileSafety, EvaluateKeepsAPredictionsFolderItDidNotWrite) {
  TempDir tmp("safety_evaluate");
  const fs::path model = trained_model(shared_root());
  const fs::path out = tmp.path / "x";
  write_text(out / "predictions" / "mine.txt", "mine\n");
  const std::string evaluate = "evaluate --model " + quoted(model) + " --data " +
                               quoted(shared_root()) + " --list val.list --out ";
  auto r = run_cli(evaluate + quoted(out));
  expect_refused(r, "no metrics.json of bcp evaluate");
  EXPECT_EQ(read_file_bytes(out / "predictions" / "mine.txt"), "mine\n");
  // Its own it replaces.
  r = run_cli(evaluate + quoted(tmp.path / "y"));
  ASSERT_EQ(r.rc, 0) << r.output;
  r = run_cli(evaluate + quoted(tmp.path / "y"));
  EXPECT_EQ(r.rc, 0) << r.output;
}

// Item 4: without last.h5, a new run overwrote best.h5 and config.json and appended to the old
// metrics.jsonl.
TEST(CliFileSafety, TrainRefusesAFolderHoldingAnyRunFile) {
  TempDir tmp("safety_train");
  const fs::path run = tmp.path / "run";
  auto r = run_cli(train_args(shared_root(), run, 2));
  ASSERT_EQ(r.rc, 0) << r.output;
  fs::remove(run / "last.h5");
  const std::string best = read_file_bytes(run / "best.h5");
  const std::string log = read_file_bytes(run / "metrics.jsonl");
  r = run_cli(train_args(shared_root(), run, 2));
  expect_refused(r, "already holds a run");
  EXPECT_EQ(read_file_bytes(run / "best.h5"), best);
  EXPECT_EQ(read_file_bytes(run / "metrics.jsonl"), log);
  // Nor does --resume start over where best.h5 would be replaced.
  r = run_cli(train_args(shared_root(), run, 2) + " --resume");
  expect_refused(r, "best.h5 remains");
  EXPECT_EQ(read_file_bytes(run / "best.h5"), best);
  write_text(tmp.path / "other" / "config.json", "{}\n");
  r = run_cli(train_args(shared_root(), tmp.path / "other", 2));
  expect_refused(r, "already holds a run (config.json)");
  EXPECT_EQ(read_file_bytes(tmp.path / "other" / "config.json"), "{}\n");
}

// Item 5: synth replaced an existing dataset's files, and `--out ""` wrote into the current
// folder.
TEST(CliFileSafety, SynthRefusesANonEmptyFolderAndAnEmptyPath) {
  TempDir tmp("safety_synth");
  write_text(tmp.path / "acdc" / "val.list", "patient001_frame01\n");
  auto r = run_cli("synth --kind la --out " + quoted(tmp.path / "acdc"));
  expect_refused(r, "not an empty folder");
  EXPECT_EQ(read_file_bytes(tmp.path / "acdc" / "val.list"), "patient001_frame01\n");
  write_text(tmp.path / "raw" / "dataset.json", "{}\n");
  r = run_cli("synth --kind la --format nnunet --out " + quoted(tmp.path / "raw"));
  expect_refused(r, "not an empty folder");
  EXPECT_EQ(read_file_bytes(tmp.path / "raw" / "dataset.json"), "{}\n");
  r = run_cli("synth --kind acdc --out ''");
  EXPECT_EQ(r.rc, 2) << r.output;
  EXPECT_EQ(bcp::test::count_lines(r.output), 1) << r.output;
}

// Item 6: `score --out <a reference mask>` and `report run --out run/metrics.jsonl` replaced
// their own inputs. Item 18: `score --out <folder>` failed only after writing <folder>.csv.
TEST(CliFileSafety, AnOutputNeverReplacesAnInput) {
  TempDir tmp("safety_inputs");
  const auto mask = torch::zeros({8, 8}, torch::kUInt8);
  fs::create_directories(tmp.path / "pred");
  fs::create_directories(tmp.path / "ref");
  bcp::io::write_h5_atomically((tmp.path / "pred" / "a.h5").string(), {{"label", mask}});
  bcp::io::write_h5_atomically((tmp.path / "ref" / "a.h5").string(), {{"label", mask}});
  const std::string ref = read_file_bytes(tmp.path / "ref" / "a.h5");
  const std::string score = "score --classes 2 --pred " + quoted(tmp.path / "pred") + " --ref " +
                            quoted(tmp.path / "ref") + " --out ";
  auto r = run_cli(score + quoted(tmp.path / "ref" / "a.h5"));
  expect_refused(r, "an output never replaces an input");
  EXPECT_EQ(read_file_bytes(tmp.path / "ref" / "a.h5"), ref);
  fs::create_directories(tmp.path / "folder");
  r = run_cli(score + quoted(tmp.path / "folder"));
  expect_refused(r, "is a folder");
  EXPECT_FALSE(fs::exists(tmp.path / "folder.csv"));
  r = run_cli(score + quoted(tmp.path / "pred" / "score.json"));  // a new file beside them is fine
  EXPECT_EQ(r.rc, 0) << r.output;

  write_text(tmp.path / "run" / "metrics.jsonl", "{\"kind\": \"event\"}\n");
  r = run_cli("report " + quoted(tmp.path / "run") + " --out " +
              quoted(tmp.path / "run" / "metrics.jsonl"));
  expect_refused(r, "an output never replaces an input");
  EXPECT_EQ(read_file_bytes(tmp.path / "run" / "metrics.jsonl"), "{\"kind\": \"event\"}\n");
}

// Item 7: the lock itself: a second holder in the same folder is refused, the first's release
// frees it.
TEST(CliFileSafety, RunLockAdmitsOneHolder) {
  TempDir tmp("safety_lock");
  const std::string dir = (tmp.path / "run").string();
  {
    bcp::train::RunLock first(dir);
    const std::string e = bcp::test::error_of([&] { bcp::train::RunLock second(dir); });
    EXPECT_NE(e.find("another bcp train is running"), std::string::npos) << e;
  }
  EXPECT_NO_THROW(bcp::train::RunLock again(dir));
}

// Item 7: two `bcp train` into one --out at once both exited 0, one folder mixing two runs.
TEST(CliFileSafety, ASecondTrainIntoARunningFolderIsRefused) {
  TempDir tmp("safety_two_trains");
  const fs::path run = tmp.path / "run";
  const pid_t first = spawn_cli(train_args(shared_root(), run, 100000, 1), tmp.path / "first.log");
  ASSERT_GT(first, 0);
  const bool started = wait_for([&] { return fs::exists(run / "last.h5"); }, 120);
  if (started) {
    // A few steps only: a bcp that did not refuse would finish instead of training on and on.
    auto r = run_cli(train_args(shared_root(), run, 3, 1));
    expect_refused(r, "already holds a run");
    // More steps, as a resume may ask; `timeout` ends a bcp that did not refuse.
    r = run_cli_within(60, train_args(shared_root(), run, 200000, 1) + " --resume");
    expect_refused(r, "another bcp train is running");
  }
  ::kill(first, SIGTERM);
  int status = 0;
  ::waitpid(first, &status, 0);
  ASSERT_TRUE(started) << read_file_bytes(tmp.path / "first.log");
}

// Item 8: `kill -TERM` of the launcher of `train --nproc 2` ended it, but both ranks kept
// training and writing.
TEST(CliFileSafety, StoppingTheLauncherStopsItsRanks) {
  if (!bcp::distributed::gloo_available()) GTEST_SKIP() << "this build has no Gloo: no CPU ranks";
  TempDir tmp("safety_launcher");
  const fs::path run = tmp.path / "run";
  for (int sig : {SIGTERM, SIGKILL}) {
    fs::remove_all(run);
    const pid_t launcher = spawn_cli(train_args(shared_root(), run, 100000, 1) + " --nproc 2",
                                     tmp.path / "launcher.log");
    ASSERT_GT(launcher, 0);
    std::vector<pid_t> ranks;
    const bool started = wait_for(
        [&] {
          ranks = children_of(launcher);
          return ranks.size() == 2 && fs::exists(run / "last.h5");
        },
        120);
    ::kill(launcher, sig);
    int status = 0;
    ::waitpid(launcher, &status, 0);
    ASSERT_TRUE(started) << read_file_bytes(tmp.path / "launcher.log");
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << status;
    const bool ended = wait_for([&] { return !running(ranks[0]) && !running(ranks[1]); }, 30);
    EXPECT_TRUE(ended) << "signal " << sig << ": ranks " << ranks[0] << ", " << ranks[1]
                       << " still run";
    for (pid_t p : ranks) ::kill(p, SIGKILL);  // never leave them behind, whatever happened
  }
}

// Item 12: more than 256 classes stored label 260 as uint8 4, silently.
TEST(CliFileSafety, PrepareRefusesMoreLabelsThanAMaskByteHolds) {
  TempDir tmp("safety_classes");
  std::string labels;
  for (int k = 0; k < 261; ++k)
    labels += (k ? ", " : "") + std::string("\"c") + std::to_string(k) + "\": " + std::to_string(k);
  write_text(tmp.path / "raw" / "dataset.json",
             "{\"channel_names\": {\"0\": \"MRI\"}, \"labels\": {" + labels +
                 "}, \"file_ending\": \".nii.gz\"}\n");
  const auto r = run_cli("prepare --nnunet " + quoted(tmp.path / "raw") + " --dim 2d --out " +
                         quoted(tmp.path / "out"));
  expect_refused(r, "261 labels");
  EXPECT_FALSE(fs::exists(tmp.path / "out"));
}

// Item 15: a newline in a case name split its list line in two.
TEST(CliFileSafety, PrepareRefusesACaseNameWithALineBreak) {
  TempDir tmp("safety_newline");
  write_text(tmp.path / "raw" / "dataset.json",
             "{\"channel_names\": {\"0\": \"MRI\"}, \"labels\": {\"background\": 0, \"a\": 1}, "
             "\"file_ending\": \".nii.gz\"}\n");
  for (const char* name : {"ok", "two\nlines"}) {
    write_text(tmp.path / "raw" / "imagesTr" / (std::string(name) + "_0000.nii.gz"), "x");
    write_text(tmp.path / "raw" / "labelsTr" / (std::string(name) + ".nii.gz"), "x");
  }
  const auto r = run_cli("prepare --nnunet " + quoted(tmp.path / "raw") + " --dim 2d --out " +
                         quoted(tmp.path / "out"));
  expect_refused(r, "line break");
  EXPECT_FALSE(fs::exists(tmp.path / "out"));
}

// Item 16: `score --spacing 1e308,...` scored 95HD and ASD as -nan.
TEST(CliFileSafety, ScoreRefusesASpacingThatOverflows) {
  TempDir tmp("safety_spacing");
  const auto r =
      run_cli("score --classes 2 --pred " + quoted(tmp.path) + " --ref " + quoted(tmp.path) +
              " --out " + quoted(tmp.path / "s.json") + " --spacing 1e308,1,1");
  EXPECT_EQ(r.rc, 2) << r.output;
  EXPECT_NE(r.output.find("--spacing"), std::string::npos) << r.output;
  const auto four =
      run_cli("score --classes 2 --pred " + quoted(tmp.path) + " --ref " + quoted(tmp.path) +
              " --out " + quoted(tmp.path / "s.json") + " --spacing 1,1,1,1");
  EXPECT_EQ(four.rc, 2) << four.output;
}

// Items 9 and 21: numbers and options that are command-line mistakes exit 2 with one line.
TEST(CliFileSafety, CommandLineMistakesExitTwo) {
  TempDir tmp("safety_usage");
  const std::string prepare =
      "prepare --nnunet " + quoted(tmp.path / "raw") + " --dim 2d --out " + quoted(tmp.path / "o");
  for (const std::string& args :
       {prepare + " --val-fraction 0", prepare + " --val-fraction 1",
        prepare + " --val-fraction nan", prepare + " --ct-window 1000 -1000",
        "import --pth x.pth --arch unet2d --classes 1 --out " + quoted(tmp.path / "m.h5"),
        "import --pth x.pth --arch unet2d --classes -1 --out " + quoted(tmp.path / "m.h5"),
        "ablate --preset acdc-5-bcp --data " + quoted(tmp.path) + " --vary nonsense --out " +
            quoted(tmp.path / "a"),
        std::string("bench step --threads 100000")}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.output;
    EXPECT_EQ(bcp::test::count_lines(r.output), 1) << args << "\n" << r.output;
  }
  const auto threads = run_cli(train_args(tmp.path, tmp.path / "run", 2) + " --set threads=100000");
  EXPECT_NE(threads.rc, 0) << threads.output;
  EXPECT_NE(threads.output.find("threads"), std::string::npos) << threads.output;
}

// ---- limits on every number: refused before any work, one line (CliLimits) -------------

// Item 10: a rank that could not resolve MASTER_ADDR retried for 3 hours, a line a second.
TEST(CliLimits, AnUnresolvableMasterAddrFailsWithinTheRendezvousTimeout) {
  if (!bcp::distributed::gloo_available()) GTEST_SKIP() << "this build has no Gloo: no CPU ranks";
  TempDir tmp("limits_rendezvous");
  const auto start = Clock::now();
  const auto r =
      run_cli_within(300,
                     "train --preset acdc-5-bcp --data " + quoted(tmp.path / "none") + " --out " +
                         quoted(tmp.path / "run") + " --rendezvous-timeout 2",
                     "WORLD_SIZE=2 RANK=1 MASTER_ADDR=bcp-no-such-host.invalid MASTER_PORT=29431");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  expect_refused(r, "MASTER_ADDR=bcp-no-such-host.invalid");
  EXPECT_NE(r.output.find("2 s"), std::string::npos) << r.output;
  EXPECT_LT(seconds, 240) << r.output;  // bcp alone takes half a minute to start on a busy machine
  // The timeout is a command-line number like any other.
  const auto bad = run_cli("train --preset acdc-5-bcp --data x --out y --rendezvous-timeout inf");
  EXPECT_EQ(bad.rc, 2) << bad.output;
  EXPECT_EQ(bcp::test::count_lines(bad.output), 1) << bad.output;
}

// Item 20: rank 0 on a taken MASTER_PORT printed four c10d log lines besides its error.
TEST(CliLimits, ATakenMasterPortIsOneLine) {
  if (!bcp::distributed::gloo_available()) GTEST_SKIP() << "this build has no Gloo: no CPU ranks";
  TempDir tmp("limits_port");
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  const auto r =
      run_cli_within(120,
                     "train --preset acdc-5-bcp --data " + quoted(tmp.path / "none") + " --out " +
                         quoted(tmp.path / "run") + " --rendezvous-timeout 5",
                     "WORLD_SIZE=2 RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port);
  ::close(fd);
  expect_refused(r, "MASTER_PORT 127.0.0.1:" + port);
}

// Item 13: a negative BatchNorm running_var predicted all background with exit 0.
TEST(CliLimits, ACheckpointWithANegativeVarianceIsRefused) {
  TempDir tmp("limits_variance");
  const fs::path model = tmp.path / "m.h5";
  std::string key;
  write_checkpoint(model, unet(), [&](auto& tensors, auto&) {
    for (auto& [name, t] : tensors)
      if (key.empty() && name.size() > 11 && name.substr(name.size() - 11) == "running_var") {
        key = name;
        t[0] = -1.0;
      }
  });
  ASSERT_FALSE(key.empty());
  fs::create_directories(tmp.path / "in");
  const auto r = run_cli("predict --model " + quoted(model) + " --input " +
                         quoted(tmp.path / "in") + " --out " + quoted(tmp.path / "out"));
  expect_refused(r, model.string());
  EXPECT_NE(r.output.find("'" + key + "' holds negative variances"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.path / "out"));
}

// Item 20: a checkpoint's base_filters of 2^20 and --in-channels 1e8 ended in the allocator.
TEST(CliLimits, NetworkSizesOutOfBoundsAreNamed) {
  TempDir tmp("limits_net");
  const fs::path model = tmp.path / "m.h5";
  write_checkpoint(model, unet(), [](auto&, auto& meta) {
    meta["models"][""]["base_filters"] = int64_t{1} << 20;
  });
  fs::create_directories(tmp.path / "in");
  auto r = run_cli("predict --model " + quoted(model) + " --input " + quoted(tmp.path / "in") +
                   " --out " + quoted(tmp.path / "out"));
  expect_refused(r, model.string());
  EXPECT_NE(r.output.find("base_filters must be in [1, 256], got 1048576"), std::string::npos)
      << r.output;
  r = run_cli("import --pth " + quoted(tmp.path / "x.pth") +
              " --arch unet2d --classes 4 --in-channels 100000000 --out " +
              quoted(tmp.path / "i.h5"));
  EXPECT_EQ(r.rc, 2) << r.output;
  EXPECT_EQ(bcp::test::count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("--in-channels"), std::string::npos) << r.output;
  r = run_cli("train --preset acdc-5-bcp --data " + quoted(tmp.path) + " --out " +
              quoted(tmp.path / "run") + " --set data.channels=100000000");
  expect_refused(r, "data.channels");
}

// Item 20: the hint for a multi-channel model named channel files CASE_1, which nnU-Net never
// writes.
TEST(CliLimits, TheChannelHintNamesFourDigitChannelFiles) {
  TempDir tmp("limits_channels");
  const fs::path model = tmp.path / "m.h5";
  write_checkpoint(model, unet(2), [](auto&, auto&) {});
  write_text(tmp.path / "in" / "scan.nii.gz", "x");
  const auto r = run_cli("predict --model " + quoted(model) + " --input " +
                         quoted(tmp.path / "in") + " --out " + quoted(tmp.path / "out"));
  expect_refused(r, "CASE_0000.nii.gz .. CASE_0001.nii.gz");
}

// Item 14: {"background": 1, "a": 0} made "a" the background; an "ignore" label must come after
// the classes, as nnU-Net requires (its training is test_prepare's and the dataset matrix's).
// Item 20: `file_ending: 5` ended in nlohmann's own exception text.
TEST(CliLimits, DatasetJsonLabelsThatWouldMisleadAreRefused) {
  TempDir tmp("limits_dataset_json");
  const std::string head = "{\"channel_names\": {\"0\": \"MRI\"}, ";
  for (const auto& [labels, what] :
       {std::pair<std::string, std::string>{
            "\"labels\": {\"background\": 0, \"ignore\": 1, \"a\": 2}, \"file_ending\": "
            "\".nii.gz\"",
            "the \"ignore\" label must have the highest value, 2"},
        {"\"labels\": {\"background\": 1, \"a\": 0}, \"file_ending\": \".nii.gz\"",
         "label \"background\" must have value 0, got 1"},
        {"\"labels\": {\"background\": 0, \"a\": 1}, \"file_ending\": 5",
         "file_ending must be a string"}}) {
    const fs::path raw = tmp.path / "raw";
    fs::remove_all(raw);
    write_text(raw / "dataset.json", head + labels + "}\n");
    write_text(raw / "imagesTr" / "c_0000.nii.gz", "x");
    write_text(raw / "labelsTr" / "c.nii.gz", "x");
    const auto r =
        run_cli("prepare --nnunet " + quoted(raw) + " --dim 2d --out " + quoted(tmp.path / "out"));
    expect_refused(r, (raw / "dataset.json").string() + ": " + what);
    EXPECT_FALSE(fs::exists(tmp.path / "out"));
  }
}

// Item 19: `data.patch=[1048576,1048576]` passed the config checks and failed in the allocator.
TEST(CliLimits, AHugePatchIsRefusedByTheConfigChecks) {
  TempDir tmp("limits_patch");
  const auto r = run_cli("train --preset acdc-5-bcp --data " + quoted(tmp.path) + " --out " +
                         quoted(tmp.path / "run") + " --set data.patch=[1048576,1048576]");
  expect_refused(r, "config 'data.patch' sizes must be in [1, 4096], got 1048576");
  const auto volume = run_cli("train --preset la-10-bcp --data " + quoted(tmp.path) + " --out " +
                              quoted(tmp.path / "run") + " --set data.patch=[512,512,512]");
  expect_refused(volume, "config 'data.patch' holds 134217728 voxels");
  EXPECT_FALSE(fs::exists(tmp.path / "run"));
}

// Item 19: `kde --bw-adjust inf` was accepted and failed late.
TEST(CliLimits, KdeRefusesAnInfiniteBandwidth) {
  TempDir tmp("limits_kde");
  for (const char* value : {"inf", "1e400", "nan"}) {
    const auto r =
        run_cli("kde --model " + quoted(tmp.path / "m.h5") + " --data " + quoted(tmp.path) +
                " --out " + quoted(tmp.path / "k") + " --bw-adjust " + value);
    EXPECT_EQ(r.rc, 2) << value << ": " << r.output;
    EXPECT_EQ(bcp::test::count_lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("--bw-adjust"), std::string::npos) << r.output;
  }
}

// Item 19: a grid point whose folder name exceeds 255 bytes failed after the runs before it.
TEST(CliLimits, AblateRefusesAFolderNameTooLongBeforeTheFirstRun) {
  TempDir tmp("limits_ablate_name");
  const std::string list(250, 'v');
  const auto r = run_cli("ablate --preset acdc-5-supervised --data " + quoted(tmp.path) +
                         " --vary seed=1,2 --vary data.val_list=val.list," + list + " --out " +
                         quoted(tmp.path / "a"));
  expect_refused(r, "more than the 255 a file name may have");
  EXPECT_FALSE(fs::exists(tmp.path / "a"));
}

// An ablation grid point killed before its first checkpoint was refused on resume ("already
// holds a run"), though nothing of it was kept; a damaged result.json surfaced as a raw JSON
// exception.
TEST(CliLimits, AblateResumeRerunsAPointThatKeptNothingAndNamesADamagedResult) {
  TempDir tmp("limits_ablate_resume");
  const fs::path root = shared_root();
  const fs::path out = tmp.path / "a";
  const std::string ablate =
      "ablate --preset acdc-5-supervised --no-eval --data " + quoted(root) +
      " --set data.patch=[32,32] --set data.labeled=8 --set batch.labeled=4"
      " --set batch.unlabeled=0 --set schedule.selftrain_iters=2 --set schedule.val_every=2"
      " --set schedule.log_every=0 --set threads=1 --vary seed=1,2 --out " +
      quoted(out);
  auto r = run_cli(ablate);
  ASSERT_EQ(r.rc, 0) << r.output;
  // What a kill before the first checkpoint leaves: the run's config and logs, nothing else.
  const fs::path point = out / "seed=2";
  ASSERT_TRUE(fs::exists(point / "config.json")) << r.output;
  for (const char* kept : {"result.json", "last.h5", "best.h5"}) fs::remove(point / kept);
  r = run_cli(ablate + " --resume");
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_TRUE(fs::exists(point / "result.json"));
  EXPECT_TRUE(fs::exists(point / "last.h5"));

  write_text(point / "result.json", "{\"stages\": 3}\n");
  r = run_cli(ablate + " --resume");
  expect_refused(r, (point / "result.json").string() + ": not a result of bcp ablate");
  write_text(point / "result.json", "{\"stag");
  r = run_cli(ablate + " --resume");
  expect_refused(r, (point / "result.json").string() + ": not valid JSON");
}

// Item 20: a UTF-8 BOM became an invisible part of the first case's name.
TEST(CliLimits, ACaseListWithAByteOrderMarkSaysSo) {
  const std::string e = bcp::test::error_of(
      [] { bcp::data::parse_case_list("\xEF\xBB\xBFpatient001_frame01\n", "train.list"); });
  EXPECT_EQ(e.rfind("train.list:1: begins with a UTF-8 byte order mark (BOM", 0), 0u) << e;
  EXPECT_EQ(bcp::data::parse_case_list("patient001_frame01\n", "train.list").size(), 1u);
}

#ifdef BCP_WITH_ITK
// Item 20: NRRD and MetaImage headers declaring huge volumes ended bcp with std::bad_alloc.
TEST(CliLimits, HugeVolumeHeadersNameTheFile) {
  TempDir tmp("limits_headers");
  write_text(tmp.path / "big.nrrd",
             "NRRD0004\ntype: float\ndimension: 3\nsizes: 100000 100000 100000\nencoding: "
             "raw\nendian: little\n\n");
  write_text(tmp.path / "big.mha",
             "ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 100000\nElementType = "
             "MET_FLOAT\nElementDataFile = LOCAL\n");
  for (const char* name : {"big.nrrd", "big.mha"}) {
    const std::string path = (tmp.path / name).string();
    const std::string e = bcp::test::error_of([&] { bcp::io::read_volume(path); });
    EXPECT_EQ(e.rfind(path + ": the header declares 100000 x 100000 x 100000 voxels", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}
#endif

}  // namespace bcp_test_cli_file_safety
