#!/usr/bin/env python3
"""The anchor of `featx probe` on an ImageNet-sized store (issue 24, section 3): what a user would write
instead. A PyTorch nn.Linear(D, classes) trained with Adam on mini-batches read from the same HDF5 file with
h5py and a DataLoader, 10 epochs, torch.set_num_threads(2), test accuracy after every epoch.

    bench/imagenet_probe_pytorch.py bench/.cache/imagenet-sized.h5 [--epochs 10] [--batch 1024] [--lr 1e-3]

The store does not fit in a 4 GB budget as float32 (10.5 GB), so the rows are streamed: the sampler deals
shuffled blocks of 16384 consecutive train rows (each read with one h5py slice, float16 widened to
float32) and shuffles the rows inside each block; reading single rows at random from a chunked HDF5 file
would read a whole chunk per row and take hours. Adam(lr 1e-3), batch 1024, CrossEntropyLoss: the usual
choices. Prints one line per epoch (seconds since start, test top-1) and the peak RSS.

Runs in the bench venv (.cache/bench-venv, made by bench/setup on first use).
"""
import argparse
import platform
import resource
import time

import bench_env

bench_env.ensure_python()

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--block", type=int, default=16384)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    rng = np.random.RandomState(a.seed)
    started = time.time()
    f = h5py.File(a.store, "r")
    features = f["features"]
    labels = f["labels"][:]
    split = f["split"][:]
    classes = len(f["classes"])
    train = np.flatnonzero((split == 0) & (labels >= 0))
    test = np.flatnonzero((split == 1) & (labels >= 0))
    # Train rows come first in bench/make_imagenet_store.py's stores: blocks are contiguous slices.
    assert train[-1] == len(train) - 1, "expects the train rows first"
    d = features.shape[1]

    def rows(lo: int, hi: int) -> torch.Tensor:
        return torch.from_numpy(features[lo:hi].astype(np.float32))

    model = torch.nn.Linear(d, classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    y_all = torch.from_numpy(labels)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 2 threads; "
          f"{len(train)} train / {len(test)} test rows x {d}, {classes} classes", flush=True)
    for epoch in range(1, a.epochs + 1):
        model.train()
        for block in rng.permutation((len(train) + a.block - 1) // a.block):
            lo, hi = block * a.block, min(len(train), (block + 1) * a.block)
            x = rows(lo, hi)
            y = y_all[lo:hi]
            loader = torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(x, y), batch_size=a.batch, shuffle=True)
            for xb, yb in loader:
                optimizer.zero_grad()
                loss_fn(model(xb), yb).backward()
                optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for lo in range(test[0], test[-1] + 1, a.block):
                hi = min(test[-1] + 1, lo + a.block)
                correct += (model(rows(lo, hi)).argmax(1) == y_all[lo:hi]).sum().item()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(f"epoch {epoch}: {time.time() - started:.1f} s, test top-1 {correct / len(test):.4f}, "
              f"peak RSS {peak:.2f} GB", flush=True)


if __name__ == "__main__":
    main()
