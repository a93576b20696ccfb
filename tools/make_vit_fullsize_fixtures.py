#!/usr/bin/env python3
"""Full-size vision transformer and ConvNeXt parity fixtures (Tests/Fixtures/vit/fullsize.*): featx-random-v1 seed-0
weights in the genuine timm architectures (not reduced), their outputs at a few taps on the 4 images of
make_reference.IMAGES, and PyTorch's own float32-vs-float64 error there.

    .cache/venv/bin/python tools/make_vit_fullsize_fixtures.py

Needs what tools/make_vit_fixtures.py needs (whose helpers this imports), plus the original JPEGs
($FEATX_DATASETS, else ../shared/datasets; sha256 checked against efficientnet.json) for DINOv2's 518 crops.

Models (timm pretrained=False, timm's defaults unless stated; no weight file is written: featx regenerates the
weights from the rule bit for bit, fullsize.json records their tensors_sha256 and state_dict key count):

  dinov2_s14_518        vit_small_patch14_dinov2 (img_size 518, pos_embed [1, 1370, 384]) on timm's own eval transform
                        (resize shorter side 518 bicubic, center crop 518): the crops are committed as
                        pixels/<id>.dinov2_518.png
  dinov2_s14_224        vit_small_patch14_dinov2 img_size=224, num_classes=0, loaded with dinov2_s14_518's state_dict
                        through timm's checkpoint_filter_fn (pos_embed resampled 37x37 -> 16x16, bicubic + antialias),
                        on the lite 224 crops (DINOv2's published linear probes run at 224)
  clip_b16_quickgelu    vit_base_patch16_clip_quickgelu_224, num_classes=512 (as the OpenAI tag), OpenAI CLIP mean/std
  siglip_b16            vit_base_patch16_siglip_224, num_classes=0, mean = std = 0.5
  convnext_tiny         convnext_tiny (num_classes 1000), ImageNet mean/std
  deit_s16              deit_small_patch16_224, ImageNet mean/std

All but dinov2_s14_518 run on Tests/Fixtures/efficientnet/pixels/<id>.lite.png (as make_vit_fixtures.py).

Writes Tests/Fixtures/vit/fullsize.safetensors (taps, as make_vit_fixtures.store_taps: maps sampled at 4096
positions with .values / .stats / .avg, vectors [4, D] whole), fullsize.json, pixels/<id>.dinov2_518.png.
Deterministic (a second run writes byte-identical files); 2 threads, float32, eval mode, no grad.
"""
from __future__ import annotations

import argparse
import collections
import io
import json
import os
import sys
import time
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_vit_fixtures as mv  # noqa: E402  (imports make_weights first: the torchvision workaround)

mw, mr, mfr = mv.mw, mv.mr, mv.mfr

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms as T  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402

import timm  # noqa: E402
from timm.data import create_transform, resolve_data_config  # noqa: E402

OUT = mv.OUT
PIXELS_OUT = "pixels"
REFERENCE_FILE = "fullsize.safetensors"
JSON_FILE = "fullsize.json"
FORMAT = "featx-vit-fullsize-reference-v1"
SEED = 0
POSITIONS = 4096
DINOV2_518_PIXELS = "dinov2_518"

# key -> (timm name, create_model kwargs, input, sampled maps, whole vectors, weights from another key)
MODELS = collections.OrderedDict([
    ("dinov2_s14_518", ("vit_small_patch14_dinov2", collections.OrderedDict(), DINOV2_518_PIXELS,
                        ["blocks.11"], ["pre_logits", "patch_avg"], None)),
    ("dinov2_s14_224", ("vit_small_patch14_dinov2", collections.OrderedDict([("img_size", 224), ("num_classes", 0)]),
                        "lite", ["blocks.11"], ["pre_logits", "patch_avg"], "dinov2_s14_518")),
    ("clip_b16_quickgelu", ("vit_base_patch16_clip_quickgelu_224", collections.OrderedDict([("num_classes", 512)]),
                            "lite", ["blocks.11"], ["pre_logits"], None)),
    ("siglip_b16", ("vit_base_patch16_siglip_224", collections.OrderedDict([("num_classes", 0)]), "lite", ["norm"],
                    ["pre_logits"], None)),
    ("convnext_tiny", ("convnext_tiny", collections.OrderedDict(), "lite", ["stages.3"], ["pre_logits"], None)),
    ("deit_s16", ("deit_small_patch16_224", collections.OrderedDict(), "lite", ["blocks.11"], ["pre_logits"], None)),
])

TAP_NOTES = {
    "blocks.N": "timm model.blocks[N] output [T, D] (prefix tokens first: the class token)",
    "norm": "model.forward_features(x) [T, D], after the final norm (siglip_b16: no class token, T = 196)",
    "pre_logits": "model.forward_head(model.forward_features(x), pre_logits=True) [D]: ViTs with a class token its row "
                  "of `norm` (asserted); siglip_b16 the MAP head (attn_pool) over the `norm` tokens; convnext_tiny "
                  "head.norm (LayerNorm2d) of the global average (asserted)",
    "patch_avg": "norm[:, 1:].mean(1) [D]: the mean of the patch tokens after the final norm (class token excluded)",
    "stages.3": "timm ConvNeXt model.stages[3] output [768, 7, 7] (= forward_features: norm_pre is Identity)",
}


def constructor(name: str, kwargs) -> str:
    extra = (", " + mv.kwargs_str(kwargs)) if kwargs else ""
    return f"timm.create_model({name!r}, pretrained=False{extra}), eval()"


def coverage_of(model: nn.Module) -> Dict[str, int]:
    modules = dict(model.named_modules())
    cov: Dict[str, int] = collections.Counter()
    for k in model.state_dict():
        mod_name, _, attr = k.rpartition(".")
        cov[mv.rule_kind(modules[mod_name], attr)] += 1
    return dict(sorted(cov.items()))


def is_vit(model: nn.Module) -> bool:
    return hasattr(model, "blocks") and hasattr(model, "pos_embed")


def taps_of(model: nn.Module, x: torch.Tensor, maps: List[str], vectors: List[str]
            ) -> "collections.OrderedDict[str, torch.Tensor]":
    """The named maps (submodule outputs, forward hooks) and vectors of one forward_features + forward_head."""
    hooks = [m for m in maps]
    if is_vit(model) and "norm" not in hooks:
        hooks.append("norm")
    got, feats = mfr.hooked_run(model, hooks, lambda: model.forward_features(x))
    taps = collections.OrderedDict((m, got[m]) for m in maps)
    pre = model.forward_head(feats, pre_logits=True)
    if is_vit(model):
        assert torch.equal(got["norm"], feats)
        npt = model.num_prefix_tokens
        if model.attn_pool is None:
            assert model.global_pool == "token" and isinstance(model.fc_norm, nn.Identity)
            assert torch.equal(pre, feats[:, 0])
        if "patch_avg" in vectors:
            assert npt == 1
            taps["patch_avg"] = feats[:, npt:].mean(1)
    else:
        assert torch.equal(feats, got[maps[-1]]) and maps[-1] == f"stages.{len(model.stages) - 1}"
        assert torch.equal(model.head.norm(F.adaptive_avg_pool2d(feats, 1)).flatten(1), pre)
    taps["pre_logits"] = pre
    return collections.OrderedDict((k, taps[k]) for k in maps + vectors)


def input_from_png_any(png: bytes, mean, std, size: int) -> torch.Tensor:
    """make_vit_fixtures.input_from_png at any square size: px/255 then TF.normalize, cross-checked with numpy."""
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.uint8)
    assert px.shape == (size, size, 3), px.shape
    x = TF.normalize(torch.from_numpy(px.copy()).permute(2, 0, 1).float().div(255), list(mean), list(std)).contiguous()
    m32 = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    s32 = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
    xn = (px.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0) - m32) / s32
    assert np.array_equal(xn, x.numpy()), "numpy and torch normalisation differ"
    return x


def dinov2_518_crops(model: nn.Module, eff_images: dict, order: List[str], out: str) -> Tuple[dict, dict]:
    """timm's eval transform for the model on the original JPEGs: the uint8 crops, written as PNGs, and the check
    that ToTensor + Normalize of the PNG's pixels is timm's whole transform."""
    cfg = resolve_data_config({}, model=model)
    tf = create_transform(**cfg)
    steps = list(tf.transforms)
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["Resize", "CenterCrop", "MaybeToTensor", "Normalize"], kinds
    assert cfg["input_size"] == (3, 518, 518) and cfg["crop_pct"] == 1.0 and cfg["interpolation"] == "bicubic", cfg
    assert steps[0].size == 518 and steps[0].interpolation == T.InterpolationMode.BICUBIC and steps[0].antialias
    assert tuple(steps[1].size) == (518, 518)
    pix_dir = os.path.join(out, PIXELS_OUT)
    os.makedirs(pix_dir, exist_ok=True)
    pngs, info = {}, {}
    for img_id in order:
        e = eff_images[img_id]
        path = os.path.join(mr.DATASETS, e["path"])
        with open(path, "rb") as f:
            jpeg = f.read()
        assert mr.sha256(jpeg) == e["jpeg_sha256"], f"{path} differs from efficientnet.json"
        img = Image.open(io.BytesIO(jpeg)).convert("RGB")
        crop = steps[1](steps[0](img))
        px = np.ascontiguousarray(np.asarray(crop, dtype=np.uint8))
        assert px.shape == (518, 518, 3), px.shape
        png = mr.png_bytes(px)
        name = f"{img_id}.{DINOV2_518_PIXELS}.png"
        mw.atomic_write_bytes(os.path.join(pix_dir, name), png)
        full = tf(Image.open(io.BytesIO(jpeg)).convert("RGB"))
        mine = input_from_png_any(png, cfg["mean"], cfg["std"], 518)
        assert full.dtype == torch.float32 and torch.equal(full, mine), f"{img_id}: PNG + ToTensor/Normalize != timm"
        pngs[img_id] = png
        info[img_id] = collections.OrderedDict([
            ("pixels", f"{PIXELS_OUT}/{name}"), ("png_sha256", mr.sha256(png)),
            ("rgb8_sha256", mr.sha256(px.tobytes())), ("shape_hwc", list(px.shape)), ("size_wh", list(img.size))])
    transform = collections.OrderedDict([
        ("timm", "create_transform(**resolve_data_config({}, model=model))"),
        ("data_config", mfr.mr_json(dict(cfg))),
        ("steps", [repr(s) for s in steps]),
        ("what", "PIL Resize(518) of the shorter side, bicubic, antialias (torchvision on a PIL image: PIL's "
                 "Image.resize BICUBIC), CenterCrop(518) (crop_pct 1.0), then ToTensor + Normalize(ImageNet); the "
                 "uint8 crop is pixels/<id>.dinov2_518.png and ToTensor + Normalize of the PNG's pixels equals "
                 "timm's whole transform (asserted). The source images are smaller than 518 (upsampled)"),
    ])
    return pngs, {"transform": transform, "images": info}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT, help=f"output folder (default {mr.rel(OUT, mr.REPO)})")
    ap.add_argument("--positions", type=int, default=POSITIONS, help=f"sampled positions per map ({POSITIONS})")
    ap.add_argument("--skip-f64", default="", help="comma-separated keys whose float64 run is skipped")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    skip_f64 = {k for k in args.skip_f64.split(",") if k}
    t0 = time.perf_counter()

    with open(mv.EFFICIENTNET_JSON) as f:
        eff = json.load(f)
    order = [i for i, _ in mr.IMAGES]
    assert eff["image_order"] == order
    eff_images = {e["id"]: e for e in eff["images"]}
    lite = {}
    images = []
    for img_id in order:
        e = eff_images[img_id]
        with open(os.path.join(mv.PIXELS, f"{img_id}.{mv.PRESET}.png"), "rb") as f:
            png = f.read()
        assert mr.sha256(png) == e["png_sha256"], f"{img_id}.lite.png differs from efficientnet.json"
        lite[img_id] = png
        images.append(collections.OrderedDict([
            ("id", img_id), ("path", e["path"]), ("jpeg_sha256", e["jpeg_sha256"]),
            ("lite_pixels", f"../efficientnet/pixels/{img_id}.{mv.PRESET}.png"), ("lite_png_sha256", e["png_sha256"]),
            ("input_f32le_sha256", collections.OrderedDict())]))

    norms: Dict[str, dict] = collections.OrderedDict()

    def norm_name(mean, std) -> str:
        for n, v in norms.items():
            if tuple(v["mean"]) == tuple(mean) and tuple(v["std"]) == tuple(std):
                return n
        n = {mv.IMAGENET_MEAN: "imagenet", (0.5, 0.5, 0.5): "half"}.get(tuple(mean), "clip")
        norms[n] = {"mean": list(mean), "std": list(std)}
        return n

    def inputs(source: str, mean, std, pngs518=None) -> torch.Tensor:
        if source == "lite":
            xs = [mv.input_from_png(lite[i], mean, std) for i in order]
        else:
            xs = [input_from_png_any(pngs518[i], mean, std, 518) for i in order]
        label = f"{source}.{norm_name(mean, std)}"
        for img, x in zip(images, xs):
            img["input_f32le_sha256"][label] = mr.sha256(x.numpy().astype("<f4").tobytes())
        return torch.stack(xs)

    tensors: Dict[str, np.ndarray] = {}
    models = collections.OrderedDict()
    cache: Dict[int, np.ndarray] = {}
    state_dicts: Dict[str, "collections.OrderedDict"] = {}
    dinov2_pixels = None
    with torch.no_grad():
        for key, (name, kwargs, source, maps, vectors, weights_from) in MODELS.items():
            t1 = time.perf_counter()
            model = mw.timm_model(name, **kwargs).eval()
            entry = collections.OrderedDict()
            entry["timm_model"] = name
            entry["constructor"] = constructor(name, kwargs)
            entry["seed"] = SEED
            entry["rule"] = mw.RULE_NAME
            if weights_from is None:
                coverage = coverage_of(model)
                sd = mw.random_state_dict(model, SEED)
                for k, v in sd.items():
                    assert v.dtype == torch.float32, (key, k, v.dtype)
                if any(m[5] == key for m in MODELS.values()):
                    state_dicts[key] = sd
                entry["weights"] = ("featx-random-v1 seed 0 for this model's state_dict (not stored: featx "
                                    "regenerates it from the rule; tensors_sha256 is make_weights.tensors_digest)")
            else:
                src = state_dicts[weights_from]
                donor = mw.timm_model(MODELS[weights_from][0], **MODELS[weights_from][1]).eval()
                donor.load_state_dict(src, strict=True)
                _, resample = mv.load_resampled(donor, model)
                del donor
                sd = src
                coverage = coverage_of(model)
                entry["weights"] = (f"{weights_from}'s state_dict (featx-random-v1 seed 0 for the 518 model) through "
                                    "timm.models.vision_transformer.checkpoint_filter_fn(state_dict, model), loaded "
                                    "strict: pos_embed resampled, every other tensor as it is (asserted)")
                entry["weights_from"] = weights_from
                entry["resample"] = resample
            assert not model.training
            mean, std = tuple(model.pretrained_cfg["mean"]), tuple(model.pretrained_cfg["std"])
            if source == DINOV2_518_PIXELS:
                pngs518, dinov2_pixels = dinov2_518_crops(model, eff_images, order, out)
                x = inputs(source, mean, std, pngs518)
                entry["input"] = "pixels/<id>.dinov2_518.png (timm's eval transform for this model, see dinov2_518)"
            else:
                x = inputs(source, mean, std)
                entry["input"] = "../efficientnet/pixels/<id>.lite.png (Resize(256) bicubic + CenterCrop(224))"
            entry["input_shape"] = list(x.shape)
            assert list(x.shape[2:]) == (list(model.patch_embed.img_size) if is_vit(model) else [224, 224])
            entry["img_size"] = int(x.shape[-1])  # (pretrained_cfg below is timm's tag record: 518 for DINOv2)
            entry["mean"] = [float(v) for v in mean]
            entry["std"] = [float(v) for v in std]
            entry["normalisation"] = norm_name(mean, std)
            entry["normalisation_source"] = "timm model.pretrained_cfg"
            cfg = model.pretrained_cfg
            entry["pretrained_cfg"] = mfr.mr_json({k: cfg.get(k) for k in (
                "architecture", "tag", "input_size", "crop_pct", "crop_mode", "interpolation", "mean", "std",
                "num_classes") if k in cfg})
            entry["architecture"] = mv.timm_vit_hparams(model) if is_vit(model) else mv.timm_convnext_hparams(model)
            entry["num_classes"] = entry["architecture"]["num_classes"]
            entry["parameters"] = int(sum(v.numel() for v in sd.values()))
            entry["state_dict_entries"] = len(sd)
            entry["tensors_sha256"] = mw.tensors_digest(sd)
            entry["state_dict_keys"] = list(sd.keys())
            entry["state_dict_shapes"] = [list(v.shape) for v in sd.values()]
            entry["rule_coverage"] = coverage

            t2 = time.perf_counter()
            taps = taps_of(model, x, maps, vectors)
            t_f32 = time.perf_counter() - t2
            info = mv.store_taps(key, taps, args.positions, cache, tensors)
            entry["taps"] = info
            if key in skip_f64:
                entry["float32_vs_float64"] = {"skipped": "float64 run skipped (--skip-f64): too slow here"}
                t_f64 = None
            else:
                t2 = time.perf_counter()
                f64 = mv.float64_error_of(lambda m, xx: taps_of(m, xx, maps, vectors), model, x, taps)
                t_f64 = time.perf_counter() - t2
                entry["float32_vs_float64"] = {
                    "what": "max |PyTorch float32 - PyTorch float64| / max |float64| per tap over the 4 images, same "
                            "weights and input (copy.deepcopy(model).double(), input .double())",
                    "relative_max_error": f64,
                }
            models[key] = entry
            worst = (f"{max(entry['float32_vs_float64']['relative_max_error'].values()):.2g}" if t_f64 is not None
                     else "skipped")
            print(f"{key}: {len(sd)} tensors, {entry['parameters']:,d} parameters, taps "
                  f"{', '.join(f'{k} {list(v.shape[1:])}' for k, v in taps.items())}; worst f32/f64 {worst} "
                  f"(f32 {t_f32:.1f}s, f64 {t_f64 if t_f64 is None else round(t_f64, 1)}s, "
                  f"total {time.perf_counter() - t1:.1f}s)", flush=True)
            del model, taps, x

    path = os.path.join(out, REFERENCE_FILE)
    mr.write_safetensors(path, tensors, metadata={"format": FORMAT, "rule": mw.RULE_NAME, "seed": str(SEED)})
    from safetensors.numpy import load_file
    back = load_file(path)
    assert set(back) == set(tensors) and all(np.array_equal(back[k], v) for k, v in tensors.items())

    desc = collections.OrderedDict()
    desc["format"] = FORMAT
    desc["generator"] = "tools/make_vit_fullsize_fixtures.py"
    desc["versions"] = mv.versions()
    desc["threads"] = torch.get_num_threads()
    desc["reference"] = REFERENCE_FILE
    desc["weights"] = ("none stored: every model's weights are featx-random-v1 seed 0 (tools/make_weights.py, "
                       "docs/RANDOM_WEIGHTS.md) for the model's own state_dict, which featx regenerates bit for bit; "
                       "models[].tensors_sha256 (make_weights.tensors_digest: sha256 over key, dtype, shape and raw "
                       "bytes of every tensor in state_dict order) and state_dict_entries pin them")
    desc["image_order"] = order
    desc["images"] = images
    desc["dinov2_518"] = dinov2_pixels
    desc["preprocessing"] = {
        "lite": "the committed uint8 224x224 crops ../efficientnet/pixels/<id>.lite.png (png sha256 checked against "
                "efficientnet.json), x = px/255 then TF.normalize with the model's mean/std (as vit.json)",
        "dinov2_518": "pixels/<id>.dinov2_518.png (see dinov2_518), x = px/255 then TF.normalize(ImageNet)",
        "input_f32le_sha256": "images[].input_f32le_sha256.<source>.<normalisation>: sha256 of each [3,H,W] input "
                              "as little-endian float32 in C order",
        "normalisations": norms,
    }
    desc["models"] = models
    desc["tap_notes"] = TAP_NOTES
    desc["tensors"] = mv.tensor_table(tensors)
    notes = mv.tensor_notes(args.positions)
    notes = {k: v for k, v in notes.items() if k.startswith("<key>.")}
    notes["<key>.<vector tap>"] = "float32 [4, D] whole: pre_logits, patch_avg (see tap_notes)"
    desc["tensor_notes"] = notes
    mw.atomic_write_bytes(os.path.join(out, JSON_FILE),
                          mr.compact_json(desc, compact_keys=("state_dict_keys", "state_dict_shapes")).encode())

    names = [REFERENCE_FILE, JSON_FILE] + [f"{PIXELS_OUT}/{i}.{DINOV2_518_PIXELS}.png" for i in order]
    sizes = ", ".join(f"{f} {os.path.getsize(os.path.join(out, f)):,d} B" for f in names)
    print(f"wrote {sizes} ({len(tensors)} reference tensors) ({time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
