#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and PyTorch 2.x (CUDA), with or without network:
#   1. unpacks the Debian packages carried in .gpu_deps/ (scripts/fetch_gpu_deps.sh), if any, into a
#      private prefix (HDF5 C++, GoogleTest, nlohmann-json, CLI11; nothing is installed system-wide),
#   2. builds bcp and its tests against PyTorch's own LibTorch with NCCL (without .gpu_deps: the
#      system's packages, ITK included); on a machine without a GPU it stops after step 3,
#   3. runs the tests that use CUDA (the rest are the CPU suite's),
#   4. prints `bcp bench step` (ACDC and LA) and `bcp bench infer` (LA and ACDC) in fp32 and bf16
#      on CUDA; JSON lines and logs go to $OUT (default gpu_check_out/).
# Budget: about 4 minutes of build on 16 cores and 2 to 3 minutes of runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu_check_out}
mkdir -p "$out"
# The Debian packages carried for a machine without them; where they are installed (the project
# machine, scripts/install_deps.sh) the system's are used.
cmake_deps=()
if compgen -G ".gpu_deps/*.deb" > /dev/null; then
  prefix=$PWD/.gpu_deps/root
  mkdir -p "$prefix"
  for f in .gpu_deps/*.deb; do dpkg -x "$f" "$prefix"; done
  lib=$prefix/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH=$lib:$lib/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  cmake_deps=(-DBCP_WITH_ITK=OFF "-DCMAKE_PREFIX_PATH=$prefix/usr"
              "-DHDF5_INCLUDE_DIRS=$prefix/usr/include/hdf5/serial"
              "-DHDF5_LIBRARIES=$lib/hdf5/serial/libhdf5.so"
              "-DHDF5_CXX_LIBRARIES=$lib/hdf5/serial/libhdf5_cpp.so" "-DGTEST_ROOT=$prefix/usr")
fi
# PyTorch's own LibTorch (CUDA): BCP_TORCH, else the torch of $PYTHON (default python3). On the
# project machine: BCP_TORCH=$(scripts/install_torch.sh 2.14.1) scripts/gpu_check.sh
python=${PYTHON:-python3}
torch=${BCP_TORCH:-$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')}
# Its Python (a venv's: site-packages/torch -> bin/python) says whether a GPU is there.
[ -n "${BCP_TORCH:-}" ] && python=$BCP_TORCH/../../../../bin/python
gpu=$("$python" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' \
      2>/dev/null || true)
echo "LibTorch $torch; GPU: ${gpu:-none}" | tee "$out/device.txt"

# A CUDA wheel's runtime compiler comes with it (nvidia/cu*/lib); the CUDA toolkit (nvcc, headers)
# from CUDA_HOME, default /usr/local/cuda.
cuda_args=("-DCUDA_TOOLKIT_ROOT_DIR=${CUDA_HOME:-/usr/local/cuda}")
nvrtc=$(compgen -G "$torch/../nvidia/cu*/lib/libnvrtc.so.*[0-9]" | head -1 || true)
[ -n "$nvrtc" ] && cuda_args+=("-DCUDA_nvrtc_LIBRARY=$nvrtc")
# Its headers too (cuSPARSE, cuBLAS...), searched after the toolkit's: a toolkit of nvcc and the
# runtime alone lacks those LibTorch's CUDA headers include.
cuda_include=$(compgen -G "$torch/../nvidia/cu*/include" | head -1 || true)
[ -n "$cuda_include" ] && cuda_args+=("-DCMAKE_CXX_FLAGS=-idirafter $(realpath "$cuda_include")")
build=${BUILD_DIR:-build-gpu}
BCP_TORCH=$torch BUILD_DIR=$build scripts/build.sh -DBCP_BUILD_BENCH=OFF -DBCP_WITH_NCCL=ON \
  "${cuda_args[@]}" "${cmake_deps[@]}" bcp_cli bcp_tests > "$out/build.log" 2>&1 ||
  { grep -m5 -A5 -E "error|Error" "$out/build.log" || tail -30 "$out/build.log"; exit 1; }
echo "built $build with NCCL (warnings: $(grep -c 'warning:' "$out/build.log" || true))"

# Multi-GPU training's NCCL backend: compiled and linked above; one GPU at most here, so not run.
# CUDA-relevant tests: each skips visibly without a GPU, and runs on one.
"$build/bcp_tests" --gtest_filter='Cuda*:ComputeCopy*:ParallelDropout*:Bf16*:TrainStep*' \
  2>&1 | tee "$out/tests.log" | tail -5
if [ -z "$gpu" ]; then
  echo "gpu_check: no CUDA GPU here: built, linked and the tests above run on the CPU; the GPU" \
       "benchmarks need a GPU (run this script again on one)"
  exit 0
fi

bench() { "$build/bcp" bench "$@" --device cuda 2>/dev/null; }
bench step --dataset acdc --repeats 20 --json "$out/step_acdc.jsonl"
bench step --dataset la --repeats 10 --json "$out/step_la.jsonl"
bench infer --dataset la --repeats 3 --window-batch 8 --json "$out/infer_la.jsonl"
bench infer --dataset acdc --repeats 5 --json "$out/infer_acdc.jsonl"
