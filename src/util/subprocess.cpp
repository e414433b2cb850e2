#include "bcp/util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace bcp::util {
namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

/// Closes every descriptor in the list on scope exit (the error paths included).
struct FdGuard {
  std::array<int*, 6> fds;
  ~FdGuard() {
    for (int* fd : fds)
      if (fd) close_fd(*fd);
  }
};

}  // namespace

std::string find_program(const std::string& program) {
  if (program.find('/') != std::string::npos)
    return ::access(program.c_str(), X_OK) == 0 ? program : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    // An empty entry is the current folder, as in execvp. (Built in one expression: GCC 12's
    // -Wstringop-overflow misreads assigning "." to the substring under C++20.)
    const std::string dir = end > start ? dirs.substr(start, end - start) : std::string(".");
    const std::string candidate = (std::filesystem::path(dir) / program).string();
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate))
      return candidate;
    start = end + 1;
  }
  return "";
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input) {
  if (argv.empty()) throw std::invalid_argument("run_process: no program given");
  // stdin is a socket pair, not a pipe: send(MSG_NOSIGNAL) then reports a child that stopped
  // reading as EPIPE instead of raising SIGPIPE in the whole program.
  int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  FdGuard guard{{&in_pair[0], &in_pair[1], &out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]}};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0 ||
      ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(argv[0] + ": cannot create pipes: " + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pair[1], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error(argv[0] + ": cannot start it: " + std::strerror(rc) +
                             (rc == ENOENT ? " (not installed or not on PATH)" : ""));
  close_fd(in_pair[1]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  ::fcntl(in_pair[0], F_SETFL, O_NONBLOCK);

  ProcessResult result;
  size_t written = 0;
  if (input.empty()) close_fd(in_pair[0]);
  char buf[65536];
  while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    if (in_pair[0] >= 0) fds[n++] = {in_pair[0], POLLOUT, 0};
    if (out_pipe[0] >= 0) fds[n++] = {out_pipe[0], POLLIN, 0};
    if (err_pipe[0] >= 0) fds[n++] = {err_pipe[0], POLLIN, 0};
    if (::poll(fds.data(), n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_pair[0]) {
        const ssize_t k =
            ::send(in_pair[0], input.data() + written, input.size() - written, MSG_NOSIGNAL);
        if (k > 0) written += static_cast<size_t>(k);
        if (k < 0 && errno != EAGAIN && errno != EINTR) written = input.size();  // child gone
        if (written == input.size()) close_fd(in_pair[0]);
        continue;
      }
      int& fd = fds[i].fd == out_pipe[0] ? out_pipe[0] : err_pipe[0];
      const ssize_t k = ::read(fd, buf, sizeof buf);
      if (k > 0)
        (&fd == &out_pipe[0] ? result.out : result.err).append(buf, static_cast<size_t>(k));
      else if (k == 0 || (errno != EAGAIN && errno != EINTR))
        close_fd(fd);
    }
  }
  close_fd(in_pair[0]);
  int status = 0;
  pid_t waited;
  while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited < 0)
    throw std::runtime_error(argv[0] + ": cannot wait for it: " + std::strerror(errno));
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace bcp::util
