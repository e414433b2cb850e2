#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs the whole suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
# What the suite needs (library, CLI, tests); the Google Benchmark programs are built by a plain
# scripts/build.sh and are not part of the suite.
scripts/build.sh bcp_cli bcp_tests
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 1200
