#!/usr/bin/env bash
# CTest InstallAndEmbed: `cmake --install` into a fresh temporary prefix, then configure, build and
# run examples/embed against the installed package only (find_package(bcp)).
set -euo pipefail
build_dir=$1 source_dir=$2 cxx=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/bcp_install_XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/bcp/version.h"
test -f "$work/prefix/lib/cmake/bcp/bcpConfig.cmake" || test -f "$work"/prefix/lib*/cmake/bcp/bcpConfig.cmake
# Only the public API is installed (networks, checkpoints, configs, training, evaluation,
# prediction, metrics and what they include), not the benchmarks' or the trainer's parts.
test -f "$work/prefix/include/bcp/train/trainer.h"
test ! -e "$work/prefix/include/bcp/bench/bench.h"
test ! -e "$work/prefix/include/bcp/train/steps.h"
# The package names its dependencies as targets, not as this machine's library files.
if grep -nE '(^|[;"])/[^;"]*\.(so|a)([;"]|$)' "$work"/prefix/lib*/cmake/bcp/bcpTargets*.cmake; then
  echo "the exported package carries absolute library paths" >&2
  exit 1
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Paths relative to the temporary folder (the example copied into it), so that ccache hits what an
# earlier run compiled: each run's folder has another name.
export CCACHE_BASEDIR=$work
cp -r "$source_dir/examples/embed" "$work/embed"
cmake -S "$work/embed" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/build" >/dev/null
# Every installed header compiles with only the installed ones beside it.
mkdir -p "$work/headers"
(cd "$work/prefix/include" && find bcp -name '*.h' | sort | sed 's/.*/#include <&>/') \
  >"$work/headers/all.cpp"
cat >"$work/headers/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(bcp_installed_headers LANGUAGES C CXX)
find_package(bcp REQUIRED)
add_library(all_headers OBJECT all.cpp)
target_link_libraries(all_headers PRIVATE bcp::bcp)
EOF
cmake -S "$work/headers" -B "$work/headers/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/headers/build" >/dev/null
out=$("$work/build/segment")
echo "$out"
grep -q "^bcp [0-9]*\.[0-9]*\.[0-9]*: predicted" <<<"$out"
"$work/prefix/bin/bcp" --version
