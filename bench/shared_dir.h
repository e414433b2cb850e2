// Where the benchmarks find ../shared (the real data and reference outputs).
#pragma once
#include <cstdlib>
#include <filesystem>

namespace bcp::bench {

/// BCP_SHARED_DIR, else `shared` beside the repository that holds the build folder of this
/// program (build/bcp_bench -> ../shared, as CI lays it out). Not __FILE__: it is relative to the
/// source tree (-fmacro-prefix-map, for the compiler cache).
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("BCP_SHARED_DIR")) return env;
  std::error_code ec;
  const auto exe = std::filesystem::canonical("/proc/self/exe", ec);
  return exe.parent_path().parent_path().parent_path() / "shared";
}

}  // namespace bcp::bench
