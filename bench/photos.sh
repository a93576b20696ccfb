#!/usr/bin/env bash
# 12-megapixel photos end to end (issue #13): featx extract (exact decoding, and --draft when it exists)
# beside torchvision ImageFolder + DataLoader(2 workers), and featx's forward-only speed, in one session.
# Usage: bench/photos.sh [COUNT] [ARCH]     (defaults: 48 photos made by bench/make_photos.py, resnet50)
set -euo pipefail
cd "$(dirname "$0")/.."
bench/setup
count=${1:-48}
arch=${2:-resnet50}
py=${FEATX_BENCH_PYTHON:-.cache/bench-venv/bin/python}
featx=${FEATX_BIN:-.build/release/featx}
photos=bench/.cache/photos12mp
$py bench/make_photos.py --count "$count" --out "$photos"
echo "load: $(cat /proc/loadavg)"
$featx bench --arch "$arch" --batch 32 --threads 2 --seconds 10
/usr/bin/time -f "featx extract (exact): %e s wall, peak RSS %M KB" \
  $featx extract "$photos" -o bench/.cache/photos-featx.h5 --arch "$arch" --weights random --overwrite --quiet | grep "img/s"
if $featx extract --help | grep -q -- "--draft"; then
  /usr/bin/time -f "featx extract --draft: %e s wall, peak RSS %M KB" \
    $featx extract "$photos" -o bench/.cache/photos-featx-draft.h5 --arch "$arch" --weights random --draft --overwrite --quiet \
    | grep "img/s"
fi
$py bench/extract_pytorch.py --dataset "$photos" --arch "$arch" --preset imagenet --workers 2 --threads 2 | grep -E "img/s|RSS" | tail -3
