#!/usr/bin/env python3
"""The bird workflow's linear probe, trained in PyTorch: the speed (and accuracy) baseline for `featx probe`.

    bench/seed_recipe.py                        # random features, 2 epochs, seed-sized
    bench/seed_recipe.py --epochs 50            # the full recipe
    bench/seed_recipe.py --features store.h5 --epochs 50   # a featx feature store

Runs in the bench venv (.cache/bench-venv, made by bench/setup on first use; FEATX_BENCH_PYTHON overrides).

The recipe (as in the seed): nn.Linear(D, classes), CrossEntropyLoss, Adam(lr=1e-5), batch 64,
DataLoader(shuffle=True) over the train features, DataLoader(batch 64) over the test features, eval every
epoch; torch.set_num_threads(2). Each epoch prints the seed's own line

    epoch: E  ;loss: L  ;accuracy: A  ;test_loss: TL  ;test_accuracy: TA

(loss = sum of batch-mean losses / dataset size, rounded to 3 places, exactly as the seed computes it) and
then the seconds it took. At the end: seconds per epoch and the time 50 epochs would take.

Data:
  default           random float32 features: --rows 9430 train + --test-rows 2358 test (the seed's 80/20 split
                    of CUB-200's 11788 images), --dim 50176 (DenseNet121 features), --classes 200, random labels
                    (accuracies are then meaningless: this measures speed only)
  --features F.h5   a featx feature store (docs/FORMAT.md): /features float32 or float16 [N, D] (float16 is
                    widened to float32), /labels int64 (rows with -1 are dropped), /split uint8 (0 train, 1 test);
                    classes = len(/classes) if present else max label + 1. Accuracies are real.

--loader seed (default) feeds the batches the way the seed does (a Dataset over per-row tensors and the
default collate, i.e. torch.stack of 64 rows); --loader tensor gathers each batch with one index_select
from the [N, D] tensor, the quickest plain-PyTorch way, for reference.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import resource
import sys
import time

import bench_env  # noqa: E402

bench_env.ensure_python()

from machine_load import OthersMeter, fmt_load, load_reading, wait_idle, write_json  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=9430, help="train rows (random features)")
    ap.add_argument("--test-rows", type=int, default=2358, help="test rows (random features)")
    ap.add_argument("--dim", type=int, default=50176)
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--features", help="train on a featx feature store instead of random features")
    ap.add_argument("--epochs", type=int, default=2, help="default 2; the full recipe is 50")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loader", default="seed", choices=["seed", "tensor"])
    ap.add_argument("--seed", type=int, default=0, help="torch seed (init, shuffling, random data)")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="N",
                    help="before each epoch wait up to N s for a >= 90%% idle 1 s sample")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE")
    a = ap.parse_args()

    print(f"seed_recipe.py  {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}  "
          f"host {platform.node()}  cpu {bench_env.cpu_model()}")
    reading = wait_idle(a.wait_idle) if a.wait_idle > 0 else load_reading()
    print("machine before: " + fmt_load(reading), flush=True)

    import numpy as np
    import torch
    from torch.utils import data

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()
    if a.features:
        import h5py
        with h5py.File(a.features, "r") as f:
            if "complete" in f.attrs and int(f.attrs["complete"]) != 1:
                print("warning: the store is not complete (complete != 1)", file=sys.stderr)
            X = f["features"][:]
            y = f["labels"][:].astype(np.int64)
            split = f["split"][:]
            n_classes = len(f["classes"]) if "classes" in f else int(y.max()) + 1
            src_dtype = str(f["features"].dtype)
        keep = y >= 0
        X, y, split = X[keep], y[keep], split[keep]
        if X.dtype != np.float32:
            X = X.astype(np.float32)
        Xtr, ytr = torch.from_numpy(np.ascontiguousarray(X[split == 0])), torch.from_numpy(y[split == 0])
        Xte, yte = torch.from_numpy(np.ascontiguousarray(X[split == 1])), torch.from_numpy(y[split == 1])
        del X
        what = f"{a.features} ({src_dtype})"
    else:
        g = torch.Generator().manual_seed(a.seed)
        Xtr = torch.randn(a.rows, a.dim, generator=g)
        Xte = torch.randn(a.test_rows, a.dim, generator=g)
        ytr = torch.randint(0, a.classes, (a.rows,), generator=g)
        yte = torch.randint(0, a.classes, (a.test_rows,), generator=g)
        n_classes = a.classes
        what = "random N(0,1) features, random labels"
    load_s = time.time() - t0
    dim = Xtr.shape[1]
    print(f"data: {what}: train {tuple(Xtr.shape)}, test {tuple(Xte.shape)}, {n_classes} classes "
          f"({load_s:.1f} s to make/load); loader {a.loader}; batch {a.batch}; Adam lr {a.lr:g}; "
          f"{a.threads} threads", flush=True)

    class FeaturesDataset(data.Dataset):        # the seed's dataset: a list of rows and a list of labels
        def __init__(self, featlst, labellst):
            self.featlst = featlst
            self.labellst = labellst

        def __getitem__(self, index):
            return (self.featlst[index], self.labellst[index])

        def __len__(self):
            return len(self.labellst)

    class TensorBatches:                         # quickest plain-PyTorch feeding, for reference
        def __init__(self, X, y, batch, shuffle):
            self.X, self.y, self.batch, self.shuffle = X, y, batch, shuffle
            self.dataset = y

        def __iter__(self):
            n = len(self.y)
            order = torch.randperm(n) if self.shuffle else None
            for s in range(0, n, self.batch):
                if order is None:
                    yield self.X[s:s + self.batch], self.y[s:s + self.batch]
                else:
                    idx = order[s:s + self.batch]
                    yield self.X.index_select(0, idx), self.y.index_select(0, idx)

    if a.loader == "seed":
        train_dl = data.DataLoader(FeaturesDataset(list(Xtr), list(ytr)), batch_size=a.batch, shuffle=True)
        test_dl = data.DataLoader(FeaturesDataset(list(Xte), list(yte)), batch_size=a.batch)
    else:
        train_dl = TensorBatches(Xtr, ytr, a.batch, True)
        test_dl = TensorBatches(Xte, yte, a.batch, False)

    net = torch.nn.Linear(dim, n_classes)
    loss_fn = torch.nn.CrossEntropyLoss()
    optim = torch.optim.Adam(net.parameters(), lr=a.lr)

    def fit(epoch, model, trainloader, testloader):     # the seed's fit(), plus timing
        correct = 0
        total = 0
        running_loss = 0
        t_a = time.time()
        model.train()
        for x, y in trainloader:
            y_pred = model(x)
            loss = loss_fn(y_pred, y)
            optim.zero_grad()
            loss.backward()
            optim.step()
            with torch.no_grad():
                y_pred = torch.argmax(y_pred, dim=1)
                correct += (y_pred == y).sum().item()
                total += y.size(0)
                running_loss += loss.item()
        epoch_loss = running_loss / len(trainloader.dataset)
        epoch_acc = correct / total
        t_b = time.time()
        test_correct = 0
        test_total = 0
        test_running_loss = 0
        model.eval()
        with torch.no_grad():
            for x, y in testloader:
                y_pred = model(x)
                loss = loss_fn(y_pred, y)
                y_pred = torch.argmax(y_pred, dim=1)
                test_correct += (y_pred == y).sum().item()
                test_total += y.size(0)
                test_running_loss += loss.item()
        epoch_test_loss = test_running_loss / len(testloader.dataset)
        epoch_test_acc = test_correct / test_total
        t_c = time.time()
        print('epoch:', epoch,
              ' ;loss:', round(epoch_loss, 3),
              ' ;accuracy:', round(epoch_acc, 3),
              ' ;test_loss:', round(epoch_test_loss, 3),
              ' ;test_accuracy:', round(epoch_test_acc, 3)
              )
        return epoch_loss, epoch_acc, epoch_test_loss, epoch_test_acc, t_b - t_a, t_c - t_b

    epochs = []
    t_train0 = time.time()
    for epoch in range(a.epochs):
        r = wait_idle(a.wait_idle) if a.wait_idle > 0 else None
        if r is not None:
            print("  before: " + fmt_load(r), flush=True)
        meter = OthersMeter().start()
        el, ea, tl, ta, tr_s, te_s = fit(epoch, net, train_dl, test_dl)
        during = meter.stop()
        print(f"  epoch {epoch}: {tr_s + te_s:.3f} s (train {tr_s:.3f} s + test {te_s:.3f} s); "
              f"others used {during['others_cores']:.2f} cores", flush=True)
        epochs.append({"epoch": epoch, "loss": el, "accuracy": ea, "test_loss": tl, "test_accuracy": ta,
                       "train_s": round(tr_s, 3), "test_s": round(te_s, 3), "during": during,
                       "load_before": r})
    total_s = time.time() - t_train0

    per = [e["train_s"] + e["test_s"] for e in epochs]
    mean_all = sum(per) / len(per)
    steady = per[1:] or per
    mean_steady = sum(steady) / len(steady)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{len(per)} epochs in {total_s:.1f} s: {mean_all:.3f} s/epoch (mean), "
          f"{mean_steady:.3f} s/epoch after the first; min {min(per):.3f} s")
    print(f"50 epochs (the full recipe) would take ~{50 * mean_steady:.0f} s ({50 * mean_steady / 60:.1f} min); "
          f"+ data {load_s:.1f} s; peak RSS {rss:.0f} MiB")
    if a.features:
        last = epochs[-1]
        print(f"final: train accuracy {last['accuracy']:.4f}, test accuracy {last['test_accuracy']:.4f}, "
              f"total time {total_s + load_s:.1f} s including loading")
    print("machine after: " + fmt_load(load_reading()))
    res = {"script": "bench/seed_recipe.py", "date": reading["time"], "host": platform.node(),
           "cpu": bench_env.cpu_model(),
           "data": what, "train_shape": list(Xtr.shape), "test_shape": list(Xte.shape), "classes": n_classes,
           "loader": a.loader, "batch": a.batch, "lr": a.lr, "threads": a.threads, "data_s": round(load_s, 2),
           "epochs": epochs, "s_per_epoch_mean": mean_all, "s_per_epoch_steady": mean_steady,
           "extrapolated_50_epochs_s": 50 * mean_steady, "total_s": total_s, "peak_rss_mib": round(rss, 1),
           "load_before": reading, "versions": {"torch": torch.__version__}}
    write_json(res, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
