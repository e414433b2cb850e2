// The built `bcp`'s absolute path, compiled in a file of its own for the compiler cache's sake
// (see tests/source_paths.cpp).
#include <string>

namespace bcp::test {

std::string cli_path() {
  return BCP_CLI_PATH;
}

}  // namespace bcp::test
