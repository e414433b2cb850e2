// Entry point of bcp_bench; the bench_*.cpp files only register benchmarks.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
