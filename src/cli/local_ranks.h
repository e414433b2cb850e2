// `bcp train --nproc N`: the local launcher, in the manner of torchrun --standalone.
#pragma once
#include <string>
#include <vector>

namespace bcp::cli {

/// Starts `nproc` copies of this program with `args` (its arguments, without the program name) as
/// ranks 0..nproc-1 of a local group: torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR 127.0.0.1, MASTER_PORT a free port), the rest of the environment
/// inherited. Waits for all; when one fails, stops the others (SIGTERM). SIGTERM or SIGINT sent to
/// the launcher is forwarded to every rank, and once they have ended the launcher ends by that
/// signal. Returns 0, or the exit status of the first rank that failed (128 + N for a signal N).
int run_local_ranks(int nproc, const std::vector<std::string>& args);

/// In a rank started by run_local_ranks: asks the kernel to send this process SIGTERM when the
/// launcher dies (even by SIGKILL), and exits at once if it has died already. Does nothing in
/// other processes.
void stop_with_launcher();

/// The command line that started this process (main() records it), for relaunching.
std::vector<std::string>& command_line();

/// `args` without `--nproc N` / `--nproc=N`.
std::vector<std::string> without_nproc(const std::vector<std::string>& args);

}  // namespace bcp::cli
