#!/usr/bin/env python3
"""End-to-end PyTorch feature extraction: the pipeline `featx extract` competes with.

    bench/extract_pytorch.py                                  # densenet121 on cub_birds50
    bench/extract_pytorch.py --arch resnet50 --preset imagenet --limit 640
    bench/extract_pytorch.py --dataset ../shared/datasets/flower_photos_small --wait-idle 120

Runs in the bench venv (.cache/bench-venv, made by bench/setup on first use; FEATX_BENCH_PYTHON overrides).
--dataset defaults to $FEATX_DATASETS/cub_birds50, with FEATX_DATASETS defaulting to <repo>/../shared/datasets.

What runs (the bird workflow, written the way a PyTorch user would):
  torchvision.datasets.ImageFolder(--dataset, transform)
    bird preset (default):  Resize((224, 224)), ToTensor()
    imagenet preset:        Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet mean/std)
  DataLoader(batch_size=32, num_workers=2, shuffle=False)
  backbone in eval mode, torch.set_num_threads(2), torch.inference_mode()
    densenet121: model.features(x).view(N, -1)  -> 50176 floats per image
    resnet50/18: everything up to avgpool       -> 2048 / 512 floats per image
  every batch is written to an HDF5 file with h5py (/features float32 [N, D] chunked by rows, /labels int64,
  /split uint8 from a seeded numpy permutation like the seed's 80/20 split, /paths, /classes)

Weights are torchvision's random init (weights=None, torch.manual_seed(0)) unless --weights FILE.pth is given;
speed does not depend on them.

Reported: images, wall time of the extraction loop (decode + resize + forward + write), img/s, time from
process start (imports, model build and dataset scan included), peak RSS of this process and of the
DataLoader workers (resource.getrusage), and the machine load before and during the run.
"""
from __future__ import annotations

T_PROCESS = __import__("time").time()

import argparse  # noqa: E402
import datetime  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")

import bench_env  # noqa: E402

bench_env.ensure_python()

from machine_load import OthersMeter, fmt_load, load_reading, wait_idle, write_json  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=bench_env.dataset("cub_birds50"),
                    help="ImageFolder root (default: %(default)s)")
    ap.add_argument("--arch", default="densenet121", choices=["densenet121", "resnet50", "resnet18"])
    ap.add_argument("--preset", default="bird", choices=["bird", "imagenet"])
    ap.add_argument("--weights", help="torchvision state_dict (.pth); default: random init")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader num_workers")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--limit", type=int, default=0, metavar="N", help="use only the first N images (walk order)")
    ap.add_argument("--out", help="output .h5 (default bench/.cache/extract-ARCH.h5)")
    ap.add_argument("--keep", action="store_true", help="keep the output file (default: delete it afterwards)")
    ap.add_argument("--split-seed", type=int, default=2021, help="seed of the 80/20 permutation split")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="N",
                    help="wait up to N s for a >= 90%% idle 1 s sample before measuring")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE")
    a = ap.parse_args()
    out = a.out or os.path.join(CACHE, f"extract-{a.arch}.h5")

    print(f"extract_pytorch.py  {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}  "
          f"host {platform.node()}")
    reading = wait_idle(a.wait_idle) if a.wait_idle > 0 else load_reading()
    print("machine before: " + fmt_load(reading), flush=True)

    t_imp = time.time()
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import h5py
    import numpy as np
    import torch
    import torchvision.models as tvm
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms
    t_imported = time.time()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = getattr(tvm, a.arch)(weights=None)
    if a.weights:
        net.load_state_dict(torch.load(a.weights, weights_only=True))
    if a.arch.startswith("densenet"):
        model = net.features
    else:
        net.fc = torch.nn.Identity()
        model = net
    model.eval()

    if a.preset == "bird":
        tf = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])
    else:
        tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                 transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = datasets.ImageFolder(a.dataset, transform=tf)
    n_all = len(ds)
    if a.limit and a.limit < n_all:
        ds = Subset(ds, range(a.limit))
    n = len(ds)
    samples = ds.dataset.samples if isinstance(ds, Subset) else ds.samples
    classes = ds.dataset.classes if isinstance(ds, Subset) else ds.classes
    dim = 1024 * 7 * 7 if a.arch.startswith("densenet") else (2048 if a.arch == "resnet50" else 512)
    loader = DataLoader(ds, batch_size=a.batch, num_workers=a.workers, shuffle=False)
    t_ready = time.time()
    print(f"{a.arch}, preset {a.preset}, {n} of {n_all} images in {len(classes)} classes from {a.dataset}; "
          f"batch {a.batch}, {a.workers} workers, {a.threads} threads; D = {dim}; out {out}", flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    rng = np.random.RandomState(a.split_seed)
    perm = rng.permutation(n)
    split = np.ones(n, dtype=np.uint8)
    split[perm[:int(n * 0.8)]] = 0

    meter = OthersMeter().start()
    t0 = time.time()
    t_first = None
    fwd_s = 0.0
    write_s = 0.0
    row = 0
    with h5py.File(out, "w") as f:
        chunk_rows = max(1, min(n, (1 << 20) // (4 * dim)))
        feats = f.create_dataset("features", shape=(n, dim), dtype="<f4", chunks=(chunk_rows, dim))
        labels = np.empty(n, dtype=np.int64)
        with torch.inference_mode():
            for x, y in loader:
                a0 = time.time()
                o = model(x)
                o = o.reshape(o.size(0), -1).numpy()
                a1 = time.time()
                feats[row:row + len(o)] = o
                labels[row:row + len(o)] = y.numpy()
                a2 = time.time()
                fwd_s += a1 - a0
                write_s += a2 - a1
                row += len(o)
                if t_first is None:
                    t_first = a2 - t0
                if row % (a.batch * 10) == 0 or row == n:
                    el = time.time() - t0
                    print(f"  {row}/{n} images, {el:.1f} s, {row / el:.2f} img/s", flush=True)
        f["labels"] = labels
        f["split"] = split
        f["paths"] = np.array([os.path.relpath(p, a.dataset) for p, _ in samples[:n]], dtype=h5py.string_dtype())
        f["classes"] = np.array(classes, dtype=h5py.string_dtype())
        f["features"].attrs["feature_shape"] = np.array([1024, 7, 7] if a.arch.startswith("densenet") else [dim])
        f.attrs["arch"] = a.arch
        f.attrs["preprocess"] = a.preset
        f.attrs["source"] = a.dataset
        f.attrs["complete"] = 1
    t1 = time.time()
    during = meter.stop()
    wall = t1 - t0
    size = os.path.getsize(out)
    if not a.keep:
        os.remove(out)

    rs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rc = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    res = {"script": "bench/extract_pytorch.py", "date": reading["time"], "host": platform.node(),
           "arch": a.arch, "preset": a.preset, "dataset": a.dataset, "images": row, "dim": dim,
           "batch": a.batch, "workers": a.workers, "threads": a.threads,
           "wall_s": round(wall, 2), "img_s": row / wall,
           "first_batch_s": round(t_first or 0, 2), "forward_s": round(fwd_s, 2), "write_s": round(write_s, 2),
           "import_s": round(t_imported - t_imp, 2), "setup_s": round(t_ready - t_imported, 2),
           "since_process_start_s": round(t1 - T_PROCESS, 2), "h5_bytes": size,
           "peak_rss_mib": round(rs, 1), "peak_rss_worker_mib": round(rc, 1),
           "load_before": reading, "during": during, "versions": {"torch": torch.__version__, "h5py": h5py.__version__}}
    print(f"\n{row} images ({a.arch}, D={dim}) in {wall:.2f} s = {row / wall:.2f} img/s  "
          f"(forward {fwd_s:.1f} s = {row / max(fwd_s, 1e-9):.2f} img/s of pure forward, h5 write {write_s:.1f} s, "
          f"first batch after {res['first_batch_s']:.1f} s)")
    print(f"from process start: {res['since_process_start_s']:.1f} s (imports {res['import_s']:.1f} s, "
          f"model + dataset scan {res['setup_s']:.1f} s); output {size / 2**20:.1f} MiB"
          f"{'' if a.keep else ' (deleted; --keep keeps it)'}")
    print(f"peak RSS: main {rs:.0f} MiB, largest DataLoader worker {rc:.0f} MiB")
    print(f"during: other processes used {during['others_cores']:.2f} cores on average, this run "
          f"{during['own_cores']:.2f} cores")
    print("machine after: " + fmt_load(load_reading()))
    write_json(res, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
