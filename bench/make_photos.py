#!/usr/bin/env python3
"""Phone-sized test photos for bench/photos.sh: 12-megapixel JPEGs (4032x3024) made from the shared datasets.

    bench/make_photos.py [--count 48] [--out bench/.cache/photos12mp]

Each photo is a shared-dataset image upscaled (bicubic) to 4032x3024 (landscape) with Gaussian grain of
sigma 6 added, saved at JPEG quality 92 with 4:2:0 subsampling, as a phone would. The grain matters: an
upscaled image without it is smooth, and its entropy decoding would cost far less than a real photo's.
Files land in class folders (the source's class), so featx extract and torchvision ImageFolder read the
same tree. Seeded (numpy RandomState(0)): rerunning makes identical files.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

bench_env.ensure_python()

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=48)
    ap.add_argument("--out", default=os.path.join(bench_env.BENCH, ".cache", "photos12mp"))
    ap.add_argument("--source", default=bench_env.dataset("flower_photos_small"))
    args = ap.parse_args()
    files = sorted(
        os.path.join(root, f) for root, _, names in os.walk(args.source) for f in names if f.lower().endswith((".jpg", ".jpeg", ".png")))
    step = max(1, len(files) // args.count)
    rng = np.random.RandomState(0)
    made = 0
    for path in files[::step][: args.count]:
        cls = os.path.basename(os.path.dirname(path))
        os.makedirs(os.path.join(args.out, cls), exist_ok=True)
        target = os.path.join(args.out, cls, os.path.splitext(os.path.basename(path))[0] + ".jpg")
        if os.path.exists(target):
            made += 1
            continue
        image = Image.open(path).convert("RGB").resize((4032, 3024), Image.BICUBIC)
        pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (3024, 4032, 3)).astype(np.float32)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(target, quality=92, subsampling=2)
        made += 1
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out) for f in fs)
    print(f"{made} photos of 4032x3024 in {args.out} ({size / made / 1e6:.1f} MB each)")


if __name__ == "__main__":
    main()
