#!/usr/bin/env python3
"""Regenerate featx's backbone parity fixtures in Tests/Fixtures/backbones/.

    .cache/bench-venv/bin/python tools/make_reference.py            # everything
    .cache/bench-venv/bin/python tools/make_reference.py --only tiny bad
    .cache/bench-venv/bin/python tools/make_reference.py --verify   # check what is on disk against torch

Parts (see Tests/Fixtures/backbones/README.md for what each file holds):
  full  full_reference.safetensors/.json + pixels/*.png: full-size densenet121/resnet18/resnet50,
        featx-random-v1 seed 0, on 4 real images
  tiny  tiny/: reduced-width torchvision models of every supported architecture, weights, and the
        output of every tap on seeded inputs
  bad   bad/: hostile and broken weight files, crafted byte by byte (nothing in them is ever executed)
  rule  random_rule.json: test vectors for the featx-random-v1 rule and numpy's legacy RandomState

Everything is deterministic: a second run writes byte-identical files.  Runs single-threaded
(torch.set_num_threads(1)), float32, eval mode, no grad.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import math
import os
import pickle
import pickletools
import shutil
from pathlib import Path
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_weights as mw  # noqa: E402  (also applies the torchvision import workaround)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.numpy import load as st_load  # noqa: E402
from safetensors.numpy import save as st_save  # noqa: E402
from torchvision import transforms as T  # noqa: E402
from torchvision.models import densenet as tv_densenet  # noqa: E402
from torchvision.models import resnet as tv_resnet  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "Tests", "Fixtures", "backbones")
DATASETS = os.environ.get("FEATX_DATASETS", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
SEED = 0

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def versions() -> dict:
    import PIL
    import safetensors

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "Pillow": PIL.__version__,
        "safetensors": safetensors.__version__,
    }


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def write_json(path: str, obj) -> None:
    mw.atomic_write_json(path, obj)


def write_safetensors(path: str, tensors: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None) -> None:
    """safetensors file; the metadata goes in as ONE entry, "featx" = compact sorted JSON, because the
    safetensors writer emits a multi-entry __metadata__ map in random (hash) order."""
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    meta = {"featx": json.dumps(metadata, sort_keys=True, separators=(",", ":"))} if metadata else None
    mw.atomic_write_bytes(path, st_save(tensors, metadata=meta))


def maxabs(a) -> float:
    a = np.asarray(a)
    return float(np.abs(a).max()) if a.size else 0.0


def rel(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


# ==================================================================================================
# a. full-size parity reference

IMAGES = [
    # id, path relative to ../shared/datasets
    ("bird_albatross", "cub_birds50/001.Black_footed_Albatross/0000.jpg"),
    ("bird_goldfinch", "cub_birds50/047.American_Goldfinch/0000.jpg"),
    ("flower_portrait", "flower_photos_small/roses/269037241_07fceff56a_m.jpg"),
    ("flower_landscape", "flower_photos_small/daisy/173350276_02817aa8d5.jpg"),
]

PRESETS = {
    # preset name -> (torchvision transform on the PIL image, normalize?)
    "seed": (T.Resize((224, 224)), False),
    "imagenet": (T.Compose([T.Resize(256), T.CenterCrop(224)]), True),
}

DN_POSITIONS_SEED = 7
DN_NUM_POSITIONS = 8192
DN_FEATURE_LEN = 1024 * 7 * 7


def pixels_for(path: str, preset: str) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    out = PRESETS[preset][0](img)
    px = np.asarray(out, dtype=np.uint8)
    assert px.shape == (224, 224, 3), px.shape
    return np.ascontiguousarray(px)


def png_bytes(px: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(px, mode="RGB").save(buf, format="PNG", optimize=True)
    b = buf.getvalue()
    back = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))
    assert back.dtype == np.uint8 and np.array_equal(back, px), "PNG round trip changed pixels"
    return b


def to_input(px: np.ndarray, preset: str) -> torch.Tensor:
    x = torch.from_numpy(px.copy()).permute(2, 0, 1).float().div(255)
    if PRESETS[preset][1]:
        x = TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD)  # (x - mean) / std in float32, as T.Normalize
    return x.contiguous()


def resnet_avgpool(m: tv_resnet.ResNet, x: torch.Tensor) -> torch.Tensor:
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
    return torch.flatten(m.avgpool(x), 1)


def make_full(out: str) -> dict:
    t0 = time.perf_counter()
    pix_dir = os.path.join(out, "pixels")
    os.makedirs(pix_dir, exist_ok=True)
    images, inputs = [], {p: [] for p in PRESETS}
    for img_id, relpath in IMAGES:
        path = os.path.join(DATASETS, relpath)
        with open(path, "rb") as f:
            raw = f.read()
        with Image.open(path) as im:
            size, mode = list(im.size), im.mode
        entry = {"id": img_id, "path": relpath, "jpeg_sha256": sha256(raw), "size_wh": size, "mode": mode,
                 "pixels": {}}
        for preset in PRESETS:
            px = pixels_for(path, preset)
            name = f"{img_id}.{preset}.png"
            mw.atomic_write_bytes(os.path.join(pix_dir, name), png_bytes(px))
            entry["pixels"][preset] = {"file": f"pixels/{name}", "shape_hwc": list(px.shape),
                                       "rgb8_sha256": sha256(px.tobytes())}
            inputs[preset].append(to_input(px, preset))
        images.append(entry)
    t_pix = time.perf_counter() - t0

    tensors: Dict[str, np.ndarray] = {}
    models = {}
    positions = np.sort(np.random.RandomState(DN_POSITIONS_SEED).choice(DN_FEATURE_LEN, DN_NUM_POSITIONS, replace=False))
    positions = positions.astype(np.int64)
    timings = {"pixels": round(t_pix, 2)}

    with torch.no_grad():
        # densenet121, preset seed, features after norm5 (no ReLU)
        t1 = time.perf_counter()
        m = mw.random_model("densenet121", SEED)
        x = torch.stack(inputs["seed"])
        feat = m.features(x)  # [4, 1024, 7, 7]
        assert tuple(feat.shape) == (4, 1024, 7, 7)
        flat = feat.reshape(4, -1).numpy().astype(np.float32)
        f64 = flat.astype(np.float64)
        tensors["densenet121.features.positions"] = positions
        tensors["densenet121.features.values"] = np.ascontiguousarray(flat[:, positions])
        tensors["densenet121.features.stats"] = np.stack(
            [f64.sum(1), (f64 * f64).sum(1), np.abs(f64).max(1)], axis=1).astype(np.float64)
        tensors["densenet121.features.avg"] = F.adaptive_avg_pool2d(feat, 1).flatten(1).numpy()
        tensors["densenet121.features.max"] = F.adaptive_max_pool2d(feat, 1).flatten(1).numpy()
        # extra: what torchvision's DenseNet.forward feeds its classifier (ReLU, then average pool)
        tensors["densenet121.features.relu_avg"] = F.adaptive_avg_pool2d(F.relu(feat), 1).flatten(1).numpy()
        models["densenet121"] = {"arch": "densenet121", "seed": SEED, "rule": mw.RULE_NAME, "preset": "seed",
                                 "output": "model.features(x): after norm5, no ReLU, NCHW [4,1024,7,7] flattened "
                                           "per image in C order (index = c*49 + y*7 + x) to 50176",
                                 "feature_maxabs": maxabs(flat),
                                 "tensors_sha256": mw.tensors_digest(m.state_dict())}
        timings["densenet121"] = round(time.perf_counter() - t1, 2)
        del m, feat

        for arch, dim in (("resnet18", 512), ("resnet50", 2048)):
            t1 = time.perf_counter()
            m = mw.random_model(arch, SEED)
            y = resnet_avgpool(m, torch.stack(inputs["imagenet"]))
            assert tuple(y.shape) == (4, dim)
            tensors[f"{arch}.avgpool"] = y.numpy().astype(np.float32)
            models[arch] = {"arch": arch, "seed": SEED, "rule": mw.RULE_NAME, "preset": "imagenet",
                            "output": "torch.flatten(model.avgpool(layer4 output), 1)",
                            "maxabs": maxabs(y.numpy()), "tensors_sha256": mw.tensors_digest(m.state_dict())}
            timings[arch] = round(time.perf_counter() - t1, 2)
            del m

    for k, v in tensors.items():
        assert v.flags["C_CONTIGUOUS"], k
    write_safetensors(os.path.join(out, "full_reference.safetensors"), tensors,
                      metadata={"format": "featx-full-reference-v1", "rule": mw.RULE_NAME, "seed": str(SEED)})
    desc = {
        "format": "featx-full-reference-v1",
        "file": "full_reference.safetensors",
        "generator": "tools/make_reference.py",
        "versions": versions(),
        "dataset_root": DATASETS,
        "image_order": [i for i, _ in IMAGES],
        "images": images,
        "presets": {
            "seed": "PIL Image.open(p).convert('RGB'); torchvision transforms.Resize((224, 224)) (PIL bilinear, "
                    "antialiased); uint8 HWC; x = px.permute(2,0,1).float() / 255 (no normalisation)",
            "imagenet": "PIL Image.open(p).convert('RGB'); transforms.Resize(256) (shorter side, PIL bilinear) + "
                        "transforms.CenterCrop(224); uint8 HWC; x = px/255 then (x - mean)/std in float32 as "
                        "transforms.Normalize, mean (0.485, 0.456, 0.406) std (0.229, 0.224, 0.225)",
            "note": "the network input is exactly the uint8 pixels stored in pixels/<id>.<preset>.png",
        },
        "models": models,
        "tensors": {
            k: {"dtype": str(v.dtype), "shape": list(v.shape),
                **({"maxabs": maxabs(v)} if v.dtype != np.int64 else {})} for k, v in sorted(tensors.items())
        },
        "tensor_notes": {
            "densenet121.features.positions": f"int64 [{DN_NUM_POSITIONS}]: np.sort(np.random.RandomState({DN_POSITIONS_SEED})"
                                              f".choice({DN_FEATURE_LEN}, {DN_NUM_POSITIONS}, replace=False))",
            "densenet121.features.values": "float32 [4, 8192]: flattened features at those positions, rows in image_order",
            "densenet121.features.stats": "float64 [4, 3]: per image over the full 50176 vector (float32 values "
                                          "widened to float64): sum, sum of squares, max |v|",
            "densenet121.features.avg": "float32 [4, 1024]: mean over the 7x7 map (adaptive_avg_pool2d, no ReLU)",
            "densenet121.features.max": "float32 [4, 1024]: max over the 7x7 map (adaptive_max_pool2d, no ReLU)",
            "densenet121.features.relu_avg": "float32 [4, 1024]: extra: mean over the map of ReLU(features), "
                                             "i.e. what torchvision's DenseNet.forward feeds the classifier",
            "resnet18.avgpool": "float32 [4, 512]",
            "resnet50.avgpool": "float32 [4, 2048]",
        },
        "tolerance": {
            "per_image_cosine_min": 0.99999,
            "max_abs_diff": "<= 1e-3 * max|ref| (per tensor)",
            "centred": "also compare after subtracting the per-dimension mean over the 4 images",
        },
    }
    write_json(os.path.join(out, "full_reference.json"), desc)
    print(f"full: wrote full_reference.safetensors/.json and {2 * len(IMAGES)} PNGs  {timings}")
    return desc


# ==================================================================================================
# b. tiny models


class TinyResNet(tv_resnet.ResNet):
    """torchvision's ResNet with narrow stages: the same attributes, `_make_layer`, blocks and `forward`,
    so every state_dict name is torchvision's.  `planes` replaces (64, 128, 256, 512); the stem has
    planes[0] channels (torchvision: 64)."""

    def __init__(self, block, layers: Sequence[int], planes: Sequence[int], num_classes: int = 10,
                 groups: int = 1, width_per_group: int = 64) -> None:
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = planes[0]
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, planes[0], layers[0])
        self.layer2 = self._make_layer(block, planes[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, planes[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, planes[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes[3] * block.expansion, num_classes)


NUM_CLASSES = 10

TINY_MODELS = [
    # name, family, config
    ("densenet121", "densenet", dict(growth_rate=3, block_config=(6, 12, 24, 16), num_init_features=8, bn_size=2)),
    ("densenet161", "densenet", dict(growth_rate=2, block_config=(6, 12, 36, 24), num_init_features=6, bn_size=3)),
    ("densenet169", "densenet", dict(growth_rate=2, block_config=(6, 12, 32, 32), num_init_features=5, bn_size=2)),
    ("densenet201", "densenet", dict(growth_rate=2, block_config=(6, 12, 48, 32), num_init_features=4, bn_size=2)),
    ("resnet18", "resnet", dict(block="basic", layers=(2, 2, 2, 2), planes=(4, 8, 16, 32), groups=1, width_per_group=64)),
    ("resnet34", "resnet", dict(block="basic", layers=(3, 4, 6, 3), planes=(3, 6, 12, 24), groups=1, width_per_group=64)),
    ("resnet50", "resnet", dict(block="bottleneck", layers=(3, 4, 6, 3), planes=(3, 6, 12, 24), groups=1, width_per_group=64)),
    ("resnet101", "resnet", dict(block="bottleneck", layers=(3, 4, 23, 3), planes=(2, 4, 8, 16), groups=1, width_per_group=64)),
    ("resnet152", "resnet", dict(block="bottleneck", layers=(3, 8, 36, 3), planes=(2, 4, 8, 16), groups=1, width_per_group=64)),
    ("resnext50_32x4d", "resnet", dict(block="bottleneck", layers=(3, 4, 6, 3), planes=(2, 4, 8, 16), groups=4, width_per_group=32)),
    ("resnext101_32x8d", "resnet", dict(block="bottleneck", layers=(3, 4, 23, 3), planes=(2, 4, 6, 12), groups=8, width_per_group=32)),
]
# .pth files are committed only for these (the checkpoint readers need one DenseNet, one ResNet and one
# ResNeXt file in each format); the others' weights are regenerated by featx's own featx-random-v1 code,
# which the parity tests would catch if it ever disagreed with this script's.
TINY_WITH_FILES = ("densenet121", "resnet50", "resnext50_32x4d")
TINY_EXTRA_FORMATS = {"densenet121": ("legacy", "legacy-oldkeys"), "resnet50": ("legacy",)}

TINY_INPUTS = {
    # name -> (RandomState seed, shape); values uniform [0, 1) drawn in float64, cast to float32
    "input": (1, (2, 3, 64, 64)),
    "input_odd": (2, (1, 3, 67, 75)),
    "input_min": (3, (1, 3, 32, 32)),
}


def tiny_config(name: str) -> Tuple[str, dict]:
    for n, fam, cfg in TINY_MODELS:
        if n == name:
            return fam, dict(cfg, num_classes=NUM_CLASSES)
    raise KeyError(name)


def build_tiny(name: str) -> nn.Module:
    fam, cfg = tiny_config(name)
    if fam == "densenet":
        m = tv_densenet.DenseNet(growth_rate=cfg["growth_rate"], block_config=tuple(cfg["block_config"]),
                                 num_init_features=cfg["num_init_features"], bn_size=cfg["bn_size"],
                                 num_classes=cfg["num_classes"])
    else:
        block = {"basic": tv_resnet.BasicBlock, "bottleneck": tv_resnet.Bottleneck}[cfg["block"]]
        m = TinyResNet(block, cfg["layers"], cfg["planes"], cfg["num_classes"], cfg["groups"], cfg["width_per_group"])
    return m.eval()


def tiny_model(name: str) -> nn.Module:
    m = build_tiny(name)
    mw.random_state_dict(m, SEED)
    return m


def derived_config(name: str, m: nn.Module) -> dict:
    fam, cfg = tiny_config(name)
    if fam == "densenet":
        chans, c = [], cfg["num_init_features"]
        for i, n in enumerate(cfg["block_config"]):
            c += n * cfg["growth_rate"]
            chans.append({"block": i + 1, "in": c - n * cfg["growth_rate"], "out": c})
            if i < 3:
                c //= 2
                chans[-1]["transition_out"] = c
        assert c == m.classifier.in_features
        return {"stages": chans, "features_channels": c, "bottleneck_width": cfg["bn_size"] * cfg["growth_rate"]}
    exp = 1 if cfg["block"] == "basic" else 4
    widths = [int(p * (cfg["width_per_group"] / 64.0)) * cfg["groups"] for p in cfg["planes"]]
    d = {"stem_channels": cfg["planes"][0], "stage_out_channels": [p * exp for p in cfg["planes"]],
         "expansion": exp, "avgpool_dim": cfg["planes"][3] * exp}
    if exp == 4:
        d["conv2_widths"] = widths
        d["conv2_channels_per_group"] = [w // cfg["groups"] for w in widths]
        for i, w in enumerate(widths):
            assert w > 0 and w % cfg["groups"] == 0
            assert getattr(m, f"layer{i + 1}")[0].conv2.groups == cfg["groups"]
            assert getattr(m, f"layer{i + 1}")[0].conv2.in_channels == w
    return d


def tiny_taps(m: nn.Module, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
    """Every tap, computed by running the model's own submodules in forward order."""
    taps: "collections.OrderedDict[str, torch.Tensor]" = collections.OrderedDict()
    if isinstance(m, tv_densenet.DenseNet):
        h = x
        for name, mod in m.features.named_children():
            h = mod(h)
            if name.startswith(("denseblock", "transition")):
                taps[name] = h
        taps["features"] = h  # after norm5, no ReLU
        ref = m.features(x)
        assert torch.equal(ref, h)
    else:
        h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        for i in range(1, 5):
            h = getattr(m, f"layer{i}")(h)
            taps[f"layer{i}"] = h
        taps["avgpool"] = torch.flatten(m.avgpool(h), 1)
        ref = resnet_avgpool(m, x)
        assert torch.equal(ref, taps["avgpool"])
    return taps


def tiny_inputs() -> Dict[str, np.ndarray]:
    return {k: np.random.RandomState(s).uniform(0.0, 1.0, shape).astype(np.float32)
            for k, (s, shape) in TINY_INPUTS.items()}


def compact_json(obj, compact_keys=("state_dict_keys",)) -> str:
    """indent=2 JSON, but long key lists on one line each."""
    placeholders = {}

    def walk(o):
        if isinstance(o, dict):
            r = {}
            for k, v in o.items():
                if k in compact_keys and isinstance(v, list):
                    ph = f"@@{len(placeholders)}@@"
                    placeholders[ph] = json.dumps(v)
                    r[k] = ph
                else:
                    r[k] = walk(v)
            return r
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o

    s = json.dumps(walk(obj), indent=2)
    for ph, v in placeholders.items():
        s = s.replace(f'"{ph}"', v)
    return s + "\n"


def make_tiny(out: str) -> dict:
    t0 = time.perf_counter()
    tdir = os.path.join(out, "tiny")
    os.makedirs(tdir, exist_ok=True)
    inputs = tiny_inputs()
    xs = {k: torch.from_numpy(v) for k, v in inputs.items()}
    entries = []
    for name, fam, _ in TINY_MODELS:
        t1 = time.perf_counter()
        m = tiny_model(name)
        sd = m.state_dict()
        files = {"zip": f"{name}.pth"} if name in TINY_WITH_FILES else {}
        for fmt in TINY_EXTRA_FORMATS.get(name, ()):
            files[fmt] = f"{name}.{'oldkeys.legacy' if fmt == 'legacy-oldkeys' else 'legacy'}.pth"
        for fmt, fname in files.items():
            mw.save_state_dict(sd, os.path.join(tdir, fname), fmt)
        with torch.no_grad():
            taps = tiny_taps(m, xs["input"])
            final = "features" if fam == "densenet" else "avgpool"
            out_t = collections.OrderedDict((k, v.numpy()) for k, v in taps.items())
            out_t[f"{final}_odd"] = tiny_taps(m, xs["input_odd"])[final].numpy()
            out_t[f"{final}_min"] = tiny_taps(m, xs["input_min"])[final].numpy()
        write_safetensors(os.path.join(tdir, f"{name}.safetensors"), dict(out_t),
                          metadata={"format": "featx-tiny-outputs-v1", "model": name, "rule": mw.RULE_NAME,
                                    "seed": str(SEED), "inputs": "manifest.json inputs (regenerate with numpy)"})
        files["outputs"] = f"{name}.safetensors"
        _, cfg = tiny_config(name)
        cfg_json = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}
        nparams = int(sum(p.numel() for p in m.parameters()))
        entry = {
            "name": name,
            "family": fam,
            "full_size_arch": name,
            "config": cfg_json,
            "derived": derived_config(name, m),
            "rule": mw.RULE_NAME,
            "seed": SEED,
            "parameters": nparams,
            "state_dict_entries": len(sd),
            "tensors_sha256": mw.tensors_digest(sd),
            "files": files,
            "file_sizes": {k: os.path.getsize(os.path.join(tdir, v)) for k, v in files.items()},
            "taps": {k: {"input": "input", "shape": list(v.shape), "maxabs": maxabs(v)} for k, v in out_t.items()
                     if not k.endswith(("_odd", "_min"))},
            "final_tap": final,
            "extra_outputs": {f"{final}_odd": {"input": "input_odd", "shape": list(out_t[f"{final}_odd"].shape),
                                               "maxabs": maxabs(out_t[f"{final}_odd"])},
                              f"{final}_min": {"input": "input_min", "shape": list(out_t[f"{final}_min"].shape),
                                               "maxabs": maxabs(out_t[f"{final}_min"])}},
            "state_dict_keys_sha256": sha256("\n".join(sd.keys()).encode()),
        }
        entries.append(entry)
        print(f"tiny: {name:18s} params {nparams:7d}  entries {len(sd):5d}  "
              + ", ".join(f"{f} {entry['file_sizes'][k]:,d} B" for k, f in files.items())
              + f"  ({time.perf_counter() - t1:.2f}s)")
    manifest = {
        "format": "featx-tiny-manifest-v1",
        "generator": "tools/make_reference.py",
        "versions": versions(),
        "rule": mw.RULE_NAME,
        "seed": SEED,
        "inputs": {
            "file": None,
            "tensors": {k: {"shape": list(shape), "dtype": "float32",
                            "values": f"np.random.RandomState({s}).uniform(0.0, 1.0, {tuple(shape)}).astype(np.float32)"}
                        for k, (s, shape) in TINY_INPUTS.items()},
            "note": "all tiny models share these inputs; fed to the network as is (no normalisation)",
        },
        "taps": {
            "densenet": "denseblock1..4 and transition1..3 are the outputs of those modules of model.features; "
                        "features = model.features(x), after norm5, no ReLU. NCHW float32.",
            "resnet": "layer1..4 are the outputs of those stages (after the last block's ReLU); "
                      "avgpool = torch.flatten(model.avgpool(layer4), 1), [N, C]. NCHW float32.",
            "outputs": "<name>.safetensors holds every tap for `input` under the tap's name, plus "
                       "<final>_odd (for input_odd) and <final>_min (for input_min)",
        },
        "state_dict_keys_note": "state_dict_keys_sha256 is the sha256 of model.state_dict()'s keys joined by newlines "
                                "(exact order); the block configs are the real ones, so these are also the key "
                                "lists of the full-size torchvision models",
        "models": entries,
    }
    mw.atomic_write_bytes(os.path.join(tdir, "manifest.json"), compact_json(manifest).encode())
    print(f"tiny: wrote {len(entries)} models + inputs + manifest ({time.perf_counter() - t0:.2f}s)")
    return manifest


# ==================================================================================================
# c. hostile / broken files


def check_opcodes(data: bytes) -> None:
    """Static walk over the opcode stream (well formed, ends with STOP); executes nothing.
    (Not pickletools.dis: it indents by mark depth, which is quadratic for deep_nesting.)"""
    last = None
    for op, _arg, _pos in pickletools.genops(data):
        last = op.name
    assert last == "STOP", last


class PickleWriter:
    """Emits protocol-2 pickle opcodes one by one.  Nothing is ever unpickled here."""

    def __init__(self) -> None:
        self.b = bytearray(pickle.PROTO + b"\x02")
        self.memo = 0

    def put(self):
        self.b += pickle.BINPUT + bytes([self.memo])
        self.memo += 1
        return self

    def global_(self, module: str, name: str):
        self.b += pickle.GLOBAL + f"{module}\n{name}\n".encode()
        return self.put()

    def str_(self, s: str):
        e = s.encode("utf-8")
        self.b += pickle.BINUNICODE + struct.pack("<I", len(e)) + e
        return self.put()

    def int_(self, n: int):
        if 0 <= n < 256:
            self.b += pickle.BININT1 + bytes([n])
        elif 0 <= n < 65536:
            self.b += pickle.BININT2 + struct.pack("<H", n)
        elif -(2 ** 31) <= n < 2 ** 31:
            self.b += pickle.BININT + struct.pack("<i", n)
        else:
            enc = pickle.encode_long(n)
            self.b += pickle.LONG1 + bytes([len(enc)]) + enc
        return self

    def op(self, *codes: bytes):
        for c in codes:
            self.b += c
        return self

    def stop(self) -> bytes:
        self.b += pickle.STOP
        data = bytes(self.b)
        check_opcodes(data)
        return data


def ordered_dict_start(p: PickleWriter) -> PickleWriter:
    # collections.OrderedDict() as torch.save writes it
    return p.global_("collections", "OrderedDict").op(pickle.EMPTY_TUPLE, pickle.REDUCE).put()


def rebuild_tensor(p: PickleWriter, storage_type: str, key: str, storage_numel: int, size: Sequence[int],
                   stride: Sequence[int]) -> PickleWriter:
    """torch._utils._rebuild_tensor_v2(<persistent storage>, 0, size, stride, False, OrderedDict())"""
    p.global_("torch._utils", "_rebuild_tensor_v2").op(pickle.MARK, pickle.MARK)
    p.str_("storage").global_("torch", storage_type).str_(key).str_("cpu").int_(storage_numel)
    p.op(pickle.TUPLE).put().op(pickle.BINPERSID)
    p.int_(0)
    p.op(pickle.MARK)
    for s in size:
        p.int_(s)
    p.op(pickle.TUPLE).put().op(pickle.MARK)
    for s in stride:
        p.int_(s)
    p.op(pickle.TUPLE).put().op(pickle.NEWFALSE)
    p.global_("collections", "OrderedDict").op(pickle.EMPTY_TUPLE, pickle.REDUCE).put()
    return p.op(pickle.TUPLE).put().op(pickle.REDUCE).put()


def torch_zip(archive: str, data_pkl: bytes, data_records: Dict[str, bytes]) -> bytes:
    """A zip laid out like torch.save's: stored (uncompressed), records 64-byte aligned, fixed dates."""
    records = [("data.pkl", data_pkl), (".format_version", b"1"), (".storage_alignment", b"64"),
               ("byteorder", b"little")]
    records += [(f"data/{k}", v) for k, v in data_records.items()]
    records += [("version", b"3\n")]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for rname, data in records:
            name = f"{archive}/{rname}"
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED
            zi.create_system = 0
            zi.external_attr = 0
            start = buf.tell() + 30 + len(name.encode())
            pad = (-(start + 4)) % 64
            zi.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            z.writestr(zi, data)
    return buf.getvalue()


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


def legacy_file(main_pickle: bytes, storage_keys: List[str], storages: List[bytes]) -> bytes:
    """The legacy (pre-1.6) torch.save layout: magic, protocol, sys_info, main pickle, storage keys, storages."""
    sys_info = {"protocol_version": LEGACY_PROTOCOL_VERSION, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    b = pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(LEGACY_PROTOCOL_VERSION, protocol=2)
    b += pickle.dumps(sys_info, protocol=2) + main_pickle + pickle.dumps(storage_keys, protocol=2)
    for s in storages:
        b += s
    return b


HOSTILE_MARKER = "FEATX_HOSTILE_PICKLE_RAN"
DEEP_N = 1_000


def make_bad(out: str, verify_with_torch: bool = True) -> dict:
    t0 = time.perf_counter()
    bdir = os.path.join(out, "bad")
    os.makedirs(bdir, exist_ok=True)
    files = collections.OrderedDict()

    # os_system.pth: zip checkpoint; data.pkl = OrderedDict(weight=posix.system("echo ..."))
    p = ordered_dict_start(PickleWriter()).str_("weight")
    p.global_("posix", "system").str_(f"echo {HOSTILE_MARKER}").op(pickle.TUPLE1).put().op(pickle.REDUCE).put()
    p.op(pickle.SETITEM)
    files["os_system.pth"] = (torch_zip("os_system", p.stop(), {}), {
        "what": "zip checkpoint whose data.pkl REDUCEs posix.system (what pickle writes for os.system on Linux) "
                f"with 'echo {HOSTILE_MARKER}'",
        "featx_must": "refuse before executing anything: global posix.system is not allowed (unsafe pickle); "
                      "nothing may be printed or run"})

    # builtins_eval.pth: legacy format; main pickle = OrderedDict(weight=builtins.eval("..."))
    p = ordered_dict_start(PickleWriter()).str_("weight")
    p.global_("builtins", "eval").str_(f"__import__('os').system('echo {HOSTILE_MARKER}')")
    p.op(pickle.TUPLE1).put().op(pickle.REDUCE).put().op(pickle.SETITEM)
    files["builtins_eval.pth"] = (legacy_file(p.stop(), [], []), {
        "what": "legacy-format file (magic 0x1950a86a20f9469cfc6c, protocol 1001) whose main pickle REDUCEs "
                "builtins.eval on a string that would run an echo",
        "featx_must": "refuse: global builtins.eval is not allowed (unsafe pickle); never evaluated"})

    # huge_storage.pth: FloatStorage of 10**15 elements, tensor of that size, 16-byte data record
    huge = 10 ** 15
    p = ordered_dict_start(PickleWriter()).str_("weight")
    rebuild_tensor(p, "FloatStorage", "0", huge, (huge,), (1,)).op(pickle.SETITEM)
    files["huge_storage.pth"] = (torch_zip("huge_storage", p.stop(), {"0": struct.pack("<4f", 1, 2, 3, 4)}), {
        "what": "zip checkpoint whose pickle declares FloatStorage '0' of 10**15 elements (4e15 bytes) and a "
                "tensor of size (10**15,); the record data/0 holds only 16 bytes",
        "featx_must": "refuse without trying to allocate: declared storage (4e15 bytes) larger than its record "
                      "(16 bytes) / than any sane limit"})

    # truncated.pth: a valid tiny zip checkpoint, first half only
    small = nn.Sequential(collections.OrderedDict(conv=nn.Conv2d(3, 4, 3, bias=False), bn=nn.BatchNorm2d(4)))
    tmpd = tempfile.mkdtemp(prefix=".tmp-", dir=bdir)
    try:
        full_path = os.path.join(tmpd, "truncated.pth")
        mw.save_state_dict(mw.random_state_dict(small, SEED), full_path, "zip")
        with open(full_path, "rb") as f:
            whole = f.read()
    finally:
        shutil.rmtree(tmpd)
    files["truncated.pth"] = (whole[: len(whole) // 2], {
        "what": f"the first {len(whole) // 2} of {len(whole)} bytes of a valid zip checkpoint (conv [4,3,3,3] + "
                f"BatchNorm2d(4), featx-random-v1 seed 0; full file sha256 {sha256(whole)}); no central directory",
        "featx_must": "refuse: truncated / corrupt archive (no end-of-central-directory record); no crash"})

    files["zero.pth"] = (b"", {"what": "empty file (0 bytes)", "featx_must": "refuse: empty file, not a checkpoint"})
    files["not_a_checkpoint.pth"] = (
        b"This is not a PyTorch checkpoint.\nIt is a plain text file named .pth to test format detection.\n",
        {"what": "plain ASCII text", "featx_must": "refuse: neither a zip nor a legacy torch file (bad magic)"})


    # deep_nesting.pth: zip checkpoint whose data.pkl nests DEEP_N lists via MARK/EMPTY_LIST/APPENDS
    body = (pickle.EMPTY_LIST + pickle.MARK) * DEEP_N + pickle.EMPTY_LIST + pickle.APPENDS * DEEP_N
    deep = pickle.PROTO + b"\x02" + body + pickle.STOP
    check_opcodes(deep)
    files["deep_nesting.pth"] = (torch_zip("deep_nesting", deep, {}), {
        "what": f"zip checkpoint whose data.pkl is {DEEP_N} x (EMPTY_LIST MARK), EMPTY_LIST, {DEEP_N} x APPENDS: "
                f"a list nested {DEEP_N + 1} deep; value stack and mark stack both reach {DEEP_N}",
        "featx_must": "refuse (not a state dict / nesting or stack limit exceeded) with bounded memory and without "
                      "a stack overflow (no recursion proportional to depth when building, checking or freeing)"})

    manifest = {"format": "featx-bad-manifest-v1", "generator": "tools/make_reference.py", "files": []}
    for name, (data, info) in files.items():
        mw.atomic_write_bytes(os.path.join(bdir, name), data)
        manifest["files"].append({"file": name, "size": len(data), "sha256": sha256(data), **info})
    if verify_with_torch:
        observed = torch_load_outcomes([os.path.join(bdir, n) for n in files])
        for e in manifest["files"]:
            e["torch_load_weights_only"] = observed[e["file"]]
    manifest["torch_note"] = ("torch_load_weights_only: what torch.load(path, weights_only=True) did with torch "
                              f"{torch.__version__} (run in a subprocess under a 6 GiB address-space limit)")
    write_json(os.path.join(bdir, "manifest.json"), manifest)
    lines = ["# Hostile and broken weight files", "",
             "Generated by `tools/make_reference.py` (part `bad`), byte by byte with Python's pickle opcodes, "
             "zipfile and struct: nothing in them was ever executed. Details, sizes, sha256 and what "
             "`torch.load(weights_only=True)` does with each: `manifest.json`. "
             f"Hostile pickles would print `{HOSTILE_MARKER}` if executed; a test can assert it never appears.",
             "", "| file | what it is | featx must |", "|---|---|---|"]
    for e in manifest["files"]:
        lines.append(f"| `{e['file']}` | {e['what']} | {e['featx_must']} |")
    mw.atomic_write_bytes(os.path.join(bdir, "README.md"), ("\n".join(lines) + "\n").encode())
    print(f"bad: wrote {len(files)} files + manifest + README.md ({time.perf_counter() - t0:.1f}s)")
    return manifest


_TORCH_LOAD_PROBE = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
import torch
out = {}
for p in sys.argv[1:]:
    name = p.rsplit('/', 1)[-1]
    try:
        obj = torch.load(p, weights_only=True, map_location='cpu')
        if isinstance(obj, dict):
            desc = f'loaded a {type(obj).__name__} with {len(obj)} entries'
        else:
            depth = 0
            while isinstance(obj, list) and obj:
                obj = obj[0]; depth += 1
            desc = f'loaded {type(obj).__name__} (list nesting depth {depth})'
        out[name] = {'outcome': 'loaded', 'detail': desc}
    except BaseException as e:
        lines = [l.strip() for l in str(e).splitlines() if l.strip()]
        keep = [l for l in lines if not l.startswith(('Weights only load failed', 'Check the documentation'))
                and 'we changed the default value of the `weights_only`' not in l]
        keep = [l.split('compatible with your use case: ', 1)[-1] for l in keep]
        msg = ' '.join(l for l in keep if l) or (lines[0] if lines else '')
        out[name] = {'outcome': 'error', 'exception': type(e).__name__, 'message': msg[:300]}
print(json.dumps(out))
"""


def torch_load_outcomes(paths: List[str]) -> dict:
    r = subprocess.run([sys.executable, "-c", _TORCH_LOAD_PROBE, *paths], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if r.returncode != 0:
        raise RuntimeError(f"torch.load probe failed ({r.returncode}): {r.stderr[-2000:]}")
    if HOSTILE_MARKER in r.stdout.replace(f"echo {HOSTILE_MARKER}", ""):
        raise RuntimeError("a hostile pickle was executed by torch.load(weights_only=True)!")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ==================================================================================================
# random_rule.json


RULE_KEYS = {
    "densenet121": [
        ("features.conv0.weight", "Conv2d weight"),
        ("features.denseblock1.denselayer1.conv2.weight", "Conv2d weight"),
        ("features.norm0.weight", "BatchNorm2d weight"),
        ("features.norm0.bias", "BatchNorm2d bias"),
        ("features.norm0.running_mean", "BatchNorm2d running_mean"),
        ("features.norm0.running_var", "BatchNorm2d running_var"),
        ("features.norm0.num_batches_tracked", "BatchNorm2d num_batches_tracked"),
        ("classifier.weight", "Linear weight"),
        ("classifier.bias", "Linear bias"),
    ],
    "resnet18": [
        ("conv1.weight", "Conv2d weight"),
        ("layer1.0.conv1.weight", "Conv2d weight"),
        ("layer2.0.downsample.0.weight", "Conv2d weight"),
        ("bn1.weight", "BatchNorm2d weight"),
        ("bn1.bias", "BatchNorm2d bias"),
        ("bn1.running_mean", "BatchNorm2d running_mean"),
        ("bn1.running_var", "BatchNorm2d running_var"),
        ("fc.weight", "Linear weight"),
        ("fc.bias", "Linear bias"),
    ],
    "resnext50_32x4d": [
        ("layer1.0.conv2.weight", "Conv2d weight (groups=32: I/groups = 4)"),
    ],
}


def f32_bits(v: np.ndarray) -> List[int]:
    return [int(b) for b in np.asarray(v, dtype=np.float32).view(np.uint32)]


def make_rule(out: str) -> dict:
    t0 = time.perf_counter()
    archs = {}
    for arch, keys in RULE_KEYS.items():
        m = mw.build(arch)
        modules = dict(m.named_modules())
        sd = m.state_dict()
        entries = []
        for key, kind in keys:
            mod_name, _, attr = key.rpartition(".")
            mod = modules[mod_name]
            shape = list(sd[key].shape)
            seed = mw.key_seed(SEED, key)
            e = {"key": key, "kind": kind, "module": type(mod).__name__, "shape": shape,
                 "hash_input": f"{SEED}:{key}", "fnv1a32": seed, "fnv1a32_hex": f"0x{seed:08x}"}
            vals = mw.rule_values(mod, attr, tuple(shape), SEED, key)
            if vals is None:
                e.update({"dtype": "int64", "value": 0, "draws": "none"})
            else:
                if isinstance(mod, nn.Conv2d):
                    fan = shape[1] * shape[2] * shape[3]
                    std = math.sqrt(2.0 / fan)
                    e["draws"] = {"call": "rng.normal(0.0, std, shape)", "fan_in": fan, "std": std,
                                  "std_hex": std.hex()}
                elif isinstance(mod, nn.Linear):
                    b = 1.0 / math.sqrt(mod.in_features)
                    e["draws"] = {"call": "rng.uniform(-bound, bound, shape)", "in_features": mod.in_features,
                                  "bound": b, "bound_hex": b.hex()}
                else:
                    lo, hi = (0.5, 1.5) if attr in ("weight", "running_var") else (-0.1, 0.1)
                    e["draws"] = {"call": f"rng.uniform({lo}, {hi}, shape)"}
                first = vals.reshape(-1)[:5]
                # the float64 draws before the cast, to debug a mismatch
                rng = np.random.RandomState(seed)
                if isinstance(mod, nn.Conv2d):
                    d64 = rng.normal(0.0, e["draws"]["std"], 5)
                elif isinstance(mod, nn.Linear):
                    d64 = rng.uniform(-e["draws"]["bound"], e["draws"]["bound"], 5)
                else:
                    d64 = rng.uniform(lo, hi, 5)
                assert np.array_equal(d64.astype(np.float32), first)
                e.update({
                    "dtype": "float32",
                    "first5": [float(v) for v in first],
                    "first5_bits": f32_bits(first),
                    "first5_bits_hex": [f"0x{b:08x}" for b in f32_bits(first)],
                    "first5_float64_hex": [float(v).hex() for v in d64],
                    "numel": int(vals.size),
                    "sum_float64": float(vals.astype(np.float64).sum()),
                    "sha256_f32le": sha256(vals.astype("<f4").tobytes()),
                })
            entries.append(e)
        archs[arch] = {"seed": SEED, "keys": entries}
        del m
    rs = np.random.RandomState(12345)
    raw = rs._bit_generator.random_raw(8)
    normals = np.random.RandomState(12345).standard_normal(8)
    samples = np.random.RandomState(12345).random_sample(8)
    obj = {
        "format": "featx-random-rule-vectors-v1",
        "rule": mw.RULE_NAME,
        "generator": "tools/make_reference.py",
        "versions": versions(),
        "notes": [
            "seed per key = fnv1a32(f'{seed}:{key}'.encode('utf-8')), offset basis 2166136261, prime 16777619",
            "numpy.random.RandomState(int) seeds MT19937 with init_genrand(seed) (the 32-bit seeding), "
            "NOT init_by_array",
            "random_sample() = ((a >> 5) * 67108864.0 + (b >> 6)) / 9007199254740992.0 with a, b consecutive "
            "32-bit outputs",
            "uniform(low, high) = low + (high - low) * random_sample()",
            "normal(loc, scale) = loc + scale * gauss(), gauss = legacy polar Box-Muller with the cached second "
            "value (RandomState's has_gauss)",
            "values are drawn in float64 in C order and cast to float32 with round-to-nearest (astype)",
            "first5_bits: the float32 bit patterns as uint32 (little-endian value, not bytes)",
            "sha256_f32le: sha256 of the whole tensor as little-endian float32 bytes in C order",
        ],
        "fnv1a32_vectors": {s: mw.fnv1a32(s.encode()) for s in ["", "a", "foobar", "0:conv1.weight",
                                                                  "12345:features.conv0.weight"]},
        "archs": archs,
        "numpy_randomstate_12345": {
            "random_raw_uint32_first8": [int(v) for v in raw],
            "standard_normal_first8": [float(v) for v in normals],
            "standard_normal_first8_hex": [float(v).hex() for v in normals],
            "random_sample_first8": [float(v) for v in samples],
            "random_sample_first8_hex": [float(v).hex() for v in samples],
            "how": "each list from a fresh numpy.random.RandomState(12345); raw = rs._bit_generator.random_raw(8)",
        },
    }
    write_json(os.path.join(out, "random_rule.json"), obj)
    print(f"rule: wrote random_rule.json ({time.perf_counter() - t0:.1f}s)")
    return obj


# ==================================================================================================
# verification


def verify(out: str) -> None:
    """Reload everything and compare against torch; raises on the first problem."""
    t0 = time.perf_counter()
    # tiny
    tdir = os.path.join(out, "tiny")
    man = json.load(open(os.path.join(tdir, "manifest.json")))
    for e in man["models"]:
        name = e["name"]
        m = tiny_model(name)
        ref = m.state_dict()
        assert sha256("\n".join(ref.keys()).encode()) == e["state_dict_keys_sha256"], name
        for fmt, fname in e["files"].items():
            if fmt == "outputs":
                continue
            sd = torch.load(os.path.join(tdir, fname), weights_only=True)
            if fmt == "legacy-oldkeys":
                assert not any(k.endswith("num_batches_tracked") for k in sd)
                assert any(".norm.1." in k for k in sd) and not any(".norm1." in k for k in sd)
                fresh = build_tiny(name)
                fresh.load_state_dict(mw.from_old_densenet_keys(sd), strict=True)
                sd = fresh.state_dict()
            assert list(sd.keys()) == list(ref.keys()), (name, fmt)
            for k in ref:
                assert sd[k].dtype == ref[k].dtype and torch.equal(sd[k], ref[k]), (name, fmt, k)
            # and it runs in a fresh torchvision model to the stored outputs
        outs = st_load(open(os.path.join(tdir, e["files"]["outputs"]), "rb").read())
        fresh = build_tiny(name)
        fresh.load_state_dict(torch.load(os.path.join(tdir, e["files"]["zip"]), weights_only=True), strict=True)
        with torch.no_grad():
            taps = tiny_taps(fresh, torch.from_numpy(inputs["input"]))
        for k, v in taps.items():
            assert np.array_equal(outs[k], v.numpy()), (name, k)
        print(f"verify: tiny {name} ok ({', '.join(f for k, f in e['files'].items() if k != 'outputs')})")
    # full
    full = st_load(open(os.path.join(out, "full_reference.safetensors"), "rb").read())
    desc = json.load(open(os.path.join(out, "full_reference.json")))
    for img in desc["images"]:
        for preset, info in img["pixels"].items():
            px = np.asarray(Image.open(os.path.join(out, info["file"])).convert("RGB"))
            assert np.array_equal(px, pixels_for(os.path.join(DATASETS, img["path"]), preset)), info["file"]
            assert sha256(px.tobytes()) == info["rgb8_sha256"]
    pos = full["densenet121.features.positions"]
    assert pos.dtype == np.int64 and np.all(np.diff(pos) > 0) and len(pos) == DN_NUM_POSITIONS
    for k, v in desc["tensors"].items():
        assert list(full[k].shape) == v["shape"] and str(full[k].dtype) == v["dtype"], k
    st = full["densenet121.features.stats"]
    vals = full["densenet121.features.values"]
    assert np.all(np.abs(vals).max(1) <= st[:, 2])
    print("verify: full_reference shapes/pixels ok")
    # bad
    bman = json.load(open(os.path.join(out, "bad", "manifest.json")))
    for e in bman["files"]:
        data = open(os.path.join(out, "bad", e["file"]), "rb").read()
        assert sha256(data) == e["sha256"], e["file"]
        if "torch_load_weights_only" in e:
            assert e["torch_load_weights_only"]["outcome"] != "loaded" or e["file"] == "deep_nesting.pth", e
    print(f"verify: bad ok; all verified ({time.perf_counter() - t0:.1f}s)")


# ==================================================================================================


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {rel(DEFAULT_OUT, REPO)})")
    ap.add_argument("--only", nargs="+", choices=["full", "tiny", "bad", "rule"])
    ap.add_argument("--verify", action="store_true", help="after writing (or alone with --only none), "
                                                          "reload everything and compare with torch")
    ap.add_argument("--verify-only", action="store_true", help="only verify what is on disk")
    ap.add_argument("--no-torch-probe", action="store_true",
                    help="do not record torch.load's behaviour on bad/ files (skips a subprocess)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    if not args.verify_only:
        parts = args.only or ["rule", "tiny", "bad", "full"]
        for part in ("rule", "tiny", "bad", "full"):
            if part not in parts:
                continue
            if part == "rule":
                make_rule(out)
            elif part == "tiny":
                make_tiny(out)
            elif part == "bad":
                make_bad(out, verify_with_torch=not args.no_torch_probe)
            elif part == "full":
                make_full(out)
    if args.verify or args.verify_only:
        verify(out)
    print(f"done in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
