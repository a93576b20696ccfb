#!/usr/bin/env python3
"""Full-size parity reference for the Inception v3, GoogLeNet and RDNet families
(Tests/Fixtures/backbones/family_<arch>.safetensors + families.json, pixels/<id>.inception.png, pixels/<id>.rdnet.png).

    .cache/venv/bin/python tools/make_family_reference.py            # write
    .cache/venv/bin/python tools/make_family_reference.py --positions 4096

inception_v3 and googlenet are torchvision's (aux_logits=True, transform_input=True, as make_weights builds
them), rdnet_tiny is timm's; all three carry featx-random-v1 seed-0 weights (tools/make_weights.py).  The
4 images are full_reference.json's (`image_order`), each family with its own preprocessing:

  inception_v3  torchvision Resize(342) + CenterCrop(299) (PIL bilinear, antialiased), ImageNet mean/std;
                the model's transform_input=True is applied inside its forward
  googlenet     the existing `imagenet` preset: Resize(256) + CenterCrop(224), ImageNet mean/std
  rdnet_tiny    timm's eval transform for its pretrained_cfg (resolve_data_config + create_transform):
                Resize(248, bicubic) + CenterCrop(224) + ToTensor + Normalize(ImageNet mean/std)

The uint8 network input of every image is stored as a PNG; the float input is computed from the PNG's
pixels as make_reference.to_input does for `imagenet` (px/255, then (x - mean)/std in float32).

Deterministic (a second run writes byte-identical files); single-threaded, float32, eval mode, no grad.
"""
from __future__ import annotations

import argparse
import collections
import io
import os
import sys
import time
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_weights as mw  # noqa: E402  (also applies the torchvision import workaround)
import make_reference as mr  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms as T  # noqa: E402

import timm  # noqa: E402  (after make_weights: timm imports torchvision)
from timm.data import create_transform, resolve_data_config  # noqa: E402

OUT = mr.DEFAULT_OUT
SEED = 0
POSITIONS_SEED = 7
DEFAULT_POSITIONS = 2048
FORMAT = "featx-family-reference-v1"

INCEPTION_TAPS = ["Conv2d_4a_3x3", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                  "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool"]
GOOGLENET_TAPS = ["maxpool2", "inception3a", "inception3b", "inception4a", "inception4b", "inception4c",
                  "inception4d", "inception4e", "inception5a", "inception5b", "avgpool"]
RDNET_TAPS = ["stem"] + [f"dense_stages.{i}" for i in range(7)] + ["pre_logits"]
FINAL_TAPS = {"inception_v3": "avgpool", "googlenet": "avgpool", "rdnet_tiny": "pre_logits"}


def versions() -> dict:
    return dict(mr.versions(), timm=timm.__version__)


# --------------------------------------------------------------------------------------------------
# preprocessing


def inception_pixels(path: str) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    out = T.Compose([T.Resize(342), T.CenterCrop(299)])(img)
    px = np.ascontiguousarray(np.asarray(out, dtype=np.uint8))
    assert px.shape == (299, 299, 3), px.shape
    return px


def rdnet_transform():
    m = timm.create_model("rdnet_tiny", pretrained=False)
    cfg = resolve_data_config({}, model=m)
    tf = create_transform(**cfg)
    return cfg, tf


def rdnet_pixels(path: str, tf) -> Tuple[np.ndarray, torch.Tensor]:
    """The uint8 crop (timm's transform without its ToTensor/Normalize steps) and timm's full output."""
    steps = list(tf.transforms)
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["Resize", "CenterCrop", "MaybeToTensor", "Normalize"], kinds
    img = Image.open(path).convert("RGB")
    crop = img
    for s in steps[:2]:
        crop = s(crop)
    px = np.ascontiguousarray(np.asarray(crop, dtype=np.uint8))
    assert px.shape == (224, 224, 3), px.shape
    full = tf(Image.open(path).convert("RGB"))
    # ToTensor + Normalize of the uint8 crop is exactly timm's full transform
    again = T.Compose(steps[2:])(Image.fromarray(px, mode="RGB"))
    assert again.dtype == torch.float32 and torch.equal(again, full), "rdnet: crop + ToTensor/Normalize != timm"
    return px, full


def input_from_png(png: bytes, mean=mr.IMAGENET_MEAN, std=mr.IMAGENET_STD) -> torch.Tensor:
    """The float32 CHW network input from the PNG's pixels: px/255, then TF.normalize (= ToTensor + Normalize;
    make_reference.to_input(px, 'imagenet') for ImageNet's mean/std), cross-checked against the same
    arithmetic in numpy. The one home of this step for every fixture generator."""
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.uint8)
    x = torch.from_numpy(px.copy()).permute(2, 0, 1).float().div(255)
    x = TF.normalize(x, list(mean), list(std)).contiguous()
    m32 = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    s32 = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
    xn = (px.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0) - m32) / s32
    assert xn.dtype == np.float32 and np.array_equal(xn, x.numpy()), "numpy and torch normalisation differ"
    return x


def tensor_table(tensors: Dict[str, np.ndarray]) -> dict:
    """dtype, shape and max |value| of every stored tensor, by name (the fixtures' JSON `tensors` table)."""
    for k, v in tensors.items():
        assert v.flags["C_CONTIGUOUS"], k
        assert v.dtype in (np.float32, np.float64, np.int64), (k, v.dtype)
    return {k: {"dtype": str(v.dtype), "shape": list(v.shape),
                **({"maxabs": mr.maxabs(v)} if v.dtype != np.int64 else {})} for k, v in sorted(tensors.items())}


# --------------------------------------------------------------------------------------------------
# taps


def hooked_run(model: nn.Module, names: List[str], run: Callable[[], torch.Tensor]) -> "collections.OrderedDict":
    """Outputs of the named submodules (forward hooks, cloned) while `run()` executes."""
    mods = dict(model.named_modules())
    got: Dict[str, torch.Tensor] = {}
    handles = []
    for n in names:
        def hook(_m, _inp, out, n=n):
            assert n not in got, f"{n} ran twice"
            got[n] = out.detach().clone()
        handles.append(mods[n].register_forward_hook(hook))
    try:
        result = run()
    finally:
        for h in handles:
            h.remove()
    return collections.OrderedDict((n, got[n]) for n in names), result


def taps_for(arch: str, model: nn.Module, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
    if arch == "inception_v3":
        taps, _ = hooked_run(model, INCEPTION_TAPS, lambda: model(x))
        taps["avgpool"] = torch.flatten(taps["avgpool"], 1)  # [N, 2048, 1, 1] -> [N, 2048], before dropout
    elif arch == "googlenet":
        taps, _ = hooked_run(model, GOOGLENET_TAPS, lambda: model(x))
        taps["avgpool"] = torch.flatten(taps["avgpool"], 1)
    else:
        names = RDNET_TAPS[:-1]
        taps, feats = hooked_run(model, names, lambda: model.forward_features(x))
        assert torch.equal(feats, taps["dense_stages.6"])  # norm_pre is Identity (head_norm_first=False)
        taps["pre_logits"] = model.forward_head(feats, pre_logits=True)
        # = head.norm (LayerNorm2d over C of the [N, C, 1, 1] average), flattened
        manual = model.head.norm(F.adaptive_avg_pool2d(feats, 1)).flatten(1)
        assert torch.equal(manual, taps["pre_logits"]), "pre_logits != norm(avgpool)"
    return taps


def store_taps(arch: str, taps, final: str, positions: int, cache: Dict[int, np.ndarray],
               tensors: Dict[str, np.ndarray]) -> "collections.OrderedDict":
    """Stores each tap of `arch` into `tensors`: the whole final vector, else the map's channel means, sampled
    values (`positions` per map, drawn once per map size into `cache`) and per-image stats; returns their info."""
    info = collections.OrderedDict()
    n_img = len(mr.IMAGES)
    for tap, t in taps.items():
        t = t.contiguous()
        assert t.dtype == torch.float32 and t.shape[0] == n_img, (arch, tap, t.shape)
        key = f"{arch}.{tap}"
        if tap == final:
            assert t.dim() == 2, (arch, tap, t.shape)
            v = t.numpy()
            tensors[key] = v
            info[tap] = {"shape": [int(t.shape[1])], "maxabs": mr.maxabs(v), "stored": [key]}
            continue
        assert t.dim() == 4 and t.shape[2] * t.shape[3] > 1, (arch, tap, t.shape)
        c, h, w = (int(s) for s in t.shape[1:])
        n = c * h * w
        flat = t.reshape(n_img, n).numpy()
        k = min(positions, n)
        if n not in cache:
            cache[n] = np.sort(np.random.RandomState(POSITIONS_SEED).choice(n, k, replace=False)).astype(np.int64)
        pos = cache[n]
        f64 = flat.astype(np.float64)
        tensors[f"{key}.avg"] = F.adaptive_avg_pool2d(t, 1).flatten(1).numpy()
        tensors[f"{key}.values"] = np.ascontiguousarray(flat[:, pos])
        tensors[f"{key}.stats"] = np.stack([f64.sum(1), (f64 * f64).sum(1), np.abs(f64).max(1)], axis=1)
        info[tap] = {"shape": [c, h, w], "maxabs": mr.maxabs(flat),
                     "avg_maxabs": mr.maxabs(tensors[f"{key}.avg"]), "positions": k,
                     "stored": [f"{key}.{s}" for s in ("avg", "values", "stats")]}
    return info


# --------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT, help=f"output folder (default {mr.rel(OUT, mr.REPO)})")
    ap.add_argument("--positions", type=int, default=DEFAULT_POSITIONS,
                    help=f"sampled positions per feature map (default {DEFAULT_POSITIONS})")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = os.path.abspath(args.out)
    pix_dir = os.path.join(out, "pixels")
    os.makedirs(pix_dir, exist_ok=True)
    t0 = time.perf_counter()

    rd_cfg, rd_tf = rdnet_transform()
    assert tuple(rd_cfg["mean"]) == mr.IMAGENET_MEAN and tuple(rd_cfg["std"]) == mr.IMAGENET_STD, rd_cfg

    presets = {"inception": "inception_v3", "imagenet": "googlenet", "rdnet": "rdnet_tiny"}
    inputs: Dict[str, List[torch.Tensor]] = {p: [] for p in presets}
    images = []
    for img_id, relpath in mr.IMAGES:
        path = os.path.join(mr.DATASETS, relpath)
        with open(path, "rb") as f:
            raw = f.read()
        with Image.open(path) as im:
            size, mode = list(im.size), im.mode
        entry = {"id": img_id, "path": relpath, "jpeg_sha256": mr.sha256(raw), "size_wh": size, "mode": mode,
                 "inputs": {}}
        for preset, arch in presets.items():
            name = f"{img_id}.{preset}.png"
            ppath = os.path.join(pix_dir, name)
            if preset == "inception":
                px = inception_pixels(path)
                png = mr.png_bytes(px)
                mw.atomic_write_bytes(ppath, png)
            elif preset == "rdnet":
                px, timm_full = rdnet_pixels(path, rd_tf)
                png = mr.png_bytes(px)
                mw.atomic_write_bytes(ppath, png)
            else:  # the existing imagenet pixels, written by make_reference.py (part full); not rewritten
                px = mr.pixels_for(path, "imagenet")
                with open(ppath, "rb") as f:
                    png = f.read()
                on_disk = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
                assert np.array_equal(on_disk, px), f"{name} is stale: run tools/make_reference.py --only full"
            x = input_from_png(png)
            if preset == "rdnet":
                assert torch.equal(x, timm_full), "rdnet: input from the PNG != timm's transform output"
            inputs[preset].append(x)
            entry["inputs"][arch] = {
                "preset": preset,
                "pixels": f"pixels/{name}",
                "shape_hwc": list(px.shape),
                "rgb8_sha256": mr.sha256(px.tobytes()),
                "png_sha256": mr.sha256(png),
                "input_shape_chw": list(x.shape),
                "input_f32le_sha256": mr.sha256(x.numpy().astype("<f4").tobytes()),
            }
        images.append(entry)

    tensors: Dict[str, np.ndarray] = {}
    models = {}
    tap_info = {}
    positions_cache: Dict[int, np.ndarray] = {}
    with torch.no_grad():
        for preset, arch in presets.items():
            t1 = time.perf_counter()
            model = mw.random_model(arch, SEED)
            assert not model.training
            x = torch.stack(inputs[preset])
            taps = taps_for(arch, model, x)
            final = FINAL_TAPS[arch]
            info = store_taps(arch, taps, final, args.positions, positions_cache, tensors)
            if arch in ("inception_v3", "googlenet"):
                last = INCEPTION_TAPS[-2] if arch == "inception_v3" else GOOGLENET_TAPS[-2]
                assert np.array_equal(tensors[f"{arch}.{last}.avg"], tensors[f"{arch}.avgpool"]), arch
            tap_info[arch] = info
            models[arch] = {"seed": SEED, "rule": mw.RULE_NAME, "preset": preset,
                            "constructor": CONSTRUCTORS[arch],
                            "parameters": int(sum(p.numel() for p in model.parameters())),
                            "state_dict_entries": len(model.state_dict()),
                            "tensors_sha256": mw.tensors_digest(model.state_dict()),
                            "final_tap": final, "taps": info}
            print(f"{arch}: {len(taps)} taps ({time.perf_counter() - t1:.1f}s)")
            del model

    for k, v in tensors.items():
        assert v.flags["C_CONTIGUOUS"], k
        assert v.dtype in (np.float32, np.float64, np.int64), (k, v.dtype)
    # One file per family (each well under 1 MB); the sampled positions are derived, not stored.
    files = {}
    for arch in models:
        part = {k: v for k, v in tensors.items() if k.startswith(arch + ".")}
        files[arch] = f"family_{arch}.safetensors"
        mr.write_safetensors(os.path.join(out, files[arch]), part,
                             metadata={"format": FORMAT, "rule": mw.RULE_NAME, "seed": str(SEED)})

    desc = {
        "format": FORMAT,
        "files": files,
        "generator": "tools/make_family_reference.py",
        "versions": versions(),
        "dataset_root": mr.DATASETS,
        "image_order": [i for i, _ in mr.IMAGES],
        "images": images,
        "preprocessing": {
            "inception": "inception_v3: PIL Image.open(p).convert('RGB'); torchvision transforms.Resize(342) (shorter "
                         "side, PIL bilinear, antialiased) + transforms.CenterCrop(299); uint8 HWC = "
                         "pixels/<id>.inception.png; x = px/255 then (x - mean)/std in float32, ImageNet mean "
                         "(0.485, 0.456, 0.406) std (0.229, 0.224, 0.225). The model itself then applies "
                         "transform_input (see models.inception_v3.transform_input).",
            "imagenet": "googlenet: the `imagenet` preset of full_reference.json: Resize(256) + CenterCrop(224) "
                        "(PIL bilinear, antialiased), pixels/<id>.imagenet.png, ImageNet mean/std; the model applies "
                        "transform_input too.",
            "rdnet": {
                "what": "rdnet_tiny: timm's eval transform for its pretrained_cfg, resolve_data_config({}, model=m) "
                        "then create_transform(**cfg), on the PIL RGB image: Resize(248) (shorter side = "
                        "floor(224 / 0.9), PIL bicubic, antialiased) + CenterCrop(224) + ToTensor + Normalize. "
                        "pixels/<id>.rdnet.png is the uint8 image after the CenterCrop; ToTensor + Normalize of it "
                        "equals timm's full transform output exactly (asserted).",
                "data_config": mr_json(rd_cfg),
                "transform": [str(s) for s in rd_tf.transforms],
            },
            "float_input": "for every preset x = torch.from_numpy(px).permute(2,0,1).float().div(255), then "
                           "(x - mean)/std with float32 mean/std (make_reference.to_input, = transforms.Normalize); "
                           "identical to numpy (px.astype(float32) / float32(255) - mean32) / std32 (asserted). "
                           "images[].inputs[arch].input_f32le_sha256 is the sha256 of that [3,H,W] tensor as "
                           "little-endian float32 in C order.",
        },
        "models": models,
        "inception_transform_input": {
            "applies_to": ["inception_v3", "googlenet"],
            "code": "x_c = x[:, c] * (std_c / 0.5) + (mean_c - 0.5) / 0.5 per channel (torchvision _transform_input)",
            "scale_float64": [0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5],
            "shift_float64": [(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5],
            "scale_float64_hex": [(0.229 / 0.5).hex(), (0.224 / 0.5).hex(), (0.225 / 0.5).hex()],
            "shift_float64_hex": [((0.485 - 0.5) / 0.5).hex(), ((0.456 - 0.5) / 0.5).hex(),
                                  ((0.406 - 0.5) / 0.5).hex()],
            "note": "float32 tensor times / plus Python floats: torch computes in float32 with the constants "
                    "rounded to float32",
        },
        "tensors": {
            k: {"dtype": str(v.dtype), "shape": list(v.shape),
                **({"maxabs": mr.maxabs(v)} if v.dtype != np.int64 else {})} for k, v in sorted(tensors.items())
        },
        "tensor_notes": {
            "<arch>.<tap>.avg": "float32 [4, C]: adaptive_avg_pool2d(map, 1) of the tap's [C, H, W] map, rows in "
                                "image_order",
            "<arch>.<tap>.values": "float32 [4, n]: the map flattened per image in C order (index = c*H*W + y*W + "
                                   f"x) at the positions np.sort(np.random.RandomState({POSITIONS_SEED}).choice("
                                   f"C*H*W, n, replace=False)), n = min({args.positions}, C*H*W) (not stored: "
                                   "choice without replacement is permutation(C*H*W)[:n])",
            "<arch>.<tap>.stats": "float64 [4, 3]: per image over the whole flattened map (float32 widened to "
                                  "float64): sum, sum of squares, max |v|",
            "<arch>.<final>": "float32 [4, C]: the whole final vector: inception_v3.avgpool [4,2048] and "
                              "googlenet.avgpool [4,1024] = torch.flatten(model.avgpool(...), 1) (before dropout "
                              "and fc); rdnet_tiny.pre_logits [4,1040] = model.forward_head(model.forward_features(x), "
                              "pre_logits=True) = head.norm (LayerNorm2d, eps 1e-6) of the global average, flattened",
        },
        "tolerance": {
            "per_image_cosine_min": 0.99999,
            "max_abs_diff": "<= 1e-3 * max|ref| (per tensor)",
            "centred": "also compare after subtracting the per-dimension mean over the 4 images",
        },
    }
    mr.write_json(os.path.join(out, "families.json"), desc)
    sizes = ", ".join(f"{f} {os.path.getsize(os.path.join(out, f)):,d} B" for f in files.values())
    print(f"wrote {sizes} ({len(tensors)} tensors), families.json, "
          f"{2 * len(mr.IMAGES)} PNGs ({time.perf_counter() - t0:.1f}s)")
    return 0


CONSTRUCTORS = {
    "inception_v3": "torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, "
                    "init_weights=False), eval()",
    "googlenet": "torchvision.models.googlenet(weights=None, aux_logits=True, transform_input=True, "
                 "init_weights=False), eval()",
    "rdnet_tiny": "timm.create_model('rdnet_tiny', pretrained=False), eval()",
}


def mr_json(obj):
    """tuples -> lists, recursively (for JSON)."""
    if isinstance(obj, dict):
        return {k: mr_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [mr_json(v) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
