#!/usr/bin/env python3
"""Writes a featx feature store of random features with h5py (docs/FORMAT.md), e.g. of the bird workflow's
shape (11788 images x 50176 values, 200 classes): the speed benchmark input for `featx probe` and for
bench/seed_recipe.py --features. It also shows that any HDF5 writer can produce a store featx reads.

    bench/make_random_store.py -o bench/.cache/seed-size.h5

Runs in the bench venv (.cache/bench-venv, made by bench/setup on first use; FEATX_BENCH_PYTHON overrides).
"""
import argparse
import datetime
import json

import bench_env

bench_env.ensure_python()

import h5py  # noqa: E402
import numpy as np  # noqa: E402


def write_store(path: str, labels, split, dim: int, classes: int, block, split_mode: str = "random",
                split_seed: int = 0, split_ratio: float = 0.8, dtype: str = "<f4") -> None:
    """Writes a complete featx store of len(labels) rows x dim values (float32, or "<f2" float16);
    block(start, n) returns rows start..start+n-1 as float32 and is called in row order (so it may draw
    from a random generator)."""
    n_rows = len(labels)
    string = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        rows = min(max(1, (1 << 20) // (dim * np.dtype(dtype).itemsize)), max(1, n_rows))     # ~1 MiB chunks
        x = f.create_dataset("features", (n_rows, dim), dtype=dtype, chunks=(rows, dim))
        x.attrs["feature_shape"] = np.array([dim], np.int64)
        step = 512
        for start in range(0, n_rows, step):
            n = min(step, n_rows - start)
            x[start:start + n] = block(start, n).astype(dtype)
        f["labels"] = labels
        f["split"] = split
        f.create_dataset("classes", data=[f"class{i:03d}" for i in range(classes)], dtype=string)
        f.create_dataset("class_folders", data=[f"{i + 1:03d}.class{i:03d}" for i in range(classes)], dtype=string)
        f.create_dataset("paths", data=[f"{i:06d}.jpg" for i in range(n_rows)], dtype=string)
        g = f.create_group("skipped")
        g.create_dataset("paths", (0,), dtype=string)
        g.create_dataset("reasons", (0,), dtype=string)
        attrs = {
            "format": "featx-features", "featx_version": "bench", "arch": "random", "weights_file": "random:0",
            "weights_sha256": "random:0", "layer": "none", "pooling": "flatten", "preprocess": json.dumps({}),
            "split_mode": split_mode, "created": datetime.datetime.utcnow().isoformat() + "Z", "source": "random",
            "shard": "",
        }
        for k, v in attrs.items():
            f.attrs[k] = v
        for k, v in {"format_version": 1, "split_seed": split_seed, "shard_start": 0, "dataset_rows": n_rows,
                     "rows_complete": n_rows, "complete": 1}.items():
            f.attrs[k] = np.int64(v)
        f.attrs["split_ratio"] = np.float64(split_ratio)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--rows", type=int, default=11788)
    p.add_argument("--dim", type=int, default=50176)
    p.add_argument("--classes", type=int, default=200)
    p.add_argument("--ratio", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=2021)
    a = p.parse_args()
    rng = np.random.RandomState(a.seed)
    labels = rng.randint(0, a.classes, a.rows).astype(np.int64)
    split = np.ones(a.rows, np.uint8)
    split[np.random.RandomState(a.seed).permutation(a.rows)[: int(a.rows * a.ratio)]] = 0
    write_store(a.output, labels, split, a.dim, a.classes,
                lambda start, n: rng.standard_normal((n, a.dim)).astype(np.float32),
                split_mode="random", split_seed=a.seed, split_ratio=a.ratio)
    print(f"wrote {a.output}: {a.rows} x {a.dim} float32, {a.classes} classes")


if __name__ == "__main__":
    main()
