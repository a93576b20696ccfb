#!/usr/bin/env bash
# Probe accuracy on bfloat16 features beside float32 ones (issue #13: within 1 point on both shared
# datasets). Extracts each dataset twice with the same backbone (f32, then bf16), trains the default
# probe on each store with a float32 Gram matrix (so that only the features' precision differs), and
# prints the test top-1 of both.
# Usage: bench/bf16_accuracy.sh [ARCH] [WEIGHTS]   (defaults: densenet121, auto = torchvision's file if present,
#        else seeded random weights, said loudly). Needs a CPU with AVX512_BF16 or AMX.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/setup
arch=${1:-densenet121}
weights=${2:-auto}
featx=${FEATX_BIN:-.build/release/featx}
out=bench/.cache/bf16-accuracy
mkdir -p "$out"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cat /proc/loadavg)"
printf '| dataset | rows (test) | f32 top-1 | bf16 top-1 | difference (points) |\n|---|---:|---:|---:|---:|\n'
for dataset in cub_birds50 flower_photos_small; do
  declare -A top1=()
  for precision in f32 bf16; do
    store="$out/$dataset-$arch-$precision.h5"
    "$featx" extract "../shared/datasets/$dataset" -o "$store" --arch "$arch" --weights "$weights" --preset seed \
      --precision "$precision" --overwrite --quiet 2>/dev/null
    rm -f "$out/head-$dataset-$precision.h5"
    line=$("$featx" probe "$store" -o "$out/head-$dataset-$precision.h5" --gram f32 2>/dev/null | grep '^test ')
    top1[$precision]=$(echo "$line" | awk '{print $3}')
    rows=$(echo "$line" | awk '{print $2}')
  done
  awk -v d="$dataset" -v r="$rows" -v a="${top1[f32]}" -v b="${top1[bf16]}" \
    'BEGIN { printf "| %s | %d | %.4f | %.4f | %+.2f |\n", d, r, a, b, 100 * (b - a) }'
done
