// The source tree's absolute path, compiled in a file of its own: not __FILE__ (relative to the
// source tree, for the compiler cache) and not a definition of every benchmark file, which would
// make their cache keys name the clone's folder.
#include "shared_dir.h"

#include <cstdlib>

namespace bcp::bench {

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("BCP_SHARED_DIR")) return env;
  return std::filesystem::path(BCP_SOURCE_DIR).parent_path() / "shared";
}

}  // namespace bcp::bench
