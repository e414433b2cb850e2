// The build's absolute paths, compiled in a file of their own. As compile definitions of every
// test file they made each test batch's ccache key depend on the clone's folder, so a fresh clone
// (CI's) recompiled every batch that an earlier build had cached.
#include <string>

namespace bcp::test {

std::string source_dir() {
  return BCP_SOURCE_DIR;
}
std::string cli_path() {
  return BCP_CLI_PATH;
}

}  // namespace bcp::test
