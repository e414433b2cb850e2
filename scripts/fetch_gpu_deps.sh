#!/usr/bin/env bash
# Downloads (does not install) the Debian 12 packages that scripts/gpu_check.sh needs on a GPU
# machine that has PyTorch but no HDF5 C++, GoogleTest, nlohmann-json or CLI11 and no network.
# Run it here, on the Debian machine; the .deb files land in .gpu_deps/ (ignored by git), which
# travels with the working tree (carry it when the device tool asks for ignored paths).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libhdf5-hl-cpp-100 libsz2 libaec0
      libcurl3-gnutls nlohmann-json3-dev libcli11-dev libgtest-dev libgoogle-perftools-dev
      libtcmalloc-minimal4)
mkdir -p .gpu_deps
(cd .gpu_deps && apt-get download "${pkgs[@]}")
ls -1 .gpu_deps
