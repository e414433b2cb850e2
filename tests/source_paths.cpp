// The source tree's absolute path, compiled in a file of its own (into the tests and the
// benchmarks): as a compile definition of every test file it made each test batch's ccache key
// name the clone's folder, so a fresh clone (CI's) recompiled every batch an earlier build cached.
#include "source_paths.h"

#include <cstdlib>

namespace bcp::test {

std::filesystem::path source_dir() {
  return BCP_SOURCE_DIR;
}

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("BCP_SHARED_DIR")) return env;
  return source_dir().parent_path() / "shared";
}

}  // namespace bcp::test
