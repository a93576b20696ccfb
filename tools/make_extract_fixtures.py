#!/usr/bin/env python3
"""Reference fixtures for featx's numpy-RandomState port and its PIL/torchvision preprocessing port.

Writes (relative to the repository root, i.e. the parent of this script's folder):

    Tests/Fixtures/split/numpy_permutations.json   np.random.seed(s); np.random.permutation(n)
    Tests/Fixtures/split/numpy_random.json          raw MT19937 words, random_sample, standard_normal,
                                                    uniform, normal (float64 as float.hex), randint
    Tests/Fixtures/images/src/*                     small special-format images (JPEG/PNG variants)
    Tests/Fixtures/images/ref/*.png                 PIL/torchvision reference outputs, RGB8 PNG (lossless)
    Tests/Fixtures/images/manifest.json             what every reference is
    Tests/Fixtures/images/torchvision_sizes.json    Resize(int) output sizes and CenterCrop offsets

Usage:
    .cache/bench-venv/bin/python tools/make_extract_fixtures.py [--datasets ../shared/datasets]
                                                         [--export-ppm DIR]

The special images are crops of one dataset photo, re-encoded here with Pillow; the dataset photos used
for the remaining references are referenced by path relative to the datasets root ("datasets:<path>")
and are never copied into the repository.

`--export-ppm DIR` additionally writes every decoded source (PIL `convert('RGB')`, including the dataset
photos) and every reference output as binary PPM under DIR, mirroring the repository paths
(`DIR/Tests/Fixtures/images/ref/x.png.ppm`, `DIR/datasets/<path>.ppm`). That is for verifying ports
without a PNG decoder; it is not part of the committed fixtures.

Regenerating with other Pillow/libjpeg-turbo/zlib versions may change the encoded source files (and hence
all references); the committed set was made with the versions recorded in the manifest.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import types
import zlib
from pathlib import Path

# PyPI's torchvision wheel is built against CUDA torch; with the CPU torch wheel its fake-kernel
# registrations fail. We never need them.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image, JpegImagePlugin  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
import torchvision.transforms as T  # noqa: E402
import torchvision.transforms.functional as TF  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "Tests" / "Fixtures"

# --------------------------------------------------------------------------------------------------
# Part a: numpy legacy RandomState

PERM_SEEDS = [0, 1, 42, 2021, 123456789, 4294967295]
PERM_SIZES = [0, 1, 2, 3, 10, 100, 1000, 2949, 11788]
RANDOM_SEED = 12345
# max values for random_interval; > 0xffffffff exercises the 64-bit branch.
INTERVAL_MAXES = [1, 2, 5, 1000, 2948, 11787, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF,
                  0x100000000, 0x123456789AB, (1 << 62) + 12345]


def fnv1a32(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h ^= b
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def _py_random_interval(raw32, mx: int) -> int:
    """numpy's random_interval (distributions.c) over an iterator of raw MT19937 words."""
    if mx == 0:
        return 0
    mask = mx
    for s in (1, 2, 4, 8, 16, 32):
        mask |= mask >> s
    while True:
        if mx <= 0xFFFFFFFF:
            v = next(raw32) & mask
        else:
            hi = next(raw32)
            lo = next(raw32)
            v = ((hi << 32) | lo) & mask
        if v <= mx:
            return v


def write_numpy_fixtures(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)

    lines = []
    for s in PERM_SEEDS:
        for n in PERM_SIZES:
            np.random.seed(s)
            p = np.random.permutation(n)
            case = {"seed": s, "n": n, "permutation": [int(v) for v in p]}
            lines.append(json.dumps(case, separators=(",", ":")))
    head = {
        "description": "np.random.seed(seed); np.random.permutation(n) (legacy RandomState, MT19937)",
        "numpy": np.__version__,
    }
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n"
    (out_dir / "numpy_permutations.json").write_text(text)

    def fresh():
        return np.random.RandomState(RANDOM_SEED)

    raw = [int(v) for v in fresh()._bit_generator.random_raw(8)]
    rs = fresh()
    samples = [float(rs.random_sample()) for _ in range(8)]
    rs = fresh()
    normals = [float(rs.standard_normal()) for _ in range(8)]
    uni = [float(v) for v in fresh().uniform(-0.1, 0.1, 5)]
    nor = [float(v) for v in fresh().normal(0.0, 0.05, 5)]

    # Legacy randint uses the masked rejection loop, which is random_interval(max) for every max here
    # (checked against a Python transcription of random_interval on the raw words).
    intervals = []
    for mx in INTERVAL_MAXES:
        got = [int(v) for v in fresh().randint(0, mx + 1, size=8, dtype=np.int64)]
        words = iter(int(v) for v in fresh()._bit_generator.random_raw(4096))
        want = [_py_random_interval(words, mx) for _ in range(8)]
        assert got == want, (mx, got, want)
        intervals.append({"max": mx, "values": got})

    # A longer stream mixing calls, to check state carried between the distributions (gauss cache).
    rs = fresh()
    mixed = []
    for i in range(12):
        if i % 3 == 0:
            mixed.append({"call": "standard_normal", "value": float(rs.standard_normal()).hex()})
        elif i % 3 == 1:
            mixed.append({"call": "random_sample", "value": float(rs.random_sample()).hex()})
        else:
            mixed.append({"call": "normal(1.5,0.25)", "value": float(rs.normal(1.5, 0.25)).hex()})

    doc = {
        "description": "numpy.random.RandomState(seed), a fresh instance for every list; doubles as float.hex",
        "numpy": np.__version__,
        "seed": RANDOM_SEED,
        "raw_uint32": raw,
        "random_sample": [v.hex() for v in samples],
        "standard_normal": [v.hex() for v in normals],
        "uniform": {"low": -0.1, "high": 0.1, "values": [v.hex() for v in uni]},
        "normal": {"loc": 0.0, "scale": 0.05, "values": [v.hex() for v in nor]},
        "interval": intervals,
        "interval_note": "values = RandomState(seed).randint(0, max+1, size=8, dtype=int64) == 8 successive random_interval(max)",
        "mixed": mixed,
        "fnv1a32": {s: fnv1a32(s.encode("utf-8")) for s in
                    ["", "a", "foobar", "0:conv1.weight", "001.Black_footed_Albatross", "h\u00e9llo w\u00f6rld \u2603"]},
    }
    (out_dir / "numpy_random.json").write_text(json.dumps(doc, indent=1) + "\n")


# --------------------------------------------------------------------------------------------------
# Part b: images

CROP_PHOTO = "flower_photos_small/tulips/112334842_3ecf7585dd.jpg"  # 500x375
CROP_W, CROP_H = 80, 60  # special sources are crops of this size (the odd JPEG: 151x97)
DATASET_PHOTOS = [  # chosen among the smoothest (smallest reference PNGs) to keep the fixtures small
    "cub_birds50/024.Red_faced_Cormorant/0000.jpg",        # 227x227, 4:2:0
    "cub_birds50/063.Ivory_Gull/0000.jpg",                 # 227x227, 4:2:0
    "cub_birds50/069.Rufous_Hummingbird/0000.jpg",         # 227x227, 4:2:0
    "flower_photos_small/daisy/147068564_32bb4350cc.jpg",  # 500x375, 4:4:4, ICC profile (ignored by PIL)
    "flower_photos_small/daisy/11642632_1e7627a2cc.jpg",   # 500x333, 4:4:4
    "flower_photos_small/roses/269037241_07fceff56a_m.jpg",  # 201x240 (portrait, odd width)
]

# (transform spec for the manifest, torchvision transform)
TRANSFORMS = [
    ({"resize": [224, 224]}, T.Resize((224, 224))),
    ({"resize_shorter": 256, "crop": [224, 224]}, T.Compose([T.Resize(256), T.CenterCrop(224)])),
    ({"resize": [61, 97]}, T.Resize((61, 97))),
    ({"resize_shorter": 300}, T.Resize(300)),
]


# Extra references for two special sources: single-axis resizes (one pass skipped), an unchanged size
# (no pass at all), extreme downscales, and a crop whose offsets hit Python's round-half-even.
EXTRA_TRANSFORMS = {
    "png_rgb8.png": [  # 80x60
        ({"resize": [45, 80]}, T.Resize((45, 80))),   # vertical pass only
        ({"resize": [60, 57]}, T.Resize((60, 57))),   # horizontal pass only
        ({"resize": [60, 80]}, T.Resize((60, 80))),   # unchanged: torchvision returns the image itself
        ({"resize": [5, 7]}, T.Resize((5, 7))),
        ({"resize": [1, 1]}, T.Resize((1, 1))),
        # Pillow 13 pass order: vertical first iff inH - outH > 0 and inH - outH > 2 * (inW - outW)
        ({"resize": [20, 70]}, T.Resize((20, 70))),   # dh 40 > 2 * dw 10: vertical first
        ({"resize": [40, 70]}, T.Resize((40, 70))),   # dh 20 == 2 * dw 10: horizontal first (tie)
    ],
    "jpeg_odd_151x97.jpg": [  # 151x97
        ({"resize": [97, 300]}, T.Resize((97, 300))),  # horizontal only, upscale
        ({"resize": [13, 151]}, T.Resize((13, 151))),  # vertical only, downscale
        ({"resize": [40, 200]}, T.Resize((40, 200))),  # height down, width up: vertical first
        # Resize(50) -> 77x50; crop 72x47: left = round(2.5) = 2, top = round(1.5) = 2
        ({"resize_shorter": 50, "crop": [47, 72]}, T.Compose([T.Resize(50), T.CenterCrop((47, 72))])),
    ],
}


def transform_tag(spec: dict) -> str:
    if "resize" in spec:
        return f"r{spec['resize'][0]}x{spec['resize'][1]}"
    tag = f"s{spec['resize_shorter']}"
    if "crop" in spec:
        tag += f"c{spec['crop'][0]}x{spec['crop'][1]}"
    return tag


def tv_resized_size(w: int, h: int, shorter: int, max_size=None):
    """torchvision's Resize(int) rule, as (width, height)."""
    out_h, out_w = TF._compute_resized_output_size((h, w), [shorter], max_size)
    return out_w, out_h


def write_png16_rgb(path: Path, arr16: np.ndarray) -> None:
    """Minimal PNG writer for 16-bit RGB (colour type 2, bit depth 16); Pillow cannot write that mode."""
    h, w, c = arr16.shape
    assert c == 3 and arr16.dtype == np.uint16
    be = arr16.astype(">u2").tobytes()
    stride = w * 6
    raw = b"".join(b"\x00" + be[y * stride:(y + 1) * stride] for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    path.write_bytes(png)


def make_special_sources(photo: Image.Image, src_dir: Path) -> list[dict]:
    """Encode the special images; returns [{file, kind, note}]."""
    src_dir.mkdir(parents=True, exist_ok=True)
    rgb = photo.convert("RGB")

    def crop(x, y, w=CROP_W, h=CROP_H):
        return rgb.crop((x, y, x + w, y + h))

    yy, xx = np.mgrid[0:CROP_H, 0:CROP_W]
    out = []

    def add(name, kind, note=""):
        out.append({"file": name, "kind": kind, "note": note})

    crop(240, 80).save(src_dir / "jpeg_420.jpg", "JPEG", quality=90, subsampling=2)
    add("jpeg_420.jpg", "jpeg_baseline_420")
    crop(80, 60).save(src_dir / "jpeg_444.jpg", "JPEG", quality=90, subsampling=0)
    add("jpeg_444.jpg", "jpeg_baseline_444")
    crop(300, 0).save(src_dir / "jpeg_progressive.jpg", "JPEG", quality=85, subsampling=2, progressive=True)
    add("jpeg_progressive.jpg", "jpeg_progressive_420")
    crop(200, 80).convert("L").save(src_dir / "jpeg_gray.jpg", "JPEG", quality=90)
    add("jpeg_gray.jpg", "jpeg_gray")

    # CMYK with real black: K = 255 - max(R,G,B); C,M,Y from the remaining ink (Pillow's own RGB->CMYK
    # conversion sets K = 0). Pillow writes CMYK JPEG inverted with an Adobe APP14 marker (transform 0).
    a = np.asarray(crop(360, 120)).astype(np.int32)
    k = 255 - a.max(axis=2)
    denom = np.maximum(255 - k, 1)
    cmy = ((255 - a - k[..., None]) * 255 + denom[..., None] // 2) // denom[..., None]
    cmyk = np.concatenate([np.clip(cmy, 0, 255), k[..., None]], axis=2).astype(np.uint8)
    Image.fromarray(cmyk, "CMYK").save(src_dir / "jpeg_cmyk.jpg", "JPEG", quality=90)
    add("jpeg_cmyk.jpg", "jpeg_cmyk_adobe", "Pillow writes Adobe-inverted CMYK; convert('RGB') = PIL cmyk2rgb")

    crop(301, 125, 151, 97).save(src_dir / "jpeg_odd_151x97.jpg", "JPEG", quality=90, subsampling=2)
    add("jpeg_odd_151x97.jpg", "jpeg_baseline_420_odd_size")

    crop(120, 100).save(src_dir / "png_rgb8.png", "PNG", optimize=True)
    add("png_rgb8.png", "png_rgb8")
    crop(260, 0).quantize(colors=64, dither=Image.Dither.NONE).save(src_dir / "png_palette.png", "PNG", optimize=True)
    add("png_palette.png", "png_palette", "quantize(64, no dither), no transparency")
    crop(40, 0).convert("L").save(src_dir / "png_gray8.png", "PNG", optimize=True)
    add("png_gray8.png", "png_gray8")

    g = np.asarray(crop(140, 0).convert("L")).astype(np.uint16)
    g16 = g * 257 + ((xx * 37 + yy * 11) % 257).astype(np.uint16)
    g16 = np.where(g16 > 65535, 65535, g16).astype(np.uint16)
    g16[:CROP_H // 3] = g[:CROP_H // 3]  # top third holds values 0..255 only: PIL's I;16 -> RGB clip is visible
    Image.fromarray(g16).save(src_dir / "png_gray16.png", "PNG")
    add("png_gray16.png", "png_gray16",
        "PIL opens as I;16; convert('RGB') CLIPS values to 0..255 (the top third holds 0..255, the rest saturates)")

    rgba = np.asarray(crop(320, 100)).copy()
    alpha = ((xx * 255) // (CROP_W - 1)).astype(np.uint8)
    alpha[(yy // 10 + xx // 10) % 5 == 0] = 0
    Image.fromarray(np.dstack([rgba, alpha]), "RGBA").save(src_dir / "png_rgba.png", "PNG", optimize=True)
    add("png_rgba.png", "png_rgba", "alpha ramp plus alpha=0 squares; convert('RGB') drops alpha (no compositing)")

    low = ((yy * 29 + (xx // 8) * 13) % 256)[..., None].astype(np.uint16)  # runs: keeps the PNG small
    c16 = np.asarray(crop(280, 180)).astype(np.uint16) * 256 + low
    write_png16_rgb(src_dir / "png_rgb16.png", c16.astype(np.uint16))
    add("png_rgb16.png", "png_rgb16", "written by this script (Pillow cannot write 48-bit RGB); PIL keeps the high byte")

    la = np.asarray(crop(400, 160).convert("L"))
    la_alpha = (255 - (yy * 255) // (CROP_H - 1)).astype(np.uint8)
    Image.fromarray(np.dstack([la, la_alpha]), "LA").save(src_dir / "png_la.png", "PNG", optimize=True)
    add("png_la.png", "png_la", "convert('RGB') drops alpha")
    return out


def save_rgb_png(img: Image.Image, path: Path) -> None:
    assert img.mode == "RGB"
    img.save(path, "PNG", optimize=True)


def export_ppm(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "PPM")


def reference_outputs(rgb: Image.Image, stem: str, ref_dir: Path, export_dir, extra=()) -> list[dict]:
    outs = []
    w, h = rgb.size
    for spec, tf in list(TRANSFORMS) + list(extra):
        res = tf(rgb)
        assert res.mode == "RGB"
        # Cross-check the size rules we document in the manifest / port to Swift.
        if "resize" in spec:
            exp_size = (spec["resize"][1], spec["resize"][0])
        else:
            rw, rh = tv_resized_size(w, h, spec["resize_shorter"])
            short, long = (w, h) if w <= h else (h, w)
            nl = int(spec["resize_shorter"] * long / short)
            assert (rw, rh) == ((spec["resize_shorter"], nl) if w <= h else (nl, spec["resize_shorter"]))
            exp_size = (rw, rh)
            if "crop" in spec:
                ch, cw = spec["crop"]
                top = int(round((rh - ch) / 2.0))
                left = int(round((rw - cw) / 2.0))
                manual = rgb.resize((rw, rh), Image.BILINEAR).crop((left, top, left + cw, top + ch))
                assert np.array_equal(np.asarray(manual), np.asarray(res))
                exp_size = (cw, ch)
        assert res.size == exp_size, (res.size, exp_size)
        fname = f"{stem}__{transform_tag(spec)}.png"
        save_rgb_png(res, ref_dir / fname)
        entry = {"transform": spec, "file": f"Tests/Fixtures/images/ref/{fname}",
                 "size": [res.size[0], res.size[1]]}
        if "resize_shorter" in spec:
            entry["resized_size"] = list(tv_resized_size(w, h, spec["resize_shorter"]))
        outs.append(entry)
        if export_dir is not None:
            export_ppm(res, Path(str(export_dir / entry["file"]) + ".ppm"))
    return outs


def write_image_fixtures(datasets: Path, export_dir) -> None:
    img_dir = FIXTURES / "images"
    src_dir = img_dir / "src"
    ref_dir = img_dir / "ref"
    ref_dir.mkdir(parents=True, exist_ok=True)
    for old in list(ref_dir.glob("*.png")):
        old.unlink()

    photo = Image.open(datasets / CROP_PHOTO)
    specials = make_special_sources(photo, src_dir)
    entries = []

    for s in specials:
        p = src_dir / s["file"]
        im = Image.open(p)
        pil_mode = im.mode
        info = {"format": im.format, "width": im.size[0], "height": im.size[1]}
        if im.format == "JPEG":
            info["jpeg_sampling"] = JpegImagePlugin.get_sampling(im)
            info["progressive"] = bool(im.info.get("progressive", 0))
            if "adobe" in im.info:
                info["adobe_transform"] = im.info.get("adobe_transform")
        rgb = im.convert("RGB")
        stem = Path(s["file"]).stem
        dec_name = f"{stem}__decoded.png"
        save_rgb_png(rgb, ref_dir / dec_name)
        if s["file"] == "png_rgb16.png":
            # Pillow decodes 16-bit RGB PNG by keeping the most significant byte of every sample.
            assert np.array_equal(np.asarray(rgb), np.asarray(photo.convert("RGB").crop((280, 180, 280 + CROP_W, 180 + CROP_H))))
        if s["file"] == "png_gray16.png":
            # ... but 16-bit gray ('I;16') -> RGB clips each value to 0..255.
            v = np.asarray(im).astype(np.int64)
            assert np.array_equal(np.asarray(rgb)[..., 0], np.clip(v, 0, 255))
        rel = f"Tests/Fixtures/images/src/{s['file']}"
        entry = {"source": rel, "kind": s["kind"], "pil_mode": pil_mode, **info,
                 "decoded": f"Tests/Fixtures/images/ref/{dec_name}"}
        if s["note"]:
            entry["note"] = s["note"]
        if export_dir is not None:
            export_ppm(rgb, Path(str(export_dir / entry["decoded"]) + ".ppm"))
        entry["outputs"] = reference_outputs(rgb, stem, ref_dir, export_dir, EXTRA_TRANSFORMS.get(s["file"], ()))
        entries.append(entry)

    for rel in DATASET_PHOTOS:
        im = Image.open(datasets / rel)
        info = {"format": im.format, "width": im.size[0], "height": im.size[1],
                "jpeg_sampling": JpegImagePlugin.get_sampling(im),
                "progressive": bool(im.info.get("progressive", 0))}
        rgb = im.convert("RGB")
        stem = "ds_" + rel.replace("/", "_").rsplit(".", 1)[0]
        entry = {"source": f"datasets:{rel}", "kind": "dataset_photo", "pil_mode": im.mode, **info,
                 "decoded": None}
        if export_dir is not None:
            export_ppm(rgb, export_dir / "datasets" / (rel + ".ppm"))
        entry["outputs"] = reference_outputs(rgb, stem, ref_dir, export_dir)
        entries.append(entry)

    manifest = {
        "description": "PIL decode (Image.open(p).convert('RGB')) and torchvision transforms on that PIL RGB image",
        "conventions": {
            "source": "repository-relative path, or 'datasets:<path relative to the datasets root>'",
            "decoded": "RGB8 PNG of Image.open(source).convert('RGB'), or null (dataset photos)",
            "transform.resize": "[height, width]: torchvision Resize((h, w)) = PIL resize((w, h), BILINEAR)",
            "transform.resize_shorter": "torchvision Resize(n): shorter side n, longer int(n * long / short)",
            "transform.crop": "[height, width]: torchvision CenterCrop; top = int(round((H - h) / 2.0)), "
                              "left likewise (Python round = half to even)",
            "size": "[width, height] of the reference output",
            "resized_size": "[width, height] after the Resize(n) step (before any crop)",
            "jpeg_sampling": "PIL JpegImagePlugin.get_sampling: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0, -1 = n/a",
        },
        "versions": {"Pillow": PIL.__version__, "torchvision": torchvision.__version__,
                     "numpy": np.__version__, "torch": torch.__version__},
        "crop_photo": f"datasets:{CROP_PHOTO}",
        "sources": entries,
    }
    text = json.dumps(manifest, indent=1)
    (img_dir / "manifest.json").write_text(text + "\n")


def write_size_fixtures() -> None:
    """torchvision Resize(int) sizes (with/without max_size) and CenterCrop offsets, from torchvision itself."""
    sizes = []
    dims = [(227, 227), (500, 375), (375, 500), (500, 333), (180, 240), (159, 240), (320, 213), (1, 1),
            (1, 1000), (1000, 1), (7, 3), (256, 256), (255, 257), (641, 480), (4000, 3000), (500, 281)]
    for w, h in dims:
        for shorter in (1, 224, 256, 300):
            for max_size in (None, 320, 1000):
                if max_size is not None and max_size <= shorter:
                    continue
                rw, rh = tv_resized_size(w, h, shorter, max_size)
                sizes.append({"w": w, "h": h, "shorter": shorter, "max_size": max_size, "out": [rw, rh]})
    crops = []
    for w, h in [(256, 256), (341, 256), (256, 384), (257, 256), (258, 259), (229, 227), (231, 233),
                 (225, 225), (224, 224), (300, 225), (200, 300), (223, 100), (10, 10), (11, 12)]:
        for cw, ch in [(224, 224), (224, 200), (3, 5)]:
            # Ground truth: crop a tensor whose values encode their own coordinates (+1; 0 = padding).
            t = (torch.arange(h * w, dtype=torch.int64).reshape(1, h, w) + 1)
            c = TF.center_crop(t, [ch, cw])
            ys, xs = torch.nonzero(c[0] > 0, as_tuple=True)
            v0 = int(c[0, ys[0], xs[0]]) - 1
            left = (v0 % w) - int(xs[0])
            top = (v0 // w) - int(ys[0])
            assert top == (int(round((h - ch) / 2.0)) if ch <= h else -((ch - h) // 2))
            assert left == (int(round((w - cw) / 2.0)) if cw <= w else -((cw - w) // 2))
            crops.append({"w": w, "h": h, "crop_w": cw, "crop_h": ch, "left": left, "top": top})
    doc = {
        "description": "torchvision.transforms.functional._compute_resized_output_size and center_crop offsets",
        "torchvision": torchvision.__version__,
        "resize_shorter": sizes,
        "center_crop_note": "left/top = source coordinate of output pixel (0,0); negative = zero padding "
                            "(torchvision pads (c - s) // 2 before)",
        "center_crop": crops,
    }
    lines = ",\n".join(json.dumps(x, separators=(",", ":")) for x in sizes)
    lines2 = ",\n".join(json.dumps(x, separators=(",", ":")) for x in crops)
    head = {k: v for k, v in doc.items() if k not in ("resize_shorter", "center_crop")}
    text = json.dumps(head, separators=(",", ":"))[:-1]
    text += ',"resize_shorter":[\n' + lines + '\n],"center_crop":[\n' + lines2 + "\n]}\n"
    (FIXTURES / "images" / "torchvision_sizes.json").write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=os.environ.get("FEATX_DATASETS", str(Path(__file__).resolve().parents[2] / "shared" / "datasets")))
    ap.add_argument("--export-ppm", default=None, help="also write PPM copies here (not for committing)")
    ap.add_argument("--only", choices=["numpy", "images"], default=None)
    args = ap.parse_args()
    export_dir = Path(args.export_ppm) if args.export_ppm else None
    if args.only in (None, "numpy"):
        write_numpy_fixtures(FIXTURES / "split")
    if args.only in (None, "images"):
        write_image_fixtures(Path(args.datasets), export_dir)
        write_size_fixtures()


if __name__ == "__main__":
    main()
