#!/usr/bin/env bash
# Builds the bcp CLI against the LibTorch inside an installed PyTorch (2.x; CUDA when that
# PyTorch has it), for GPU machines. Extra arguments go to CMake, e.g.
#   scripts/build_with_pytorch.sh -DBCP_WITH_ITK=OFF \
#     -DHDF5_INCLUDE_DIRS=... -DHDF5_LIBRARIES=.../libhdf5.so -DHDF5_CXX_LIBRARIES=.../libhdf5_cpp.so
# Checked with PyTorch 2.11.0+cu130 on an H200 (the build has no warnings).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
build=${BUILD_DIR:-build-torch}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBCP_BUILD_TESTS=OFF \
  -DBCP_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH="$torch_prefix${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}" "$@"
cmake --build "$build" --target bcp_cli
echo "built $build/bcp"
