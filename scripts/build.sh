#!/usr/bin/env bash
# Configures and builds bcp (Release).
# Usage: scripts/build.sh [-DOPTION=VALUE ...] [target ...]
#   no target: everything (library, CLI, tests, benchmarks); `bcp_cli`: only what `bcp` needs.
# Which LibTorch: BCP_TORCH=FOLDER, a PyTorch package folder (scripts/install_torch.sh prints one;
# for an installed PyTorch: python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))'),
# or unset for Debian's libtorch-dev (1.13). Build folder: BUILD_DIR, default ./build with Debian's
# LibTorch and ./build-torch with BCP_TORCH.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake_args=()
targets=()
for a in "$@"; do
  if [[ $a == -* ]]; then cmake_args+=("$a"); else targets+=(--target "$a"); fi
done
build=${BUILD_DIR:-build}
if [ -n "${BCP_TORCH:-}" ]; then
  [ -f "$BCP_TORCH/share/cmake/Torch/TorchConfig.cmake" ] ||
    { echo "scripts/build.sh: BCP_TORCH=$BCP_TORCH holds no share/cmake/Torch/TorchConfig.cmake" >&2; exit 2; }
  build=${BUILD_DIR:-build-torch}
  # The package folder itself: CMake then takes LibTorch's libraries from it, not the system's.
  cmake_args+=("-DCMAKE_PREFIX_PATH=$BCP_TORCH${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}")
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
