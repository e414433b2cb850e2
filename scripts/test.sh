#!/usr/bin/env bash
# The README's test command (what CI runs): installs the dependencies, builds bcp against both
# LibTorch builds it supports and runs the suite under CTest.
#   - LibTorch 2.13 from PyTorch's wheel (scripts/install_torch.sh; build-torch/): every test.
#   - Debian's LibTorch 1.13 (libtorch-dev; build/): built while the first suite runs (the suite
#     leaves about a third of the CPU idle), then every test but the long end-to-end ones (what
#     runs the same code above LibTorch: whole training runs, the CLI tours, the benchmarks),
#     which run once, above.
# BCP_TEST_BUILDS=torch2 or debian runs one of them alone (all its tests).
set -euo pipefail
cd "$(dirname "$0")/.."
builds=${BCP_TEST_BUILDS:-torch2 debian}
# Where CI's time goes (CI runs close to its 25-minute budget on 2 cores).
phase() { echo "== $(date +%T) +${SECONDS}s: $*"; }
scripts/install_deps.sh
phase "dependencies present"
jobs=$(nproc)
# InstallAndEmbed runs on both: finding LibTorch from an installed bcp differs between them.
long='^(CliOwnData|CliBudget|DocsCommands|Demo|Datasets/CliDatasetMatrix|CliBench|Evaluate|Predict|TrainStep|CliReport|CliKde)(\.|$)'
logs=$(mktemp -d "${TMPDIR:-/tmp}/bcp_test_XXXXXX")
run_suite() {  # build folder, log name, ctest arguments...
  local dir=$1 name=$2
  shift 2
  ${nice:-} ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 1200 "$@" \
    > "$logs/$name.log" 2>&1
}
# Each skipped test after the reason it gave (CTest's log; a suite counts as skipped only when all
# of its tests did).
list_skipped() {  # build folder, title
  echo "==== skipped, $2 (each after its reason: every line from GoogleTest's 'Skipped')"
  awk '/: Skipped$/ { reason = ""; keep = 1; next }
       /^\[  SKIPPED \] .+ \([0-9]+ ms\)$/ { printf "%s%s\n", reason, $0; reason = ""; found = 1; keep = 0; next }
       /^\[ / { keep = 0 }
       keep { reason = reason $0 "\n" }
       END { if (!found) print "(none)" }' "$1/Testing/Temporary/LastTest.log" 2>/dev/null ||
    echo "(no test log)"
}
status=0
if [[ $builds == *torch2* ]]; then
  torch=$(scripts/install_torch.sh 2.13.0)
  BCP_TORCH=$torch BUILD_DIR=build-torch scripts/build.sh bcp_cli bcp_tests
  phase "built against LibTorch 2.13"
  { run_suite build-torch torch2 && rc=0 || rc=$?; phase "LibTorch 2.13 suite done" >> "$logs/phases"; exit $rc; } &
  suite=$!
  if [[ $builds == *debian* ]]; then
    # At low priority: the suite above keeps its pace, the build takes the idle cycles.
    if nice -n 10 scripts/build.sh bcp_cli bcp_tests bcp_bench > "$logs/debian_build.log" 2>&1; then
      phase "built against LibTorch 1.13" >> "$logs/phases"
      nice="nice -n 10" run_suite build debian -E "$long" || status=1
      phase "LibTorch 1.13 suite done" >> "$logs/phases"
    else
      cat "$logs/debian_build.log"
      status=1
    fi
  fi
  wait $suite || status=1
  cat "$logs/phases" 2>/dev/null | sort -t+ -k2 -n || true
  echo "==== LibTorch 2.13 (PyTorch wheel): every test"; cat "$logs/torch2.log"
  list_skipped build-torch "LibTorch 2.13"
  [[ $builds == *debian* ]] && [ -f "$logs/debian.log" ] &&
    { echo "==== LibTorch 1.13 (Debian): all but the long tests, which ran above"; cat "$logs/debian.log"
      list_skipped build "LibTorch 1.13"; }
elif [[ $builds == *debian* ]]; then
  scripts/build.sh bcp_cli bcp_tests
  run_suite build debian || status=1
  cat "$logs/debian.log"
  list_skipped build "LibTorch 1.13"
fi
rm -rf "$logs"
phase "done"
exit $status
