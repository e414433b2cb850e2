#!/usr/bin/env bash
# Builds the bcp CLI against the LibTorch inside an installed PyTorch (2.x; CUDA when that
# PyTorch has it), for GPU machines. Extra arguments go to CMake, e.g.
#   scripts/build_with_pytorch.sh -DBCP_WITH_ITK=OFF \
#     -DHDF5_INCLUDE_DIRS=... -DHDF5_LIBRARIES=.../libhdf5.so -DHDF5_CXX_LIBRARIES=.../libhdf5_cpp.so
# PYTHON picks the Python whose torch is used (default python3); BUILD_DIR the folder
# (default build-torch). Checked with PyTorch 2.11.0+cu130 on an H200 and 2.13.0 (CPU) and
# 2.14.1 (CUDA 13, compiled and linked only) on the 2-core project machine.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
torch=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
BCP_TORCH=$torch scripts/build.sh -DBCP_BUILD_TESTS=OFF -DBCP_BUILD_BENCH=OFF "$@" bcp_cli
echo "built ${BUILD_DIR:-build-torch}/bcp"
