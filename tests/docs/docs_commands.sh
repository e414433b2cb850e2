#!/usr/bin/env bash
# Runs the commands the documentation shows, so that the docs cannot rot: every fenced block
# opened with ```sh docs-test in README.md and docs/*.md, in order, each block in a fresh temporary
# folder, every command as written but for:
#   - `bcp` (or ./build/bcp, ./build-torch/bcp) is the bcp built with this test;
#   - a setup step (scripts/install_deps.sh, scripts/build.sh) is checked, not run: the script
#     must exist, be executable and parse (`bash -n`), since CI has just run both;
#   - `bcp demo` gets --pretrain-iters 20 --selftrain-iters 20 (the demo itself: `Demo.*`).
# A command that exits non-zero fails the test with the file, the block's line and the output.
#   tests/docs/docs_commands.sh BCP SOURCE_DIR
set -euo pipefail
bcp=$(realpath "$1")
src=$(realpath "$2")
work=$(mktemp -d "${TMPDIR:-/tmp}/bcp_docs_XXXXXX")
trap 'rm -rf "$work"' EXIT

# Prints each docs-test block as "FILE:LINE<TAB>command" lines (continuations joined, comments and
# blank lines dropped), blocks separated by a line "--".
extract() {
  awk -v file="$1" '
    /^```sh docs-test[[:space:]]*$/ { inblock = 1; cmd = ""; next }
    inblock && /^```/ { inblock = 0; print "--"; next }
    inblock {
      line = $0
      if (cmd == "") { if (line ~ /^[[:space:]]*(#|$)/) next; start = NR }
      if (line ~ /\\$/) { sub(/\\$/, "", line); cmd = cmd line; next }
      cmd = cmd line
      print file ":" start "\t" cmd
      cmd = ""
    }' "$1"
}

ran=0
block=0
run_block() {  # lines of one block on stdin
  block=$((block + 1))
  local dir=$work/block$block
  mkdir -p "$dir"
  while IFS=$'\t' read -r where cmd; do
    local parts=()
    # A quick-start line chains setup && run: check the setup, run the rest.
    while IFS= read -r part; do parts+=("$part"); done < <(sed 's/ && /\n/g' <<< "$cmd")
    for part in "${parts[@]}"; do
      part=$(sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//' <<< "$part")
      if [[ $part =~ ^scripts/(install_deps|build)\.sh ]]; then
        script=$src/${part%% *}
        [ -x "$script" ] && bash -n "$script" ||
          { echo "$where: $script is missing, not executable or does not parse"; exit 1; }
        continue
      fi
      part=$(sed -E 's#^(\./build(-torch)?/)?bcp #"$BCP" #' <<< "$part")
      [[ $part == '"$BCP" demo '* ]] && part+=" --pretrain-iters 20 --selftrain-iters 20"
      echo "== $where: $part"
      if ! (cd "$dir" && BCP=$bcp BCP_PROGRESS=0 bash -c "$part") > "$dir/out.txt" 2>&1; then
        cat "$dir/out.txt"
        echo "$where: this documented command failed"
        exit 1
      fi
      tail -3 "$dir/out.txt"
      ran=$((ran + 1))
    done
  done
}

for f in "$src/README.md" "$src"/docs/*.md; do
  lines=()
  while IFS= read -r l; do
    if [ "$l" = "--" ]; then
      run_block < <(printf '%s\n' "${lines[@]}")
      lines=()
    else
      lines+=("$l")
    fi
  done < <(extract "$f")
done
# A docs change that drops every marked block must not pass silently.
[ "$block" -ge 2 ] || { echo "found $block docs-test blocks; expected the quick start and the own-data tutorial"; exit 1; }
echo "docs: $ran commands of $block blocks ran"
