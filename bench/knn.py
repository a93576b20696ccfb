#!/usr/bin/env python3
"""Exact k-NN search of `featx knn` beside faiss (IndexFlatIP on L2-normalised rows), same data, same threads.

    bench/knn.py                                  # 100 000 train x 10 000 queries x 768, 100 classes, k 200
    bench/knn.py --rows 5000 --dim 64 --queries 500 --skip-featx      # faiss half only, small
    bench/knn.py --wait-idle 120                  # wait up to 120 s for >= 90% idle before each measurement

Runs in the bench venv (.cache/bench-venv, made by bench/setup on first use; FEATX_BENCH_PYTHON overrides),
which needs faiss-cpu (`.cache/bench-venv/bin/pip install faiss-cpu` in a venv made before it was listed).

Data (made once with h5py through make_random_store.write_store, kept while the shape fits):
bench/.cache/knn-train.h5 (--rows N) and bench/.cache/knn-queries.h5 (--queries Q), D = --dim float32 values,
--classes C. Row = its class's mean (randn, one draw of C means shared by both stores) + 2.0 * randn noise,
labels uniform; split all 0 in both; the root attributes agree except `created` and the row counts, as featx
requires of a --test store. Seeded with numpy RandomState (--seed: means, --seed+1: train, --seed+2: queries).

faiss: rows divided by max(norm, 1e-12) in float32 (timed separately), faiss.omp_set_num_threads(--threads),
IndexFlatIP(D), add(train) + search(queries, k) timed; queries/s = Q / (add + search).

featx: $FEATX_BIN (default .build/release/featx) runs
    featx knn knn-train.h5 --test knn-queries.h5 --k K --threads T --json --neighbors bench/.cache/knn-neighbors.h5
queries/s = Q / the JSON's "search_seconds"; also its "seconds" and the process's wall time (which includes
reading the stores). The neighbours file's /indices (int64 Q x k, train rows), /similarities (float32, best
first) and /query_rows (int64, query rows) are compared with faiss's lists: identical, or identical up to ties
(where they differ, featx's similarity is within 1e-5 of faiss's at that position and of its recomputed
value, and a row only one list has lies within 1e-5 of the other list's k-th similarity).

Prints the CPU, the load before each measurement and the cores other processes used during it.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import bench_env

bench_env.ensure_python()

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from machine_load import OthersMeter, fmt_load, load_reading, wait_idle, write_json  # noqa: E402
from make_random_store import write_store  # noqa: E402

CACHE = os.path.join(bench_env.BENCH, ".cache")
TOL = 1e-5


def make_store(path: str, rows: int, dim: int, classes: int, means, seed: int) -> None:
    try:
        with h5py.File(path, "r") as f:
            if (f["features"].shape == (rows, dim) and len(f["classes"]) == classes
                    and int(f.attrs["split_seed"]) == seed and int(f.attrs["complete"]) == 1):
                print(f"data: {path} exists ({rows} x {dim}, {classes} classes)")
                return
    except (OSError, KeyError):
        pass
    t0 = time.time()
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, classes, rows).astype(np.int64)
    write_store(path, labels, np.zeros(rows, np.uint8), dim, classes,
                lambda s, n: (means[labels[s:s + n]] + 2.0 * rng.standard_normal((n, dim))).astype(np.float32),
                split_mode="none", split_seed=seed, split_ratio=1.0)
    print(f"data: wrote {path}: {rows} x {dim} float32, {classes} classes ({time.time() - t0:.1f} s)")


def before(a) -> dict:
    r = wait_idle(a.wait_idle) if a.wait_idle > 0 else load_reading()
    print("  before: " + fmt_load(r), flush=True)
    return r


def compare(fi, fs, qrows, I, D, qn, xn) -> dict:
    """featx's lists (fi, fs; row i is query qrows[i]) against faiss's (I, D; row q is query q)."""
    I, D = I[qrows], D[qrows]
    same = (fi == I).all(axis=1)
    ties = other = 0
    for q in np.nonzero(~same)[0]:
        f, s, g, d = fi[q], fs[q], I[q], D[q]
        pos = f != g
        true = xn[f[pos]] @ qn[qrows[q]]                   # featx's similarity of the rows it differs on
        ok = np.all(np.abs(s[pos] - d[pos]) <= TOL) and np.all(np.abs(true - s[pos]) <= TOL)
        only_f, only_g = ~np.isin(f, g), ~np.isin(g, f)    # rows one list has and the other has not
        ok = ok and np.all(np.abs(s[only_f] - d[-1]) <= TOL) and np.all(np.abs(d[only_g] - s[-1]) <= TOL)
        ties += bool(ok)
        other += not ok
    return {"queries": len(qrows), "identical": int(same.sum()), "differ_by_ties": ties, "differ_otherwise": other,
            "max_abs_sim_diff": float(np.abs(fs - D).max()), "identical_up_to_ties": other == 0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="train rows")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=10_000, help="query rows")
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-featx", action="store_true", help="faiss only")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="N",
                    help="before each measurement wait up to N s for a >= 90%% idle 1 s sample")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE")
    a = ap.parse_args()
    try:
        import faiss
    except ImportError:
        sys.exit("bench/knn.py: faiss is missing: run .cache/bench-venv/bin/pip install faiss-cpu")

    start = load_reading()
    print(f"knn.py  {start['time']}  host {platform.node()}\ncpu: {bench_env.cpu_model()}; {a.threads} threads; "
          f"faiss {faiss.__version__}, numpy {np.__version__}, h5py {h5py.__version__}")
    print("machine before: " + fmt_load(start), flush=True)
    os.makedirs(CACHE, exist_ok=True)
    train, queries = os.path.join(CACHE, "knn-train.h5"), os.path.join(CACHE, "knn-queries.h5")
    means = np.random.RandomState(a.seed).standard_normal((a.classes, a.dim))
    make_store(train, a.rows, a.dim, a.classes, means, a.seed + 1)
    make_store(queries, a.queries, a.dim, a.classes, means, a.seed + 2)
    doc = {"script": "bench/knn.py", "date": start["time"], "host": platform.node(), "cpu": bench_env.cpu_model(),
           "rows": a.rows, "dim": a.dim, "queries": a.queries, "classes": a.classes, "k": a.k,
           "threads": a.threads, "load_start": start, "versions": {"faiss": faiss.__version__}}

    print(f"\nfaiss IndexFlatIP: {a.rows} train x {a.queries} queries x {a.dim}, k {a.k}", flush=True)
    t0 = time.perf_counter()
    with h5py.File(train, "r") as f:
        xn, ytr = f["features"][:], f["labels"][:]
    with h5py.File(queries, "r") as f:
        qn, yq = f["features"][:], f["labels"][:]
    read_s = time.perf_counter() - t0
    load = before(a)
    meter = OthersMeter().start()
    t0 = time.perf_counter()
    xn /= np.maximum(np.linalg.norm(xn, axis=1, keepdims=True), np.float32(1e-12))
    qn /= np.maximum(np.linalg.norm(qn, axis=1, keepdims=True), np.float32(1e-12))
    t1 = time.perf_counter()
    faiss.omp_set_num_threads(a.threads)
    index = faiss.IndexFlatIP(a.dim)
    index.add(xn)
    D, I = index.search(qn, a.k)
    t2 = time.perf_counter()
    during = meter.stop()
    votes = np.bincount((np.arange(a.queries)[:, None] * a.classes + ytr[I]).ravel(),
                        minlength=a.queries * a.classes).reshape(a.queries, a.classes)
    fa = {"read_s": round(read_s, 3), "normalise_s": round(t1 - t0, 4), "add_search_s": round(t2 - t1, 4),
          "queries_per_s": round(a.queries / (t2 - t1), 1), "top1_accuracy": float((ytr[I[:, 0]] == yq).mean()),
          "majority_accuracy": float((votes.argmax(1) == yq).mean()), "load_before": load, "during": during}
    print(f"  read {read_s:.2f} s (untimed); normalise {t1 - t0:.3f} s; add + search {t2 - t1:.3f} s: "
          f"{fa['queries_per_s']:.0f} queries/s; others used {during['others_cores']:.2f} cores")
    print(f"  label of the nearest row right {fa['top1_accuracy']:.3f}, majority of {a.k} right "
          f"{fa['majority_accuracy']:.3f}", flush=True)
    doc["faiss"] = fa

    if not a.skip_featx:
        out = os.path.join(CACHE, "knn-neighbors.h5")
        if os.path.exists(out):
            os.remove(out)
        cmd = [bench_env.featx_bin(), "knn", train, "--test", queries, "--k", str(a.k), "--threads", str(a.threads),
               "--json", "--neighbors", out]
        print("\nfeatx: " + " ".join(cmd), flush=True)
        load = before(a)
        meter = OthersMeter().start()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
        during = meter.stop()
        if proc.returncode != 0:
            print(f"  FAILED (exit {proc.returncode})")
            doc["featx"] = {"error": f"exit {proc.returncode}", "load_before": load}
        else:
            rep = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])[0]
            fx = {"search_s": rep["search_seconds"], "seconds": rep["seconds"], "wall_s": round(wall, 3),
                  "queries_per_s": round(a.queries / rep["search_seconds"], 1), "load_before": load, "during": during}
            fx["ratio_vs_faiss"] = round(fx["queries_per_s"] / fa["queries_per_s"], 3)
            print(f"  search {fx['search_s']:.3f} s: {fx['queries_per_s']:.0f} queries/s "
                  f"({fx['ratio_vs_faiss']:.2f}x faiss); featx's total {fx['seconds']:.3f} s; process wall "
                  f"{wall:.3f} s (with reading the stores); others used {during['others_cores']:.2f} cores")
            with h5py.File(out, "r") as f:
                fi, fs, qrows = f["indices"][:], f["similarities"][:], f["query_rows"][:]
            if fi.shape != (a.queries, a.k) or sorted(qrows.tolist()) != list(range(a.queries)):
                print(f"  neighbours file: indices {fi.shape}, {len(qrows)} query rows: not Q x k over every query")
                fx["comparison"] = {"error": "shape"}
            else:
                c = fx["comparison"] = compare(fi, fs, qrows, I, D, qn, xn)
                print(f"  neighbour lists: {c['identical']} of {c['queries']} identical, {c['differ_by_ties']} differ "
                      f"by near-ties (<= {TOL:g}) only, {c['differ_otherwise']} otherwise; max |similarity diff| "
                      f"{c['max_abs_sim_diff']:.2e}; identical up to ties: {'yes' if c['identical_up_to_ties'] else 'no'}")
            doc["featx"] = fx

    end = load_reading()
    print(f"\ncpu: {bench_env.cpu_model()}; {a.threads} threads; faiss {fa['queries_per_s']:.0f} queries/s"
          + (f", featx {doc['featx']['queries_per_s']:.0f} queries/s ({doc['featx']['ratio_vs_faiss']:.2f}x)"
             if "queries_per_s" in doc.get("featx", {}) else ""))
    print("machine after: " + fmt_load(end))
    doc["load_end"] = end
    write_json(doc, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
