#!/usr/bin/env python3
"""Peer baselines: forward-only throughput of the backbone *as featx uses it*, on other engines.

    bench/peers.py                       # densenet121, resnet50, resnet18; all engines
    bench/peers.py --arch resnet50 --engines eager,ort --seconds 10 --json out.json
    bench/peers.py --wait-idle 120       # wait up to 120 s for >= 90% idle before each run

Runs in the bench venv (.cache/bench-venv, made by bench/setup on first use; FEATX_BENCH_PYTHON overrides).

Network: torchvision `weights=None` (seeded random init), float32, NCHW input [batch, 3, S, S] with S the
architecture's evaluation size (224; 299 for inception_v3).
  densenet121 -> `model.features`            -> [N, 1024, 7, 7]
  resnet18/50 -> everything up to `avgpool`  -> [N, 512 | 2048] (fc replaced by Identity)
  inception_v3, googlenet (not in the default set) -> up to `avgpool` with transform_input=True, as
                 torchvision builds them for its weights -> [N, 2048 | 1024] (fc replaced by Identity)
  rdnet_tiny (not in the default set) -> timm `create_model('rdnet_tiny', num_classes=0)`: pre-logits [N, 1040]
  efficientnet_b0, tf_efficientnet_lite0 (not in the default set) -> timm `create_model(arch, num_classes=0)`:
                 the pooled [N, 1280] (tf_: TensorFlow "same" padding through timm's Conv2dSame)
  vit_small_patch14_dinov2 (img_size=224), vit_base_patch16_224, vit_base_patch16_clip_224, convnext_tiny
                 (not in the default set) -> timm `create_model(arch, num_classes=0)`: pre-logits [N, D]

Engines (each measured in its own fresh subprocess so that thread pools of one engine never linger into
the next):
  eager      PyTorch eager, torch.inference_mode, torch.set_num_threads(threads)
  jit        PyTorch channels_last + torch.jit.trace + torch.jit.freeze
  ort        ONNX Runtime CPU EP, intra_op_num_threads=threads, ORT_ENABLE_ALL, sequential
  openvino   OpenVINO CPU, INFERENCE_NUM_THREADS=threads, INFERENCE_PRECISION_HINT=f32, measured with
             PERFORMANCE_HINT=LATENCY (one synchronous request) and THROUGHPUT (AsyncInferQueue with the
             plugin's optimal number of requests, each a full batch); the better one is reported
  openvino_bf16  (not in the default set) OpenVINO with its *default* precision, which is bf16 on CPUs
             with AVX512_BF16/AMX: what an out-of-the-box OpenVINO run does
  eager_bf16 (not in the default set) PyTorch eager, channels_last, under torch.autocast("cpu", bfloat16)

Throughput: warm-up (>= 2 iterations and >= 2 s), then iterations until >= --seconds have passed;
img/s is reported both as the median of per-iteration rates and as total images / total time.
GFLOPS = (2 * MACs of every Conv2d/Linear per image, counted once with forward hooks) * img/s.
Each engine's output on a fixed input is compared with PyTorch eager's (max |diff| / max |ref|).

Before every measurement the script prints /proc/loadavg and a 1 s /proc/stat idle sample, and after it
how many cores *other* processes used during the measurement (machine busy time minus our own CPU time);
a measurement during which others used more than 0.1 cores is marked "contended" in the table, and
--retries K measures it again (after --wait-idle, if given), keeping the least contended run.
The ONNX files and reference tensors live in bench/.cache/ (git-ignored).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
ARCHS = ["densenet121", "resnet50", "resnet18"]
OPTIONAL_ARCHS = ["inception_v3", "googlenet", "rdnet_tiny", "efficientnet_b0", "tf_efficientnet_lite0",
                  "vit_small_patch14_dinov2", "vit_base_patch16_224", "vit_base_patch16_clip_224", "convnext_tiny"]
ENGINES = ["eager", "jit", "ort", "openvino"]
OPTIONAL_ENGINES = ["openvino_bf16", "eager_bf16"]
SIZES = {"inception_v3": 299}
OPSET = 17

import bench_env  # noqa: E402

bench_env.ensure_python()

from machine_load import OthersMeter, fmt_load, load_reading, wait_idle, write_json  # noqa: E402


# --------------------------------------------------------------------------------------------------
# torch side (parent and torch workers)

def import_torch():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import torch
    import torchvision  # noqa: F401
    return torch


def build_extractor(arch: str):
    torch = import_torch()
    import torchvision.models as tvm
    torch.manual_seed(0)
    if arch.startswith(("rdnet", "efficientnet", "tf_efficientnet", "vit_", "convnext")):
        import timm
        # DINOv2 at 224 (its published linear probes' size), as featx's --crop 224 runs it
        kwargs = {"img_size": 224} if arch.endswith("_dinov2") else {}
        return timm.create_model(arch, pretrained=False, num_classes=0, **kwargs).eval()
    if arch in ("inception_v3", "googlenet"):
        m = getattr(tvm, arch)(weights=None, aux_logits=False, transform_input=True, init_weights=False)
    else:
        m = getattr(tvm, arch)(weights=None)
    if arch.startswith("densenet"):
        m = m.features
    else:
        m.fc = torch.nn.Identity()
    return m.eval()


def count_flops(model, shape) -> int:
    """2 * MACs of every Conv2d and Linear for one forward pass of `shape`."""
    torch = import_torch()
    total = [0]

    def conv_hook(mod, inp, out):
        kh, kw = mod.kernel_size
        total[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw

    def lin_hook(mod, inp, out):
        total[0] += 2 * out.numel() * mod.in_features

    hooks = []
    for mod in model.modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, torch.nn.Linear):
            hooks.append(mod.register_forward_hook(lin_hook))
    with torch.inference_mode():
        model(torch.zeros(shape))
    for h in hooks:
        h.remove()
    return total[0]


def paths(arch: str, batch: int) -> dict:
    base = os.path.join(CACHE, "peers")
    size = SIZES.get(arch, 224)
    return {"dir": base, "size": size,
            "state": os.path.join(base, f"{arch}-seed0.pt"),
            "onnx": os.path.join(base, f"{arch}-b{batch}-opset{OPSET}.onnx"),
            "input": os.path.join(base, f"input-b{batch}.npy" if size == 224 else f"input-b{batch}-{size}.npy"),
            "ref": os.path.join(base, f"{arch}-b{batch}-ref.npy")}


def prepare(arch: str, batch: int, need_onnx: bool, threads: int) -> dict:
    """Build the network once in the parent: FLOPs, state_dict, fixed input, eager reference, ONNX file."""
    import numpy as np
    torch = import_torch()
    torch.set_num_threads(threads)
    p = paths(arch, batch)
    os.makedirs(p["dir"], exist_ok=True)
    model = build_extractor(arch)
    size = p["size"]
    flops = count_flops(model, (1, 3, size, size))
    if not os.path.exists(p["state"]):
        torch.save(model.state_dict(), p["state"])
    if not os.path.exists(p["input"]):
        np.save(p["input"], np.random.RandomState(0).rand(batch, 3, size, size).astype(np.float32))
    x = torch.from_numpy(np.load(p["input"]))
    if not os.path.exists(p["ref"]):
        with torch.inference_mode():
            np.save(p["ref"], model(x).numpy())
    out_shape = list(np.load(p["ref"], mmap_mode="r").shape)
    if need_onnx and not os.path.exists(p["onnx"]):
        t0 = time.time()
        tmp = p["onnx"] + ".tmp"
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:    # the TorchScript-based exporter: one self-contained file, fixed shapes
                torch.onnx.export(model, (x,), tmp, opset_version=OPSET, input_names=["input"],
                                  output_names=["output"], dynamo=False, do_constant_folding=True)
            except Exception as e:  # noqa: BLE001  (newer torch may drop it: fall back to dynamo)
                print(f"  legacy ONNX export failed ({e}); using dynamo=True", file=sys.stderr)
                torch.onnx.export(model, (x,), tmp, opset_version=OPSET, input_names=["input"],
                                  output_names=["output"], dynamo=True, external_data=False)
        os.replace(tmp, p["onnx"])
        print(f"  exported {os.path.relpath(p['onnx'])} in {time.time() - t0:.1f} s", file=sys.stderr)
    return {"flops_per_image": flops, "output_shape": out_shape}


# --------------------------------------------------------------------------------------------------
# worker: one engine, one arch, one fresh process

def timed_loop(step, batch: int, seconds: float, warmup_s: float = 2.0, images_per_step: int | None = None):
    ips = images_per_step or batch
    t0 = time.perf_counter()
    n = 0
    while n < 2 or time.perf_counter() - t0 < warmup_s:
        step()
        n += 1
    warm = time.perf_counter() - t0
    meter = OthersMeter().start()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        a = time.perf_counter()
        step()
        times.append(time.perf_counter() - a)
    total = time.perf_counter() - start
    rates = [ips / t for t in times]
    return {"iterations": len(times), "images": ips * len(times), "seconds": round(total, 3),
            "img_s_median": statistics.median(rates), "img_s_total": ips * len(times) / total,
            "img_s_min": min(rates), "img_s_max": max(rates), "warmup_s": round(warm, 2),
            "during": meter.stop()}


def rel_err(out, ref) -> float:
    import numpy as np
    out = np.asarray(out, dtype=np.float32).reshape(ref.shape)
    return float(np.max(np.abs(out - ref)) / max(1e-30, float(np.max(np.abs(ref)))))


def worker(cfg: dict) -> dict:
    import numpy as np
    arch, eng, batch, threads, seconds = cfg["arch"], cfg["engine"], cfg["batch"], cfg["threads"], cfg["seconds"]
    p = paths(arch, batch)
    x_np = np.load(p["input"])
    ref = np.load(p["ref"])
    res: dict = {"arch": arch, "engine": eng}
    t_setup = time.perf_counter()

    if eng in ("eager", "jit", "eager_bf16"):
        torch = import_torch()
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        model = build_extractor(arch)
        model.load_state_dict(torch.load(p["state"], weights_only=True))
        x = torch.from_numpy(x_np)
        if eng == "eager":
            def step():
                with torch.inference_mode():
                    return model(x)
        elif eng == "eager_bf16":
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)

            def step():
                with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
                    return model(x).float()
        else:
            import warnings
            warnings.simplefilter("ignore")
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                model = torch.jit.freeze(torch.jit.trace(model, (x,)))

            def step():
                with torch.inference_mode():
                    return model(x)
        res["setup_s"] = round(time.perf_counter() - t_setup, 2)
        res["max_rel_err"] = rel_err(step().contiguous().numpy(), ref)
        res.update(timed_loop(step, batch, seconds))
        res["versions"] = {"torch": torch.__version__}

    elif eng == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(p["onnx"], so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def step():
            return sess.run(None, {name: x_np})[0]
        res["setup_s"] = round(time.perf_counter() - t_setup, 2)
        res["max_rel_err"] = rel_err(step(), ref)
        res.update(timed_loop(step, batch, seconds))
        res["versions"] = {"onnxruntime": ort.__version__}

    elif eng in ("openvino", "openvino_bf16"):
        import openvino as ov
        core = ov.Core()
        model = core.read_model(p["onnx"])
        res["hints"] = {}
        for hint in ("LATENCY", "THROUGHPUT"):
            t_setup = time.perf_counter()
            conf = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": hint}
            if eng == "openvino":
                conf["INFERENCE_PRECISION_HINT"] = "f32"
            cm = core.compile_model(model, "CPU", conf)
            prec = cm.get_property("INFERENCE_PRECISION_HINT")
            info = {"precision": prec.to_string() if hasattr(prec, "to_string") else str(prec),
                    "streams": int(cm.get_property("NUM_STREAMS")),
                    "nireq": int(cm.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))}
            if hint == "LATENCY":
                req = cm.create_infer_request()

                def step():
                    req.infer({0: x_np})
                    return req.get_output_tensor(0).data
                ips = batch
            else:
                nireq = max(1, info["nireq"])
                queue = ov.AsyncInferQueue(cm, nireq)

                def step():   # one round: every request runs one full batch, concurrently
                    for _ in range(nireq):
                        queue.start_async({0: x_np})
                    queue.wait_all()
                    return queue[0].get_output_tensor(0).data
                ips = batch * nireq
            info["setup_s"] = round(time.perf_counter() - t_setup, 2)
            info["max_rel_err"] = rel_err(step(), ref)
            info.update(timed_loop(step, batch, seconds, images_per_step=ips))
            res["hints"][hint] = info
            print(f"    openvino {hint:<10} {info['img_s_total']:7.2f} img/s (median {info['img_s_median']:.2f}),"
                  f" streams {info['streams']}, nireq {info['nireq']}, precision {info['precision']},"
                  f" others used {info['during']['others_cores']:.2f} cores", file=sys.stderr)
            del cm
        best = max(res["hints"], key=lambda h: res["hints"][h]["img_s_total"])
        res["best_hint"] = best
        res.update({k: v for k, v in res["hints"][best].items() if k not in ("streams", "nireq")})
        res["versions"] = {"openvino": ov.get_version()}
    else:
        raise SystemExit(f"unknown engine {eng}")
    return res


# --------------------------------------------------------------------------------------------------
# parent

CONTENDED = 0.1   # cores used by other processes during a measurement above which it is marked contended


def run_engine(arch: str, eng: str, a) -> dict:
    """One measurement of one engine in a fresh subprocess (after the load reading / idle wait)."""
    reading = wait_idle(a.wait_idle) if a.wait_idle > 0 else load_reading()
    print(f"  {eng:<14} before: {fmt_load(reading)}", flush=True)
    cfg = {"arch": arch, "engine": eng, "batch": a.batch, "threads": a.threads, "seconds": a.seconds}
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(cfg)],
                          stdout=subprocess.PIPE, text=True, env=env)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    if proc.returncode != 0 or not line:
        print(f"  {eng:<14} FAILED (exit {proc.returncode})", flush=True)
        return {"arch": arch, "engine": eng, "error": f"exit {proc.returncode}", "load_before": reading}
    r = json.loads(line[-1][len("@@RESULT@@"):])
    r["load_before"] = reading
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default=",".join(ARCHS),
                    help="comma list of %s (default: %s)" % ("|".join(ARCHS + OPTIONAL_ARCHS), ",".join(ARCHS)))
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="comma list of %s (default: %s)" % ("|".join(ENGINES + OPTIONAL_ENGINES), ",".join(ENGINES)))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per engine (after warm-up)")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="N",
                    help="before each measurement wait up to N s for a >= 90%% idle 1 s sample")
    ap.add_argument("--retries", type=int, default=0, metavar="K",
                    help="measure an engine again (up to K times) when other processes used more than "
                         f"{CONTENDED} cores during it; the least contended run is kept")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                    help="also write results as JSON to FILE (or stdout with no FILE)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker:
        print("@@RESULT@@" + json.dumps(worker(json.loads(a.worker))), flush=True)
        return 0

    archs = [s for s in a.arch.split(",") if s]
    engines = [s for s in a.engines.split(",") if s]
    for s in archs:
        if s not in ARCHS + OPTIONAL_ARCHS:
            ap.error(f"unknown arch {s}")
    for s in engines:
        if s not in ENGINES + OPTIONAL_ENGINES:
            ap.error(f"unknown engine {s}")

    print(f"peers.py  {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}  host {platform.node()}")
    print(f"cpu: {bench_env.cpu_model()}, {os.cpu_count()} logical cpus; batch {a.batch}, threads {a.threads}, "
          f"{a.seconds:g} s per engine, float32 input [{a.batch},3,S,S] (S = 224, 299 for inception_v3)")
    start_load = load_reading()
    print("machine before start: " + fmt_load(start_load), flush=True)

    results = []
    meta = {}
    for arch in archs:
        print(f"\n== {arch}", flush=True)
        meta[arch] = prepare(arch, a.batch, any(e.startswith(("ort", "openvino")) for e in engines), a.threads)
        gf = meta[arch]["flops_per_image"] / 1e9
        print(f"  {gf:.3f} GFLOP per image (2*MACs of conv+linear), output {meta[arch]['output_shape']}", flush=True)
        for eng in engines:
            best = None
            for attempt in range(1 + a.retries):
                r = run_engine(arch, eng, a)
                if "error" not in r:
                    r["gflops"] = r["img_s_total"] * meta[arch]["flops_per_image"] / 1e9
                    r["gflop_per_image"] = gf
                    r["attempts"] = attempt + 1
                    hint = f" [{r['best_hint']}]" if "best_hint" in r else ""
                    print(f"  {eng:<14} {r['img_s_total']:7.2f} img/s total, {r['img_s_median']:7.2f} median, "
                          f"{r['gflops']:6.1f} GFLOPS, {r['iterations']} iters in {r['seconds']:.1f} s, "
                          f"err {r['max_rel_err']:.1e}, others used {r['during']['others_cores']:.2f} cores{hint}",
                          flush=True)
                if best is None or "error" in best or (
                        "error" not in r and r["during"]["others_cores"] < best["during"]["others_cores"]):
                    best = r
                if "error" in r or r["during"]["others_cores"] <= CONTENDED:
                    break
                if attempt < a.retries:
                    print(f"  {eng:<14} contended (others used > {CONTENDED} cores): measuring again", flush=True)
            results.append(best)

    end_load = load_reading()
    print("\nmachine after: " + fmt_load(end_load))
    print("\n| arch | engine | img/s (total) | img/s (median) | GFLOPS | max rel err | idle before | others' cores during |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['arch']} | {r['engine']} | failed | | | | {r['load_before']['idle_pct']:.0f}% | |")
            continue
        eng = r["engine"] + (f" ({r['best_hint'].lower()})" if "best_hint" in r else "")
        mark = " (contended)" if r["during"]["others_cores"] > CONTENDED else ""
        print(f"| {r['arch']} | {eng} | {r['img_s_total']:.2f} | {r['img_s_median']:.2f} | {r['gflops']:.1f} | "
              f"{r['max_rel_err']:.1e} | {r['load_before']['idle_pct']:.0f}% | {r['during']['others_cores']:.2f}{mark} |")

    doc = {"script": "bench/peers.py", "date": start_load["time"], "host": platform.node(), "cpu": bench_env.cpu_model(),
           "batch": a.batch, "threads": a.threads, "seconds": a.seconds, "load_start": start_load,
           "load_end": end_load, "networks": meta, "results": results}
    write_json(doc, a.json)
    if a.json and a.json != "-":
        print(f"\nwrote {a.json}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
