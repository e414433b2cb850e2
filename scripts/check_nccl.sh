#!/usr/bin/env bash
# Compiles the NCCL backend of multi-process training (src/distributed/distributed.cpp with
# BCP_WITH_NCCL) against the LibTorch a build folder was configured with, without linking: a
# CPU-only LibTorch (Debian's) ships ProcessGroupNCCL.hpp but no CUDA library to link, so this is
# how its NCCL path is checked on a machine without a GPU.
#   scripts/check_nccl.sh [BUILD_DIR]      (default build/; needs a CUDA toolkit's headers)
# CUDA_HOME (default /usr/local/cuda) gives cuda_runtime.h; NCCL_INCLUDE the folder of nccl.h
# (default: CUDA's include folder, then PyPI's nvidia-nccl package when python3 has it).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cuda=${CUDA_HOME:-/usr/local/cuda}
[[ -f "$cuda/include/cuda_runtime.h" ]] || { echo "check_nccl: no CUDA headers in $cuda/include (set CUDA_HOME)" >&2; exit 2; }
nccl=${NCCL_INCLUDE:-}
if [[ -z "$nccl" ]]; then
  if [[ -f "$cuda/include/nccl.h" ]]; then
    nccl=$cuda/include
  else
    nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)
  fi
fi
[[ -n "$nccl" && -f "$nccl/nccl.h" ]] || { echo "check_nccl: nccl.h not found (set NCCL_INCLUDE)" >&2; exit 2; }
[[ -f "$build/compile_commands.json" ]] || { echo "check_nccl: configure $build first (no compile_commands.json)" >&2; exit 2; }

shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
# A CPU-only LibTorch lacks the header its CUDA build generates; its one macro is for Windows DLLs.
mkdir -p "$shim/c10/cuda/impl"
printf '#pragma once\n' > "$shim/c10/cuda/impl/cuda_cmake_macros.h"

command=$(python3 - "$build/compile_commands.json" <<'EOF'
import json, shlex, sys
for entry in json.load(open(sys.argv[1])):
    if entry["file"].endswith("src/distributed/distributed.cpp"):
        args = shlex.split(entry["command"])
        out = []
        skip = False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-o", "-c"):
                skip = True
                continue
            out.append(a)
        print(shlex.join(out + ["-fsyntax-only", entry["file"]]))
        break
else:
    sys.exit("check_nccl: src/distributed/distributed.cpp is not in compile_commands.json")
EOF
)
cd "$build"
# The shim goes last, so a CUDA LibTorch's own generated header wins.
eval "$command" -DBCP_WITH_NCCL=1 -DUSE_C10D_NCCL=1 -isystem "$cuda/include" -isystem "$nccl" \
  -idirafter "$shim"
echo "check_nccl: src/distributed/distributed.cpp compiles with NCCL against the LibTorch of $build"
