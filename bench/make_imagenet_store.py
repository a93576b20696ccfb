#!/usr/bin/env python3
"""Writes a synthetic feature store shaped like ResNet-50 features of ImageNet (issue 24, section 3):
1 281 167 train rows + 50 000 test rows of 2048 float16 values, 1000 classes, for `featx probe` at scale
(bench/imagenet_probe.sh) and for the PyTorch anchor (bench/imagenet_probe_pytorch.py).

Rows are class means plus noise. The noise is correlated, as real features are: a few strong shared
directions (a random [64, D] loading matrix) over a per-feature spread that decays like a feature spectrum,
so neither a nearest-class-mean rule nor a per-feature rescaling solves it, and plain minibatch Adam takes
epochs. --scale sets how far apart the class means are (0.014: see bench/README.md for the accuracies it gives).
Train rows come first, then test rows, split = 0 / 1; rows are written in class-interleaved random order.

    bench/make_imagenet_store.py -o bench/.cache/imagenet-sized.h5            # 5.4 GB, about 3 min
    bench/make_imagenet_store.py -o small.h5 --train 128116 --test 5000       # a tenth, for quick runs

Runs in the bench venv (.cache/bench-venv, made by bench/setup on first use).
"""
import argparse
import time

import bench_env

bench_env.ensure_python()

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from make_random_store import write_store  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--train", type=int, default=1281167)
    p.add_argument("--test", type=int, default=50000)
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--scale", type=float, default=0.014)
    p.add_argument("--seed", type=int, default=24)
    a = p.parse_args()
    started = time.time()
    rng = np.random.RandomState(a.seed)
    d, c = a.dim, a.classes
    means = rng.standard_normal((c, d)).astype(np.float32) * a.scale
    spread = (np.sqrt(20.0) / np.sqrt(np.arange(d) + 20.0)).astype(np.float32)[rng.permutation(d)]
    loadings = (rng.standard_normal((64, d)) * 0.01).astype(np.float32)
    n = a.train + a.test
    labels = rng.randint(0, c, n).astype(np.int64)
    split = np.zeros(n, np.uint8)
    split[a.train:] = 1

    def block(start: int, count: int) -> np.ndarray:
        y = labels[start:start + count]
        x = rng.standard_normal((count, d)).astype(np.float32) * spread
        x += rng.standard_normal((count, 64)).astype(np.float32) @ loadings
        x += means[y]
        return x

    write_store(a.output, labels, split, d, c, block, split_mode="random", split_seed=a.seed,
                split_ratio=a.train / n, dtype="<f2")
    print(f"wrote {a.output}: {a.train} train + {a.test} test rows x {d} float16, {c} classes "
          f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
