"""Soak test: kill featx with SIGKILL at random moments and check that nothing is ever lost or claimed.

1. Extraction: an uninterrupted `featx extract` makes the reference store. Then ROUNDS times: start the same
   command on a second store, SIGKILL it after a random delay, and check the partial store: if it opens,
   it must claim no more rows than it has written, and every claimed row must equal the reference row
   byte for byte. Finally the same command runs to the end; /features, /labels, /paths and /split must
   equal the reference byte for byte.
2. Probe: ROUNDS times start `featx probe` and SIGKILL it after a random delay; the head file must then
   either not exist or be a complete head (format tag, weights, classes), never half-written.

Needs h5py and numpy, e.g. the bench venv that `bench/setup` makes in .cache/bench-venv, and featx built in
release mode (bench/setup does both). Not part of the test suite (it takes minutes). From the repository root:

    bench/setup
    .cache/bench-venv/bin/python scripts/soak.py [--rounds 20] [--dataset ../shared/datasets/flower_photos_small]

--featx defaults to $FEATX_BIN, else .build/release/featx; --dataset to $FEATX_DATASETS/flower_photos_small,
with FEATX_DATASETS defaulting to ../shared/datasets beside the repository.
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def killed_after(cmd, delay):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    return p.returncode


def rows(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][...] for k in ("features", "labels", "paths", "split")}


def check_partial(path, reference, round_index):
    """A store that opens must claim only rows it holds, each equal to the reference's row."""
    try:
        f = h5py.File(path, "r")
    except OSError:
        return "unopenable (claims nothing)"
    with f:
        if f.attrs.get("format") != "featx-features":
            raise SystemExit(f"round {round_index}: {path} has no format tag")
        done = int(f.attrs["rows_complete"])
        complete = int(f.attrs["complete"])
        if complete:
            return "already complete"
        status = f["row_status"][:done]
        if (status == 0).any():
            raise SystemExit(f"round {round_index}: row {int(np.argmax(status == 0))} is claimed but was never written")
        features = f["features"][:done]
        paths = f["paths"][:done]
    # Before finishing, rows are in candidate order; the reference (finished) store dropped skipped rows.
    ref_index = {p: i for i, p in enumerate(reference["paths"])}
    for i in range(done):
        if status[i] != 1:
            continue
        j = ref_index[paths[i]]
        if features[i].tobytes() != reference["features"][j].tobytes():
            raise SystemExit(f"round {round_index}: claimed row {i} ({paths[i]!r}) differs from the uninterrupted run")
    return f"{done} rows claimed, all equal to the reference"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    datasets = os.environ.get("FEATX_DATASETS") or os.path.normpath(os.path.join(root, "..", "shared", "datasets"))
    p.add_argument("--featx", default=os.environ.get("FEATX_BIN") or os.path.join(root, ".build", "release", "featx"))
    p.add_argument("--dataset", default=os.path.join(datasets, "flower_photos_small"))
    p.add_argument("--arch", default="densenet121")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="featx-soak-")
    extract = [a.featx, "extract", a.dataset, "--arch", a.arch, "--weights", "random:0", "--pool", "avg", "--batch", "8", "--quiet"]
    try:
        reference_path = os.path.join(work, "reference.h5")
        t0 = time.time()
        r = run(extract + ["-o", reference_path])
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        duration = time.time() - t0
        reference = rows(reference_path)
        print(f"reference: {len(reference['paths'])} rows in {duration:.1f} s")

        path = os.path.join(work, "soaked.h5")
        survived = 0
        for i in range(a.rounds):
            delay = rng.uniform(0.05, max(0.2, duration / 6))
            killed_after(extract + ["-o", path], delay)
            state = check_partial(path, reference, i + 1) if os.path.exists(path) else "no file yet"
            if state.startswith("unopenable"):
                raise SystemExit(f"round {i + 1}: {path} cannot be opened after the kill")
            survived += 1
            print(f"extract round {i + 1:2d}: killed after {delay:.2f} s: {state}")
        r = run(extract + ["-o", path])
        if r.returncode != 0:
            raise SystemExit(f"final resume failed: {r.stderr}")
        final = rows(path)
        for key in ("features", "labels", "paths", "split"):
            same = list(final[key]) == list(reference[key]) if key == "paths" else final[key].tobytes() == reference[key].tobytes()
            if not same:
                raise SystemExit(f"after {a.rounds} kills, /{key} differs from the uninterrupted run")
        print(f"extraction: {survived}/{a.rounds} rounds survived; final store equals the uninterrupted run byte for byte")

        head = os.path.join(work, "head.h5")
        probe = [a.featx, "probe", reference_path, "-o", head, "--quiet"]
        t0 = time.time()
        run(probe)
        probe_duration = time.time() - t0
        os.remove(head)
        heads = 0
        for i in range(a.rounds):
            delay = rng.uniform(0.02, probe_duration * 1.2)
            killed_after(probe, delay)
            existed = os.path.exists(head)
            if existed:
                with h5py.File(head, "r") as f:
                    if f.attrs.get("format") != "featx-head" or "weights" not in f or "classes" not in f:
                        raise SystemExit(f"probe round {i + 1}: {head} is half-written")
                heads += 1
                os.remove(head)
            leftovers = [n for n in os.listdir(work) if n.startswith("head.h5.")]
            for n in leftovers:
                os.remove(os.path.join(work, n))
            print(f"probe round {i + 1:2d}: killed after {delay:.2f} s: {'complete head' if existed else 'no head'}")
        print(f"probe: {a.rounds}/{a.rounds} rounds left either no head or a complete one ({heads} complete)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
