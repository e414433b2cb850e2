#!/usr/bin/env bash
# Builds bcp and its test suite with AddressSanitizer and UndefinedBehaviorSanitizer (GCC) into
# build-asan/ and runs the suite there (the CLI tests run the sanitized `bcp` too). LibTorch, HDF5
# and ITK are not instrumented; memory errors in bcp's own code, and undefined behaviour in it,
# stop the test process that hit them (CTest runs a GoogleTest suite a process).
# Usage: scripts/sanitize.sh [CTEST_REGEX]   e.g. scripts/sanitize.sh 'Pth|Config|CaseList'
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-}
# UBSan stays recoverable so that scripts/ubsan.supp can silence findings in LibTorch's headers;
# halt_on_error still stops a suite at the first finding that is not suppressed.
flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DBCP_TCMALLOC=OFF \
  -DBCP_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$(nproc)" --target bcp_cli bcp_tests
# LibTorch's allocator pairs and duplicate globals are not ours, and it keeps memory until exit.
export ASAN_OPTIONS=alloc_dealloc_mismatch=0:detect_odr_violation=0:detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/ubsan.supp
cd build-asan
BCP_SUITE_TIMEOUT=7200 ctest -j "$(nproc)" --timeout 3600 --output-on-failure ${filter:+-R "$filter"}
