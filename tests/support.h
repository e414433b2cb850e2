// Shared test helpers: where ../shared is, and a visible skip when it is absent.
#pragma once
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "bcp/io/input_path.h"
#include "source_paths.h"

namespace bcp::test {

/// `s` in single quotes. Appended rather than `"'" + s`: GCC 12 in C++20 mode (LibTorch >= 2.14)
/// warns (-Wstringop-overflow) about the inlined insert at the front, a false positive.
inline std::string single_quoted(const std::string& s) {
  std::string out(1, '\'');
  out += s;
  out += '\'';
  return out;
}

/// Path of the built `bcp` executable (tests/build_paths.cpp).
std::string cli_path();

inline std::filesystem::path parity_file(const std::string& name) {
  return shared_dir() / "parity" / name;
}
inline std::filesystem::path data_dir(const std::string& name) {
  return shared_dir() / "data" / name;
}
/// For one scope, files that data roots reach through links out of them are read (the tests
/// assemble roots from links into ../shared), as `bcp --follow-links` does.
struct FollowLinksOutOfRoot {
  FollowLinksOutOfRoot() { set(true); }
  ~FollowLinksOutOfRoot() { set(false); }
  FollowLinksOutOfRoot(const FollowLinksOutOfRoot&) = delete;
  FollowLinksOutOfRoot& operator=(const FollowLinksOutOfRoot&) = delete;
  static void set(bool follow) { bcp::io::set_follow_links_out_of_root(follow); }
};

struct RunResult {
  int rc;              ///< exit status, -1 when the process did not exit normally
  std::string output;  ///< stdout and stderr together
};

/// Runs the built `bcp` with `args` (already shell-quoted where needed).
inline RunResult run_cli(const std::string& args) {
  const std::string cmd = single_quoted(cli_path()) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// A new, uniquely named folder under the system temp dir (mkdtemp), removed with its contents
/// at the end of the test, so tests running in parallel never share or delete each other's files.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("bcp_" + tag + "_XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  /// A path inside, as a string: dir / "file.h5".
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  /// The folder single-quoted for a shell command line.
  std::string quoted() const { return single_quoted(path.string()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

/// A folder of this test process's own (ctest runs every test in its own process), removed at
/// exit: fixed file names inside it never meet another test's or another checkout's.
inline const std::filesystem::path& process_temp_dir() {
  static const TempDir dir("test");
  return dir.path;
}

/// A whole file's bytes ("" when it cannot be read).
inline std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The message of what `fn` throws, "" when it throws nothing.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

/// Newlines in `s`: one-line errors have one.
inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

/// A path in single quotes for run_cli.
inline std::string quoted(const std::filesystem::path& p) {
  return single_quoted(p.string());
}

/// `bcp synth` of three small ACDC patients (one validation, one test case) into `root`, the data
/// of the CLI's short end-to-end runs; false (with the failure recorded) when synth fails.
inline bool synth_small_acdc(const std::filesystem::path& root) {
  const RunResult r =
      run_cli("synth --kind acdc --cases 3 --val 1 --test 1 --seed 5 --out " + quoted(root));
  EXPECT_EQ(r.rc, 0) << r.output;
  return r.rc == 0;
}

}  // namespace bcp::test

/// Skips the current test, loudly, when a file or folder under ../shared is missing.
#define BCP_REQUIRE_SHARED(path)                                                               \
  do {                                                                                         \
    if (!std::filesystem::exists(path))                                                        \
      GTEST_SKIP() << "SKIPPED: needs " << (path) << " (../shared is absent on this machine)"; \
  } while (0)
