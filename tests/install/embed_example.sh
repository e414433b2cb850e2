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
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$source_dir/examples/embed" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/build" >/dev/null
out=$("$work/build/segment")
echo "$out"
grep -q "^bcp [0-9]*\.[0-9]*\.[0-9]*: predicted" <<<"$out"
"$work/prefix/bin/bcp" --version
