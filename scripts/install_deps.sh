#!/usr/bin/env bash
# Installs bcp's build and test dependencies from Debian 12 packages (run as root).
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config
      libtorch-dev libhdf5-dev hdf5-tools libinsighttoolkit5-dev
      libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
      clang-format                              # the style of .clang-format
      libgoogle-perftools-dev libopenblas0-openmp
      libgloo-dev                               # c10d's Gloo backend headers (multi-process training)
      libdnnl-dev                               # oneDNN's headers: VNet's bf16 convolutions channels-last
      libstb-dev gnuplot-nox fonts-dejavu-core  # reports and KDE plots: PNG encoding, plotting
      chromium                                  # the report test renders the page headless
      python3-protobuf python3-crc32c   # an independent check of TensorBoard files
      python3-h5py python3-nibabel)     # scripts/experiments: the real data as NIfTI
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "bcp: dependencies present"
