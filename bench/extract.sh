#!/usr/bin/env bash
# End-to-end extraction of a shared dataset: featx extract beside the PyTorch pipeline (torchvision
# ImageFolder + DataLoader with 2 workers, eager), plus featx's forward-only speed for the same backbone,
# all in one session. Usage: bench/extract.sh [DATASET] [LIMIT]
# DATASET defaults to $FEATX_DATASETS/cub_birds50 (FEATX_DATASETS: ../shared/datasets beside the repository).
# Runs bench/setup first (the venv in .cache/bench-venv and .build/release/featx, each made only if missing);
# FEATX_BENCH_PYTHON and FEATX_BIN override the Python and the featx binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/setup
data=${1:-${FEATX_DATASETS:-../shared/datasets}/cub_birds50}
limit=${2:-0}
py=${FEATX_BENCH_PYTHON:-.cache/bench-venv/bin/python}
featx=${FEATX_BIN:-.build/release/featx}
mkdir -p bench/.cache
echo "load: $(cat /proc/loadavg)"
for spec in "densenet121 seed bird" "resnet50 imagenet imagenet"; do
  set -- $spec
  arch=$1 preset=$2 torch_preset=$3
  echo "== $arch ($preset preset)"
  $featx bench --arch "$arch" --batch 32 --threads 2 --seconds 10
  /usr/bin/time -f "featx extract: %e s wall, peak RSS %M KB" \
    $featx extract "$data" -o "bench/.cache/featx-$arch.h5" --arch "$arch" --weights random --preset "$preset" --overwrite --quiet \
    | grep "img/s"
  args=(--dataset "$data" --arch "$arch" --preset "$torch_preset" --workers 2 --threads 2)
  [ "$limit" -gt 0 ] && args+=(--limit "$limit")
  $py bench/extract_pytorch.py "${args[@]}" | grep -E "img/s|RSS" | tail -3
done
