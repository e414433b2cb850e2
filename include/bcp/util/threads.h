// How many intra-op threads a process gets when no setting names a number: what the scheduler
// lets it use, not the machine's core count.
#pragma once
#include <cstdint>

namespace bcp::util {

/// CPUs this process may run on: its affinity mask (taskset, cgroup cpusets, SLURM), else the
/// hardware's count; at least 1.
int64_t available_cores();

/// OMP_NUM_THREADS when it holds a positive number (its first, as OpenMP reads "4,2"; spaces
/// around it allowed): the convention PyTorch, torchrun and job schedulers use to give each
/// process its share. 0 when unset or not a number.
int64_t omp_num_threads_env();

/// The most intra-op threads anything may ask for: 4 x the hardware's cores (more only slows a
/// step down; thousands would exhaust the process's limits).
int64_t max_threads();

/// Intra-op threads for a process that names no number: OMP_NUM_THREADS (per process, as with
/// torchrun), else its share of available_cores() among the machine's local_ranks processes.
int64_t default_threads(int64_t local_ranks);

/// `requested` where it names a number (> 0), else default_threads(local_ranks): what the
/// trainer and the benchmarks set.
int64_t threads_or_default(int64_t requested, int64_t local_ranks);

}  // namespace bcp::util
