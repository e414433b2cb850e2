// CTest runs every test with OMP_NUM_THREADS=1 (CMakeLists.txt): a test of a parallel path
// names its thread count, and gets the previous one back even when an ASSERT leaves early.
#pragma once
#include <torch/torch.h>

namespace bcp::test {

class ScopedThreads {
 public:
  explicit ScopedThreads(int threads) : before_(torch::get_num_threads()) {
    torch::set_num_threads(threads);
  }
  ~ScopedThreads() { torch::set_num_threads(before_); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int before_;
};

}  // namespace bcp::test
