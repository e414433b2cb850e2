// Where the tests and the benchmarks find the source tree and ../shared (tests/source_paths.cpp).
#pragma once
#include <filesystem>

namespace bcp::test {

/// The repository root.
std::filesystem::path source_dir();
/// ../shared beside the repository root, as CI lays it out (overridable by BCP_SHARED_DIR).
std::filesystem::path shared_dir();

}  // namespace bcp::test
