#!/usr/bin/env bash
# Configures and builds bcp (Release) into ./build.
# Usage: scripts/build.sh [-DOPTION=VALUE ...] [target ...]
#   no target: everything (library, CLI, tests, benchmarks); `bcp_cli`: only what `bcp` needs.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake_args=()
targets=()
for a in "$@"; do
  if [[ $a == -* ]]; then cmake_args+=("$a"); else targets+=(--target "$a"); fi
done
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" >/dev/null
cmake --build build -j "$(nproc)" "${targets[@]}"
