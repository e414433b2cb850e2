#include "bcp/train/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "bcp/io/output_path.h"
#include "bcp/train/stage_plan.h"

namespace bcp::train {

namespace fs = std::filesystem;

namespace {
constexpr const char* kLockFile = "train.lock";
}  // namespace

std::string first_run_file(const std::string& out_dir, bool lock_counts) {
  std::vector<std::string> names = {"last.h5"};
  names.insert(names.end(), best_files().begin(), best_files().end());
  names.insert(names.end(),
               {"config.json", "metrics.jsonl", "log.txt", "tb", "eval", "eval_last", kLockFile});
  for (const std::string& name : names) {
    std::error_code ec;
    if (!lock_counts && name == kLockFile) continue;
    const fs::path path = fs::path(out_dir) / name;
    io::refuse_link(path);  // the more useful message for a planted link
    if (fs::exists(fs::symlink_status(path, ec))) return name;
  }
  return {};
}

void refuse_existing_run(const std::string& out_dir, bool lock_counts) {
  const std::string found = first_run_file(out_dir, lock_counts);
  if (!found.empty())
    throw std::runtime_error(out_dir + ": already holds a run (" + found +
                             "); pass --resume to continue it, or another --out");
}

RunLock::RunLock(const std::string& out_dir) {
  fs::create_directories(out_dir);
  const fs::path path = fs::path(out_dir) / kLockFile;
  io::refuse_link(path);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error(path.string() +
                             ": cannot open the run's lock: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw std::runtime_error(out_dir +
                               ": another bcp train is running in this folder (it holds " +
                               path.string() + "); wait for it, or name another --out");
    throw std::runtime_error(path.string() + ": cannot lock: " + std::strerror(err));
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace bcp::train
