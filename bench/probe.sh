#!/usr/bin/env bash
# featx probe against the bird workflow's PyTorch probe, in the same session:
#  1. speed of the seed recipe (Adam, batch 64) per epoch on features of the seed's shape
#     (9430 train + 2358 test rows x 50176 values, 200 classes; random values),
#  2. time-to-accuracy on real features: how long featx's default solver takes to reach the test accuracy
#     the PyTorch recipe ends with after 50 epochs (STORE, default .cache/demo/birds.h5 from scripts/demo).
# Usage: bench/probe.sh [EPOCHS] [STORE]
# Runs bench/setup first (the venv in .cache/bench-venv and .build/release/featx, each made only if missing);
# FEATX_BENCH_PYTHON and FEATX_BIN override the Python and the featx binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/setup
epochs=${1:-3}
store=${2:-.cache/demo/birds.h5}
py=${FEATX_BENCH_PYTHON:-.cache/bench-venv/bin/python}
featx=${FEATX_BIN:-.build/release/featx}
mkdir -p bench/.cache
[ -f bench/.cache/seed-size.h5 ] || $py bench/make_random_store.py -o bench/.cache/seed-size.h5
echo "cpu: $($py -c 'import sys; sys.path.insert(0, "bench"); import bench_env; print(bench_env.cpu_model())')"
echo "load: $(cat /proc/loadavg)"

echo "== 1. seed recipe, $epochs epochs, seed-size features"
$featx probe bench/.cache/seed-size.h5 -o bench/.cache/seed-size-head.h5 --recipe seed --epochs "$epochs" --json \
  > bench/.cache/featx-seed-recipe.json
$py - <<'PY'
import json; r = json.load(open("bench/.cache/featx-seed-recipe.json")); s = [p["seconds"] for p in r["history"]]
per = [b - a for a, b in zip([0] + s, s)]
print(f"featx: seconds per epoch {', '.join(f'{x:.2f}' for x in per)}; mean {sum(per) / len(per):.2f}; 50 epochs ≈ {50 * sum(per) / len(per):.0f} s")
PY
$py bench/seed_recipe.py --features bench/.cache/seed-size.h5 --epochs "$epochs" | tail -3

if [ -f "$store" ]; then
  echo "== 2. time to the PyTorch recipe's final test accuracy on $store"
  $py bench/seed_recipe.py --features "$store" --epochs 50 --json bench/.cache/torch-50.json | tail -3
  $featx probe "$store" -o bench/.cache/store-head.h5 --json > bench/.cache/featx-default.json
  $py - "$store" <<'PY'
import json
t = json.load(open("bench/.cache/torch-50.json"))
target = t["epochs"][-1]["test_accuracy"]
torch_seconds = t["total_s"]
r = json.load(open("bench/.cache/featx-default.json"))
hit = next((p for p in r["history"] if (p.get("test_accuracy") or 0) >= target), None)
print(f"PyTorch recipe: final test accuracy {target:.4f} after {torch_seconds:.1f} s")
print(f"featx default: final test accuracy {r['test']['top1']:.4f} in {r['seconds']:.1f} s;",
      f"reached {target:.4f} after {hit['seconds']:.1f} s" if hit else "never reached it")
PY
fi
