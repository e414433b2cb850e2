#!/usr/bin/env bash
# Fuzzes bcp's parsers of untrusted input (a .pth's pickle, configs, split lists, the eval
# protocol record) with libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer: builds
# them with clang into build-fuzz/, then runs each target for SECONDS (default 60) starting from
# the committed corpus (fuzz/corpus/) plus, when ../shared is there, the pickles of the parity
# checkpoints. Findings land in build-fuzz/crashes/<target>/; add the fixed ones to
# fuzz/corpus/<target>/ so the test suite (FuzzCorpus) replays them for good.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(pickle config case_list eval_protocol)
command -v clang++ >/dev/null || { echo "fuzz.sh: needs clang (Debian: apt install clang)"; exit 1; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DBCP_FUZZ=ON -DBCP_BUILD_TESTS=OFF -DBCP_BUILD_BENCH=OFF \
  -DBCP_TCMALLOC=OFF -DBCP_WITH_ITK=OFF >/dev/null  # Debian's ITK headers accept only GCC
cmake --build build-fuzz -j "$(nproc)" $(printf -- '--target fuzz_%s ' "${targets[@]}")
# LibTorch is not built with the sanitizers: its allocator pairs and duplicate globals are not ours.
export ASAN_OPTIONS=alloc_dealloc_mismatch=0:detect_odr_violation=0:detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus" "build-fuzz/crashes/$t"
  cp fuzz/corpus/"$t"/* "$corpus"/
  if [ "$t" = pickle ] && [ -d ../shared/parity/checkpoints ]; then
    python3 - "$corpus" ../shared/parity/checkpoints/*.pth <<'PY'
import pathlib, sys, zipfile
out = pathlib.Path(sys.argv[1])
for pth in sys.argv[2:]:
    try:
        with zipfile.ZipFile(pth) as z:
            for name in z.namelist():
                if name.endswith("data.pkl"):
                    (out / ("shared_" + pathlib.Path(pth).stem)).write_bytes(z.read(name))
    except zipfile.BadZipFile:
        pass
PY
  fi
  echo "== fuzz_$t for ${seconds}s"
  if ! build-fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="build-fuzz/crashes/$t/" -print_final_stats=1 "$corpus" 2>&1 |
      grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|ERROR|SUMMARY|crash-|timeout-|oom-"; then
    :
  fi
  if ls build-fuzz/crashes/"$t"/* >/dev/null 2>&1; then
    echo "fuzz_$t: findings in build-fuzz/crashes/$t/"
    status=1
  fi
done
exit $status
