#!/usr/bin/env bash
# Issue 27's table: bcp's training step and inference on two LibTorch builds and the authors' ACDC
# self-training step on PyTorch 2.x, all in one run, interleaved (A B C, A B C, ...) so that a
# noisy machine hurts every side alike. Prints median and minimum per row and the ratios.
#   scripts/experiments/torch_versions_bench.sh OLD_BCP NEW_BCP TORCH_PYTHON OUT [ROUNDS]
# e.g. scripts/experiments/torch_versions_bench.sh build/bcp build-torch/bcp \
#        /opt/bcp/torch-2.13.0/bin/python bench/results/torch_versions 3
# OLD_BCP/NEW_BCP: two bcp binaries (say LibTorch 1.13 and 2.13); TORCH_PYTHON: a Python whose
# torch runs scripts/experiments/authors_step.py (it needs numpy and scikit-image beside torch).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 4 ] || { sed -n 2,9p "$0"; exit 2; }
old=$1 new=$2 py=$3 out=$4 rounds=${5:-3}
mkdir -p "$out"
for b in "$old" "$new"; do "$b" --version > /dev/null; done
"$py" -c 'import torch, numpy, skimage' || { echo "$py: needs torch, numpy, scikit-image" >&2; exit 2; }
for round in $(seq "$rounds"); do
  for side in old new authors; do
    case $side in
      authors)
        "$py" scripts/experiments/authors_step.py --steps 10 --warmup 2 --json "$out/authors.jsonl" |
          tail -1 ;;
      *)
        bin=$old; [ "$side" = new ] && bin=$new
        for dataset in acdc la; do
          # --json replaces its file: one file per call, gathered by the table script.
          for kind in step infer; do
            "$bin" bench "$kind" --dataset "$dataset" --precision all \
              --json "$out/$side.$kind.$dataset.$round.jsonl" | grep "^|"
          done
        done ;;
    esac
  done
  echo "round $round of $rounds done"
done
{ echo "old: $("$old" info | tr "\n" " ")"; echo "new: $("$new" info | tr "\n" " ")"
  echo "authors: $("$py" -c 'import torch; print("torch", torch.__version__)')"; } > "$out/versions.txt"
python3 scripts/experiments/torch_versions_table.py "$out" | tee "$out/table.md"
