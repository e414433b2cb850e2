#!/usr/bin/env bash
# Foreground oversampling on synthetic 3-D volumes larger than the patch: 96x96x64 voxels, 3
# classes (5.5 % foreground), 4 labeled volumes, a 32^3 patch (1/18 of a volume, as LA's
# 112x112x80 crops are about 1/9 of its 288x288x88 volumes), supervised-only, fixed steps,
# data.foreground_oversample 0.33 (the 3-D plan's) against 0, seeds 1-3; each run's best.h5 (on
# 2 selection volumes) is scored on 6 test volumes. One core a run.
# Usage: scripts/experiments/oversampling_synth3d.sh [WORK]   (default /tmp/syn3; STEPS, default 300)
set -euo pipefail
cd "$(dirname "$0")/../.."
bcp=${BCP:-$PWD/build/bcp}
work=${1:-/tmp/syn3}
mkdir -p "$work" && cd "$work"
[ -f raw/dataset.json ] || "$bcp" synth --format nnunet --kind la --classes 3 --cases 6 --unlabeled 6 \
  --test 6 --seed 5 --size 96 96 64 --spacing 1,1,1 --out raw > /dev/null
[ -f root/bcp.json ] || "$bcp" prepare --nnunet raw --unlabeled raw/unlabeledTr --dim 3d --val-fraction 0.34 --out root > /dev/null
for seed in 1 2 3; do for share in 0.33 0; do
  run=sup_os${share}_s$seed
  [ -f $run/score.json ] && continue
  rm -rf $run
  OMP_NUM_THREADS=1 "$bcp" train --config root/bcp.json --data root --out $run --no-eval --set method=supervised \
    batch.unlabeled=0 schedule.pretrain_iters=0 schedule.selftrain_iters=${STEPS:-300} schedule.val_every=50 \
    schedule.checkpoint_every=50 data.patch=[32,32,32] eval.stride=[16,16,16] seed=$seed \
    data.foreground_oversample=$share > $run.log 2>&1
  "$bcp" predict --model $run/best.h5 --input raw/imagesTs --out $run/masks > /dev/null
  "$bcp" score --pred $run/masks --ref raw/labelsTs --classes 3 --out $run/score.json > /dev/null
  echo "share=$share seed=$seed test_dice=$(/usr/bin/python3 -c "import json;print(json.load(open('$run/score.json'))['mean']['dice'])") $(grep -o 'best val mean Dice [0-9.]* at iteration [0-9]*' $run/log.txt)"
done; done | tee -a table.txt
