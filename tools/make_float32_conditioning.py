#!/usr/bin/env python3
"""How far PyTorch's own float32 output is from float64 at every EfficientNet parity tap
(Tests/Fixtures/efficientnet/float32_conditioning.json): the resolution of the float32 references.

    .cache/effnet-venv/bin/python tools/make_float32_conditioning.py

featx's float32 parity bound (TestSupport's ParityReport.f32RelativeBound) is ~10x the worst error featx shows
against references that float32 determines. featx-random-v1 EfficientNets are not all such references: their
activations grow stage after stage (timm_efficientnet_b0: max |head| ~1500; B4: ~30x a stage), and at the
deepest taps PyTorch's float32 differs from its own float64 by up to ~1e-4 of max |ref|: featx's difference from
the reference there is the reference's rounding, not featx's. EfficientNetParityTests allows each tap
max(f32 bound, 10 x the relative_max_error recorded here).

For every model of make_efficientnet_fixtures.py (the four featx-random-v1 seed-0 models at 224 on
pixels/<id>.lite.png, efficientnet_b4 at 380 on pixels/<id>.b4.png, and the genuine lite0 file when the venv
has it): the same taps with the model and its input in float32 and in float64 (copy.deepcopy(model).double()),
and per tap max |float32 - float64| / max |float64| over the four images. Deterministic (single-threaded,
eval mode, no grad); needs the venv of make_efficientnet_fixtures.py, whose functions it uses.
"""
from __future__ import annotations

import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_efficientnet_fixtures as mef  # noqa: E402
import make_reference as mr  # noqa: E402

import torch  # noqa: E402

OUT = os.path.join(mr.REPO, "Tests", "Fixtures", "efficientnet", "float32_conditioning.json")
PIXELS = os.path.join(mr.REPO, "Tests", "Fixtures", "efficientnet", "pixels")


def inputs(pixels: str, mean, std) -> torch.Tensor:
    """The four committed crops, normalised as make_efficientnet_fixtures.py does."""
    xs = []
    for img_id, _ in mr.IMAGES:
        with open(os.path.join(PIXELS, f"{img_id}.{pixels}.png"), "rb") as f:
            xs.append(mef.input_from_png(f.read(), mean, std))
    return torch.stack(xs)


def conditioning(taps, model: torch.nn.Module, x: torch.Tensor) -> dict:
    with torch.no_grad():
        t32, _ = taps(model, x)
        t64, _ = taps(copy.deepcopy(model).double(), x.double())
    return {k: float((t32[k].double() - t64[k]).abs().max() / t64[k].abs().max()) for k in t32}


def main() -> int:
    torch.set_num_threads(1)
    models = {}
    for arch in [a for a in mef.ARCHS if a != "efficientnet_b4"]:
        model, _ = mef.random_model(arch)
        x = inputs(mef.PRESET, mef.NORM[arch], mef.STDS[arch])
        models[arch] = conditioning(lambda m, i, a=arch: mef.taps_for(a, m, i), model, x)
        print(f"{arch}: worst {max(models[arch].values()):.3g}", flush=True)
    mef.ARCHS["efficientnet_b4"] = "torchvision"
    model, _ = mef.random_model("efficientnet_b4")
    models["efficientnet_b4"] = conditioning(mef.tv_taps, model, inputs("b4", mr.IMAGENET_MEAN, mr.IMAGENET_STD))
    print(f"efficientnet_b4: worst {max(models['efficientnet_b4'].values()):.3g}", flush=True)
    try:
        model, _ = mef.genuine_lite0()
    except (ImportError, NameError, SystemExit, FileNotFoundError) as error:
        print(f"genuine lite0 left out: {error}")
    else:
        models["genuine_lite0"] = conditioning(mef.lukemelas_taps, model, inputs(mef.PRESET, mef.HALF, mef.HALF))
        print(f"genuine_lite0: worst {max(models['genuine_lite0'].values()):.3g}", flush=True)
    doc = {
        "generator": "tools/make_float32_conditioning.py",
        "versions": mef.versions(),
        "what": "per model and tap: max |PyTorch float32 - PyTorch float64| / max |float64| over the 4 images, same "
                "weights (featx-random-v1 seed 0, or the genuine lite0 file) and input (the committed pixels, "
                "normalised as make_efficientnet_fixtures.py does); the float32 reference of that tap is determined "
                "to about this fraction of its max |value|",
        "models": models,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {mr.rel(OUT, mr.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
