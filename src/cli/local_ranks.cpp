#include "local_ranks.h"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "bcp/distributed/distributed.h"

extern char** environ;

namespace bcp::cli {
namespace {

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

/// The launcher's pid, given to its ranks so each can stop when the launcher goes.
constexpr const char* kLauncherVariable = "BCP_LAUNCHER_PID";

// The ranks, for the signal handler: a launcher stopped by SIGTERM or SIGINT stops them too.
constexpr int kMaxRanks = 64;
volatile pid_t g_ranks[kMaxRanks] = {};
volatile sig_atomic_t g_stop_signal = 0;

void forward_signal(int sig) {
  g_stop_signal = sig;
  for (int i = 0; i < kMaxRanks; ++i)
    if (g_ranks[i] > 0) ::kill(g_ranks[i], sig);
}

bool is_rank_variable(const std::string& entry) {
  for (const char* name : {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=",
                           "MASTER_ADDR=", "MASTER_PORT=", "BCP_LAUNCHER_PID="})
    if (entry.rfind(name, 0) == 0) return true;
  return false;
}

}  // namespace

std::vector<std::string>& command_line() {
  static std::vector<std::string> line;
  return line;
}

std::vector<std::string> without_nproc(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;  // and its value
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

void stop_with_launcher() {
  const char* launcher = std::getenv(kLauncherVariable);
  if (!launcher) return;
  // SIGKILL of the launcher cannot be forwarded; the kernel tells the rank instead.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (std::to_string(::getppid()) != launcher) std::_Exit(128 + SIGTERM);  // it is gone already
}

int run_local_ranks(int nproc, const std::vector<std::string>& args) {
  if (nproc > kMaxRanks)
    throw std::invalid_argument("--nproc: at most " + std::to_string(kMaxRanks) + " ranks");
  struct sigaction forward = {};
  forward.sa_handler = forward_signal;
  sigemptyset(&forward.sa_mask);
  struct sigaction old_term = {};
  struct sigaction old_int = {};
  ::sigaction(SIGTERM, &forward, &old_term);
  ::sigaction(SIGINT, &forward, &old_int);
  const std::string port = std::to_string(distributed::free_local_port());
  std::vector<std::string> base_env;
  for (char** e = environ; *e; ++e)
    if (!is_rank_variable(*e)) base_env.push_back(*e);
  std::vector<pid_t> pids;
  auto stop_all = [&](pid_t except) {
    for (pid_t p : pids)
      if (p > 0 && p != except) ::kill(p, SIGTERM);
  };
  for (int rank = 0; rank < nproc; ++rank) {
    std::vector<std::string> env = base_env;
    for (const auto& [k, v] : {std::pair<std::string, std::string>{"RANK", std::to_string(rank)},
                               {"LOCAL_RANK", std::to_string(rank)},
                               {"WORLD_SIZE", std::to_string(nproc)},
                               {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
                               {"MASTER_ADDR", "127.0.0.1"},
                               {"MASTER_PORT", port},
                               {kLauncherVariable, std::to_string(::getpid())}})
      env.push_back(k + "=" + v);
    std::vector<std::string> argv{"/proc/self/exe"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    pid_t pid = 0;
    const int rc =
        ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, cargv.data(), cenv.data());
    if (rc != 0) {
      stop_all(0);
      for (pid_t p : pids) ::waitpid(p, nullptr, 0);
      ::sigaction(SIGTERM, &old_term, nullptr);
      ::sigaction(SIGINT, &old_int, nullptr);
      throw std::runtime_error("--nproc: cannot start rank " + std::to_string(rank) + ": " +
                               std::strerror(rc));
    }
    pids.push_back(pid);
    g_ranks[rank] = pid;
    if (g_stop_signal) ::kill(pid, g_stop_signal);  // a signal that came before this rank did
  }
  int result = 0;
  for (size_t left = pids.size(); left > 0; --left) {
    int status = 0;
    pid_t done = ::waitpid(-1, &status, 0);
    while (done < 0 && errno == EINTR) done = ::waitpid(-1, &status, 0);
    if (done < 0) break;
    for (auto& p : pids)
      if (p == done) p = 0;
    for (int i = 0; i < kMaxRanks; ++i)
      if (g_ranks[i] == done) g_ranks[i] = 0;
    const int code = exit_status(status);
    if (code != 0 && result == 0) {
      result = code;
      stop_all(done);  // the others would wait for it in their next collective
    }
  }
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::sigaction(SIGINT, &old_int, nullptr);
  if (const int sig = g_stop_signal) {
    // Stopped from outside: all ranks have ended; end as the signal would have ended us.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
  return result;
}

}  // namespace bcp::cli
