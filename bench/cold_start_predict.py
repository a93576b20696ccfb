#!/usr/bin/env python3
"""Classify one image with ResNet50 from process start: the Python side of featx's cold-start comparison.

    /usr/bin/time -v .cache/bench-venv/bin/python bench/cold_start_predict.py IMAGE [--weights FILE.pth]
    bench/cold_start.sh IMAGE         # times 5 runs (hyperfine if installed)

Imports torch + torchvision, builds torchvision resnet50 (weights=None), loads a state_dict with
torch.load(weights_only=True), applies the imagenet preset (Resize(256), CenterCrop(224), ToTensor,
Normalize(ImageNet mean/std)), runs the one image and prints the top-5 class indices with softmax
probabilities on stdout. Phase times go to stderr (--quiet drops them).

The whole process is the measurement, so this script does no 1 s idle sampling of its own (that would add a
second to the timed run); it prints /proc/loadavg to stderr, and cold_start.sh samples the load and
supports --wait-idle before timing.

Run it with the bench venv's Python directly (bench/setup makes .cache/bench-venv): started by another Python
it re-executes itself there (FEATX_BENCH_PYTHON overrides), which a cold-start measurement should not include.
Make a weights file (random, seeded) from the repository root with (cold_start.sh does it for you):
    .cache/bench-venv/bin/python tools/make_weights.py --arch resnet50 --seed 0 --format zip \\
        -o bench/.cache/resnet50-random0.pth
"""
import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

import bench_env  # noqa: E402

bench_env.ensure_python()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image")
    ap.add_argument("--weights", default=os.path.join(HERE, ".cache", "resnet50-random0.pth"))
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--quiet", action="store_true", help="no phase times on stderr")
    a = ap.parse_args()
    log = (lambda *x: None) if a.quiet else (lambda *x: print(*x, file=sys.stderr))
    with open("/proc/loadavg") as f:
        log("loadavg " + " ".join(f.read().split()[:3]))

    t = time.perf_counter()
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms
    t_import = time.perf_counter() - t

    if a.threads:
        torch.set_num_threads(a.threads)
    t = time.perf_counter()
    model = torchvision.models.resnet50(weights=None)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    model.load_state_dict(torch.load(a.weights, weights_only=True))
    model.eval()
    t_load = time.perf_counter() - t

    t = time.perf_counter()
    preprocess = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                     transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = preprocess(Image.open(a.image).convert("RGB")).unsqueeze(0)
    t_pre = time.perf_counter() - t

    t = time.perf_counter()
    with torch.inference_mode():
        probs = torch.softmax(model(x), dim=1)[0]
    t_fwd = time.perf_counter() - t
    top = torch.topk(probs, 5)
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        print(f"{i}\t{p:.6f}")
    log(f"phases: import {t_import:.2f} s, build {t_build:.2f} s, load weights {t_load:.2f} s, "
        f"decode+preprocess {t_pre:.3f} s, forward {t_fwd:.3f} s; "
        f"total since interpreter start of script {time.perf_counter() - T0:.2f} s "
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
