// Where the benchmarks find ../shared (the real data and reference outputs).
#pragma once
#include <filesystem>

namespace bcp::bench {

/// BCP_SHARED_DIR, else `shared` beside the source tree, as CI lays it out (bench/shared_dir.cpp).
std::filesystem::path shared_dir();

}  // namespace bcp::bench
