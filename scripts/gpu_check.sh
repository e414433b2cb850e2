#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and PyTorch 2.x (CUDA) but no network:
#   1. unpacks the Debian packages carried in .gpu_deps/ (scripts/fetch_gpu_deps.sh) into a
#      private prefix (HDF5 C++, GoogleTest, nlohmann-json, CLI11; nothing is installed system-wide),
#   2. builds bcp and its tests against PyTorch's own LibTorch (ITK off, no NIfTI there),
#   3. runs the tests that use CUDA (the rest are the CPU suite's),
#   4. prints `bcp bench step` (ACDC and LA) and `bcp bench infer` (LA and ACDC) in fp32 and bf16
#      on CUDA; JSON lines and logs go to $OUT (default gpu_check_out/).
# Budget: about 4 minutes of build on 16 cores and 2 to 3 minutes of runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu_check_out}
mkdir -p "$out"
prefix=$PWD/.gpu_deps/root
if compgen -G ".gpu_deps/*.deb" > /dev/null; then
  mkdir -p "$prefix"
  for f in .gpu_deps/*.deb; do dpkg -x "$f" "$prefix"; done
fi
lib=$prefix/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$lib:$lib/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
python=${PYTHON:-python3}
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' | tee "$out/device.txt"

build=${BUILD_DIR:-build-gpu}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBCP_WITH_ITK=OFF -DBCP_BUILD_BENCH=OFF \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr" \
  -DHDF5_INCLUDE_DIRS="$prefix/usr/include/hdf5/serial" \
  -DHDF5_LIBRARIES="$lib/hdf5/serial/libhdf5.so" \
  -DHDF5_CXX_LIBRARIES="$lib/hdf5/serial/libhdf5_cpp.so" \
  -DGTEST_ROOT="$prefix/usr" > "$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" > "$out/build.log" 2>&1 || { grep -m5 -A5 error "$out/build.log"; exit 1; }
echo "built $build (warnings: $(grep -c 'warning:' "$out/build.log" || true))"

# Multi-GPU training's NCCL backend, compiled (not linked, not run: one GPU here).
scripts/check_nccl.sh "$build" > "$out/nccl.log" 2>&1 && tail -1 "$out/nccl.log" ||
  { echo "NCCL compile check failed:"; grep -m5 error "$out/nccl.log" || tail -5 "$out/nccl.log"; }

# CUDA-relevant tests: each skips visibly without a GPU, and runs on one here.
"$build/bcp_tests" --gtest_filter='Cuda*:ComputeCopy*:ParallelDropout*:Bf16*:TrainStep*' \
  2>&1 | tee "$out/tests.log" | tail -5

bench() { "$build/bcp" bench "$@" --device cuda 2>/dev/null; }
bench step --dataset acdc --repeats 20 --json "$out/step_acdc.jsonl"
bench step --dataset la --repeats 10 --json "$out/step_la.jsonl"
bench infer --dataset la --repeats 3 --window-batch 8 --json "$out/infer_la.jsonl"
bench infer --dataset acdc --repeats 5 --json "$out/infer_acdc.jsonl"
