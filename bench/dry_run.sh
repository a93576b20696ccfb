#!/usr/bin/env bash
# `featx extract --dry-run` on an ImageNet-sized tree: 1 281 167 empty .JPEG files in 1000 class folders
# (ImageNet's train counts: 1300 per class but 732 in a few; here 1281 or 1282 each), made once in
# bench/.cache/imagenet-tree. The plan walks, splits and cuts shards without decoding: this measures the
# walk + split + plan time and the peak memory (/usr/bin/time -v), plus the one-batch time estimate.
#
#   bench/dry_run.sh            # resnet50 with random weights, --shard 0/16
set -euo pipefail
cd "$(dirname "$0")/.."
featx=${FEATX_BIN:-.build/release/featx}
tree=bench/.cache/imagenet-tree
if [ ! -f "$tree.complete" ]; then
  echo "making $tree (1 281 167 empty files; once)"
  python3 - "$tree" <<'PY'
import os, sys
root = sys.argv[1]
total, classes = 1281167, 1000
for c in range(classes):
    folder = os.path.join(root, f"n{c:08d}")
    os.makedirs(folder, exist_ok=True)
    count = total // classes + (1 if c < total % classes else 0)
    for i in range(count):
        open(os.path.join(folder, f"n{c:08d}_{i}.JPEG"), "wb").close()
open(root + ".complete", "w").close()
PY
fi
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M kB" \
  "$featx" extract "$tree" -o bench/.cache/imagenet-plan.h5 --arch resnet50 --weights random --shard 0/16 --dry-run 2>&1 \
  | grep -v "^  [0-9]*/16" | grep -v WARNING
# The walk alone, without the one-batch estimate: the same plan for a tiny backbone input.
/usr/bin/time -f "walk + split + plan with resnet18 at 32 px: wall %e s, peak RSS %M kB" \
  "$featx" extract "$tree" -o bench/.cache/imagenet-plan.h5 --arch resnet18 --weights random --resize 32,32 --crop none \
  --shard 0/16 --dry-run 2>&1 | grep -E "wall|files"
