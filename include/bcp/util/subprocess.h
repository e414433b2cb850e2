// Running a helper program (gnuplot) as a child process: input on its stdin, its stdout and stderr
// captured, nothing through a shell and nothing written to disk.
#pragma once
#include <string>
#include <vector>

namespace bcp::util {

struct ProcessResult {
  int exit_code = -1;  ///< the child's exit status; 128 + N when killed by signal N
  std::string out;     ///< everything it wrote to stdout
  std::string err;     ///< everything it wrote to stderr
};

/// Runs argv[0] (looked up on PATH) with `argv`, feeding `input` to its stdin. Throws
/// std::runtime_error naming the program when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input);

/// The full path of `program` on PATH, or "" when there is none.
std::string find_program(const std::string& program);

}  // namespace bcp::util
