#!/usr/bin/env bash
# Checks that a refactoring kept training bit-identical: trains the same four tiny fixed-seed runs
# (ACDC BCP, Mean Teacher, supervised; LA BCP) with two bcp binaries and compares every
# checkpoint they write, tensor by tensor and attribute by attribute (h5diff).
# Usage: scripts/same_weights.sh OLD_BCP NEW_BCP [WORKDIR]   (e.g. a copy of build/bcp made before)
# A change that adds config keys (the checkpoints' JSON metadata then differs by them) names them,
# dotted, in NEW_KEYS="config.net ..."; the metadata is then compared without those keys and every
# tensor as before.
set -euo pipefail
old=$1 new=$2 work=${3:-$(mktemp -d)}
mkdir -p "$work"
"$new" synth --kind acdc --out "$work/acdc" --cases 6 --val 2 >/dev/null
"$new" synth --kind la --out "$work/la" --cases 4 --val 1 >/dev/null
train() {  # BINARY OUT
  local b=$1 o=$2 common="--no-eval --set threads=1 --set schedule.log_every=2"
  local acdc="$common --data $work/acdc --set data.patch=[64,64] --set data.labeled=8"
  acdc+=" --set batch.labeled=4 --set batch.unlabeled=4 --set schedule.val_every=3"
  "$b" train --preset acdc-5-bcp $acdc --set schedule.pretrain_iters=5 \
    --set schedule.selftrain_iters=5 --out "$o/acdc_bcp" >/dev/null
  "$b" train --preset acdc-5-mean-teacher $acdc --set schedule.selftrain_iters=5 \
    --out "$o/acdc_mt" >/dev/null
  "$b" train --preset acdc-5-supervised $acdc --set schedule.selftrain_iters=5 \
    --out "$o/acdc_sup" >/dev/null
  "$b" train --preset la-10-bcp $common --data "$work/la" --set data.patch=[32,32,32] \
    --set data.labeled=2 --set batch.labeled=2 --set batch.unlabeled=2 --set schedule.val_every=2 \
    --set schedule.pretrain_iters=3 --set schedule.selftrain_iters=3 --set eval.stride=[16,16,16] \
    --out "$o/la_bcp" >/dev/null
}
train "$old" "$work/old"
train "$new" "$work/new"
status=0 files=0
for f in $(cd "$work/old" && find . -name '*.h5' | sort); do
  files=$((files + 1))
  if [ -z "${NEW_KEYS:-}" ]; then
    h5diff -q "$work/old/$f" "$work/new/$f" && same=1 || same=0
  else
    same=0
    h5diff -q --exclude-path /bcp_archive/meta "$work/old/$f" "$work/new/$f" &&
      /usr/bin/python3 - "$work/old/$f" "$work/new/$f" "$NEW_KEYS" <<'PY' && same=1
import json, sys, h5py
def meta(path):
    with h5py.File(path, "r") as f:
        m = json.loads(bytes(f["bcp_archive/meta"][()]).decode())
    for key in sys.argv[3].split():
        *parents, last = key.split(".")
        node = m
        for p in parents:
            node = node.get(p, {})
        node.pop(last, None)
    return m
sys.exit(0 if meta(sys.argv[1]) == meta(sys.argv[2]) else 1)
PY
  fi
  if [ "$same" = 1 ]; then echo "same: $f"; else echo "DIFFERENT: $f"; status=1; fi
done
[ "$files" -gt 0 ] || { echo "no checkpoints written"; exit 1; }
exit $status
