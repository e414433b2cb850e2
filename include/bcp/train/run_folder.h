// A run folder belongs to one run. Without --resume, a folder holding any file a run writes is
// refused (a removed last.h5 must not let a new run overwrite best.h5 and append to the old
// metrics.jsonl), and while a process trains in it the folder is locked, so a second `bcp train`
// into it fails instead of mixing two runs' files.
#pragma once
#include <string>

namespace bcp::train {

/// The name of the first run file in `out_dir` (see refuse_existing_run), "" when none.
std::string first_run_file(const std::string& out_dir, bool lock_counts = true);

/// Throws std::runtime_error naming the first run file found in `out_dir` (checkpoints,
/// config.json, logs, tb/, eval/, and the lock file unless `lock_counts` is false: this
/// process's own, just taken).
void refuse_existing_run(const std::string& out_dir, bool lock_counts = true);

/// An advisory lock (flock) on `out_dir`/train.lock, held until destruction or process exit,
/// whichever way it exits. The constructor creates `out_dir` and throws std::runtime_error when
/// another process holds the lock.
class RunLock {
 public:
  explicit RunLock(const std::string& out_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace bcp::train
