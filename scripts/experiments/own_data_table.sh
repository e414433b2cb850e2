#!/usr/bin/env bash
# The README's own-data table: the real ACDC (as 3-D volumes) and LA (as 2-D slices) exported as
# nnU-Net raw datasets (export_nnunet.py), prepared as a user would, then BCP against
# supervised-only with the same labels and the same wall-clock time (`--budget`), several seeds.
# Each run's best-on-selection checkpoint is scored on the report cases, which neither training
# nor selection sees (bcp score). Prints one line per run and the mean and standard deviation.
# Usage: scripts/experiments/own_data_table.sh KIND LABELED MINUTES [SEEDS...] (KIND acdc|la)
#   e.g. scripts/experiments/own_data_table.sh acdc 3 20 1 2 3   (work in $WORK, default /tmp/own)
# METHODS="bcp" or "supervised" runs one of them (two calls side by side with OMP_NUM_THREADS=1
# use two cores without contending for them: equal load, so equal budgets stay comparable).
# STEPS="PRE SELF" trains fixed steps at the plan's patch instead of the budget (MINUTES unused;
# supervised-only trains PRE + SELF in one stage), for comparisons that a loaded machine must
# not skew; SET="key=value ..." adds settings and TAG names such runs apart (runs TAG_METHOD_seedS).
set -euo pipefail
cd "$(dirname "$0")/../.."
kind=$1 labeled=$2 minutes=$3
shift 3
[ $# -gt 0 ] && seeds=("$@") || seeds=(1 2 3)
work=${WORK:-/tmp/own}/${kind}_${labeled}
bcp=${BCP:-build/bcp}
precision=${PRECISION:-fp32}  # bf16 pays only on CPUs with AVX512-BF16 or AMX
dim=$([ "$kind" = acdc ] && echo 3d || echo 2d)
data=../shared/data/$([ "$kind" = acdc ] && echo ACDC || echo LA)
[[ -z "${STEPS:-}" || "$STEPS" =~ ^[0-9]+\ [0-9]+$ ]] || { echo "STEPS must be \"PRE SELF\", got '$STEPS'" >&2; exit 2; }
read -ra extra <<< "${SET:-}"  # key=value words; a value must hold no space
mkdir -p "$work"
[ -f "$work/raw/dataset.json" ] || /usr/bin/python3 scripts/experiments/export_nnunet.py "$kind" "$data" "$work/raw" --labeled "$labeled"
[ -f "$work/root/bcp.json" ] || "$bcp" prepare --nnunet "$work/raw" --unlabeled "$work/raw/unlabeledTr" --dim "$dim" \
  --val-cases "$(cat "$work/raw/selection.txt")" --out "$work/root"
classes=$(/usr/bin/python3 -c "import json;print(len(json.load(open('$work/raw/dataset.json'))['labels']))")
# Equal wall-clock time (without STEPS): `bcp train --budget` plans each run's steps from this machine's speed,
# as a user would run it (BCP with the short-run recipe: equal stages, half resolution for large
# 2-D patches; supervised-only one stage). The budget holds training and validations.
for method in ${METHODS:-bcp supervised}; do
  for seed in "${seeds[@]}"; do
    run="$work/${TAG:+${TAG}_}${method}_seed$seed"
    [ -f "$run/score.json" ] && continue
    rm -rf "$run"
    start=$(date +%s)
    if [ -n "${STEPS:-}" ]; then
      read -r pre self <<< "$STEPS"
      [ "$method" = supervised ] && length=(--set schedule.pretrain_iters=0 schedule.selftrain_iters=$((pre + self))) \
        || length=(--set schedule.pretrain_iters=$pre schedule.selftrain_iters=$self)
    else
      length=(--budget "${minutes}m")
    fi
    "$bcp" train --config "$work/root/bcp.json" --data "$work/root" --out "$run" --no-eval "${length[@]}" \
      --set method=$method seed=$seed precision=$precision "${extra[@]}" \
      $([ "$method" = supervised ] && echo batch.unlabeled=0) > "$run.log" 2>&1
    # The steps the run took, from its config.json (BCP: pre-training + self-training; the
    # one-stage methods train schedule.selftrain_iters steps).
    steps=$(/usr/bin/python3 -c "import json;c=json.load(open('$run/config.json'));s=c['schedule'];print('+'.join(str(s[k]) for k in ('pretrain_iters','selftrain_iters') if s[k] > 0 and (c['method'] == 'bcp' or k == 'selftrain_iters')))")
    "$bcp" predict --model "$run/best.h5" --input "$work/raw/imagesTs" --out "$run/masks" >/dev/null
    "$bcp" score --pred "$run/masks" --ref "$work/raw/labelsTs" --classes "$classes" \
      --out "$run/score.json" >/dev/null
    echo "$kind labeled=$labeled ${TAG:+${TAG}_}$method seed=$seed steps=$steps wall_s=$(( $(date +%s) - start )) dice=$(/usr/bin/python3 -c "import json;print(json.load(open('$run/score.json'))['mean']['dice'])")"
  done
done | tee -a "$work/table.txt"
/usr/bin/python3 - "$work/table.txt" <<'PY'
import re, statistics, sys, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.search(r"(\S+) labeled=(\d+) (\S+) seed=\d+ .* dice=([\d.]+)", line)
    if m: d[m.group(1, 2, 3)].append(float(m.group(4)))
for k, v in sorted(d.items()):
    sd = statistics.stdev(v) if len(v) > 1 else float("nan")
    print(f"{k[0]} {k[1]} labeled {k[2]:<10} Dice {100*statistics.mean(v):.2f} +- {100*sd:.2f} ({len(v)} seeds)")
PY
