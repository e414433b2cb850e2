#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs the whole suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 1200
