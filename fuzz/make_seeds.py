#!/usr/bin/env python3
"""Builds the fuzzers' seed corpora from small valid (and a few hostile) files.

    .cache/bench-venv/bin/python fuzz/make_seeds.py [OUT]  # the venv bench/setup makes;        # OUT defaults to fuzz/seeds

Writes OUT/checkpoint (FuzzCheckpoint), OUT/image (FuzzImage), OUT/store (FuzzStore) and OUT/timm
(FuzzTimmConfig). Needs torch, numpy,
h5py and Pillow (the repository's venv has them); the store seeds also use a built `featx` (release or
debug) when one exists, so that the corpus holds files written by featx's own HDF5 code, not only by h5py.
Every seed is small (the largest a few tens of KB): the fuzzers run with -max_len 65536 or less.
Deterministic apart from the featx-written store's `created` timestamp.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parent
FIXTURES = REPO / "Tests" / "Fixtures"


def write(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# ---------------------------------------------------------------------------------------------- checkpoints


def small_state_dict(dtype=torch.float32):
    """A 2-layer conv + BatchNorm state_dict (as torchvision writes them: OrderedDict with _metadata)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1, bias=False), torch.nn.BatchNorm2d(2))
    sd = net.state_dict()
    if dtype != torch.float32:
        sd = OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())
    return sd


def saved(obj, legacy=False, protocol=2) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    return buf.getvalue()


def checkpoint_seeds(out: Path):
    sd = small_state_dict()
    base = torch.arange(12, dtype=torch.float32)
    odd = OrderedDict(
        [
            ("transposed", torch.arange(6, dtype=torch.float32).reshape(2, 3).t()),  # strides (1, 3)
            ("offset_view", base[3:7]),  # storage offset 3 into a shared 12-element storage
            ("shared", base.reshape(3, 4)),  # same storage again
            ("empty", torch.zeros(0, 3)),
            ("scalar", torch.tensor(2.5)),
            ("steps", torch.tensor(7, dtype=torch.int64)),
            ("ints", torch.arange(4, dtype=torch.int32)),
            ("bytes", torch.arange(4, dtype=torch.uint8)),
            ("flags", torch.tensor([True, False])),
            ("expanded", torch.ones(1, 3).expand(2, 3)),  # stride 0
        ]
    )
    seeds = {
        "sd.zip.pth": saved(sd),
        "sd.legacy.pth": saved(sd, legacy=True),
        "sd.p4.zip.pth": saved(sd, protocol=4),
        "sd.p4.legacy.pth": saved(sd, legacy=True, protocol=4),
        "sd.half.zip.pth": saved(small_state_dict(torch.float16)),
        "sd.bf16.legacy.pth": saved(small_state_dict(torch.bfloat16), legacy=True),
        "sd.double.zip.pth": saved(small_state_dict(torch.float64)),
        "wrapped.zip.pth": saved({"state_dict": sd, "epoch": 3, "arch": "tiny"}),
        "model.legacy.pth": saved({"model": sd, "lr": 0.1}, legacy=True),
        "odd.zip.pth": saved(odd),
        "odd.legacy.pth": saved(odd, legacy=True),
        "odd.p4.zip.pth": saved(odd, protocol=4),
    }
    # The same archive with its records deflated (torch never writes that; featx should refuse cleanly).
    src = zipfile.ZipFile(io.BytesIO(seeds["sd.zip.pth"]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    seeds["sd.deflated.zip.pth"] = buf.getvalue()

    # safetensors, written by hand (8-byte header length, JSON header, data), every dtype featx knows.
    def safetensors(tensors, metadata=None):
        header, data = {}, b""
        if metadata is not None:
            header["__metadata__"] = metadata
        for name, (dtype, shape, raw) in tensors.items():
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + data

    f32 = np.arange(6, dtype="<f4")
    seeds["all_dtypes.safetensors"] = safetensors(
        {
            "f32": ("F32", [2, 3], f32.tobytes()),
            "f64": ("F64", [3], np.arange(3, dtype="<f8").tobytes()),
            "f16": ("F16", [2, 2], np.arange(4, dtype="<f2").tobytes()),
            "bf16": ("BF16", [2], (np.arange(2, dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()),
            "i64": ("I64", [], struct.pack("<q", 7)),
            "i32": ("I32", [2], struct.pack("<2i", -1, 2)),
            "i16": ("I16", [1], struct.pack("<h", -3)),
            "i8": ("I8", [1], struct.pack("<b", -4)),
            "u8": ("U8", [3], bytes([1, 2, 3])),
            "u16": ("U16", [1], struct.pack("<H", 9)),
            "bool": ("BOOL", [2], bytes([1, 0])),
            "empty": ("F32", [0, 4], b""),
        },
        metadata={"format": "pt"},
    )
    sdnp = {k: v.numpy() for k, v in sd.items()}
    seeds["sd.safetensors"] = safetensors(
        {k: ("F32" if v.dtype == np.float32 else "I64", list(v.shape), v.tobytes()) for k, v in sdnp.items()}
    )
    for name, data in seeds.items():
        write(out / name, data)
    # Hostile files of the test suite and the smaller committed tiny models.
    for p in sorted((FIXTURES / "backbones" / "bad").glob("*.pth")):
        if p.stat().st_size > 0:
            shutil.copy(p, out / f"bad_{p.name}")
    for name in ["resnet18.safetensors", "resnet34.safetensors"]:
        shutil.copy(FIXTURES / "backbones" / "tiny" / name, out / f"tiny_{name}")


# ---------------------------------------------------------------------------------------------------- images


def image_seeds(out: Path):
    for p in sorted((FIXTURES / "images" / "src").iterdir()):
        if p.suffix in (".jpg", ".png") and p.stat().st_size <= 32768:
            shutil.copy(p, out / p.name)
    rng = np.random.default_rng(0)

    def save(name, img, **kw):
        buf = io.BytesIO()
        img.save(buf, **kw)
        write(out / name, buf.getvalue())

    rgb = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), "RGB")
    save("tiny_rgb.png", rgb, format="PNG")
    save("tiny_rgb.jpg", rgb, format="JPEG", quality=90)
    save("tiny_rgb_prog.jpg", rgb, format="JPEG", progressive=True, subsampling=2)
    save("tiny_rgb_444.jpg", rgb, format="JPEG", subsampling=0)
    save("one_pixel.png", Image.new("RGB", (1, 1), (200, 10, 30)), format="PNG")
    save("one_pixel.jpg", Image.new("L", (1, 1), 77), format="JPEG")
    save("tall_1x300.png", Image.new("L", (1, 300), 128), format="PNG")
    save("wide_300x1.jpg", Image.new("RGB", (300, 1), (1, 2, 3)), format="JPEG")
    pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=4)
    save("tiny_palette_trns.png", pal, format="PNG", transparency=0)
    save("tiny_rgba.png", rgb.convert("RGBA"), format="PNG")
    save("tiny_gray16.png", Image.fromarray(rng.integers(0, 65535, (4, 3), dtype=np.uint16)), format="PNG")
    save("tiny_bilevel.png", Image.new("1", (9, 5), 1), format="PNG")
    save("tiny_cmyk.jpg", rgb.convert("CMYK"), format="JPEG")
    # Large dimensions in few bytes: just under and over the harness's 4,000,000-pixel limit.
    save("flat_1000x1000.png", Image.new("L", (1000, 1000), 3), format="PNG", optimize=True)
    save("flat_2100x2000.png", Image.new("L", (2100, 2000), 3), format="PNG", optimize=True)
    save("flat_800x600.jpg", Image.new("RGB", (800, 600), (9, 99, 199)), format="JPEG", quality=20)


# ---------------------------------------------------------------------------------------------------- stores


def h5py_store(path: Path, rows=3, dim=4, dtype="<f4", complete=True, folders=True, skipped=True, chunked=True):
    """A feature store written with h5py following docs/FORMAT.md."""
    vstr = h5py.string_dtype("utf-8")
    with h5py.File(path, "w", libver="earliest") as f:
        a = f.attrs
        a["format"] = "featx-features"
        a["format_version"] = np.int64(1)
        a["featx_version"] = "0.1.0"
        a["arch"] = "resnet18"
        a["weights_file"] = "random:0"
        a["weights_sha256"] = "random:0"
        a["layer"] = "avgpool"
        a["pooling"] = "avg"
        a["preprocess"] = json.dumps({"resize": {"shorter": 256}, "crop": [224, 224], "mean": None, "std": None})
        a["split_mode"] = "random"
        a["split_seed"] = np.int64(2021)
        a["split_ratio"] = np.float64(0.8)
        a["created"] = "2024-01-01T00:00:00Z"
        a["source"] = "data"
        a["shard"] = ""
        a["shard_start"] = np.int64(0)
        a["dataset_rows"] = np.int64(rows)
        a["rows_complete"] = np.int64(rows if complete else max(rows - 1, 0))
        a["complete"] = np.int64(1 if complete else 0)
        x = np.arange(rows * dim, dtype=np.float32).reshape(rows, dim).astype(dtype)
        d = f.create_dataset("features", data=x, chunks=(1, dim) if chunked and rows else None)
        d.attrs["feature_shape"] = np.array([dim], dtype=np.int64)
        f.create_dataset("labels", data=np.arange(rows, dtype=np.int64) % 2)
        f.create_dataset("classes", data=["a", "b"], dtype=vstr)
        if folders:
            f.create_dataset("class_folders", data=["001.a", "002.b"], dtype=vstr)
        f.create_dataset("paths", data=[f"x/{i}.jpg" for i in range(rows)], dtype=vstr)
        f.create_dataset("split", data=np.array([i % 2 for i in range(rows)], dtype=np.uint8))
        if not complete:
            f.create_dataset("row_status", data=np.array([1] * (rows - 1) + [0], dtype=np.uint8))
        if skipped:
            g = f.create_group("skipped")
            g.create_dataset("paths", data=["b/bad.jpg"], dtype=vstr)
            g.create_dataset("reasons", data=["not a JPEG or PNG file"], dtype=vstr)


def featx_binary():
    for sub in ["release", "debug"]:
        p = REPO / ".build" / sub / "featx"
        if p.exists():
            return p
    return None


def store_seeds(out: Path):
    h5py_store(out / "h5py_f32.h5")
    h5py_store(out / "h5py_f16_contiguous.h5", dtype="<f2", chunked=False, folders=False, skipped=False)
    h5py_store(out / "h5py_incomplete.h5", complete=False)
    h5py_store(out / "h5py_empty.h5", rows=0, skipped=False)
    featx = featx_binary()
    if featx is None:
        print("make_seeds: no built featx; store seeds are h5py-written only", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(1)
        for c, cls in enumerate(["001.red", "002.blue"]):
            (tmp / "data" / cls).mkdir(parents=True)
            for i in range(4):
                arr = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(arr).save(tmp / "data" / cls / f"{i}.png")
        (tmp / "data" / "002.blue" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        common = ["--arch", "resnet18", "--weights", "random:0", "--threads", "1", "--split", "0.5"]
        run = lambda *a: subprocess.run([str(featx), *a], check=True, env=env, capture_output=True, text=True)
        run("extract", str(tmp / "data"), "-o", str(tmp / "s.h5"), "--layer", "layer4", "--pool", "avg", "--preset", "seed",
            "--resize", "32,32", *common)
        run("extract", str(tmp / "data"), "-o", str(tmp / "s16.h5"), "--pool", "max", "--dtype", "float16",
            "--preset", "seed", "--resize", "32,32", *common)
        run("probe", str(tmp / "s.h5"), "-o", str(tmp / "head.h5"))
        run("probe", str(tmp / "s.h5"), "-o", str(tmp / "seedhead.h5"), "--recipe", "seed", "--epochs", "2")
        for name in ["s.h5", "s16.h5", "head.h5", "seedhead.h5"]:
            shutil.copy(tmp / name, out / f"featx_{name}")


def timm_seeds(out: Path):
    """FuzzTimmConfig: timm's config.json files (Tests/Fixtures/timm and hub, real and hand-written) and NAVER-style
    rdnet key lists after a 0 byte."""
    rdnet_keys = b"\n".join(
        [b"stem.stem.0.weight", b"stem.stem.0.bias", b"stem.stem.1.weight", b"stages.0.blocks.0.stem.stem.weight",
         b"stem.stem.stem.x", b"stem.0.bias", b"head.fc.weight"])
    configs = sorted((FIXTURES / "timm" / "configs").glob("*.json")) + sorted((FIXTURES / "hub").glob("*/config.json"))
    for p in configs:
        name = p.stem if p.parent.name == "configs" else p.parent.name
        write(out / f"{name}.json", p.read_bytes())
        write(out / f"{name}.keys", p.read_bytes() + b"\0" + rdnet_keys)
    cases = json.loads((FIXTURES / "timm" / "transforms.json").read_text())["cases"]
    for case in cases:
        if "config" in case:
            write(out / f"{case['name']}.json", json.dumps(case["config"]).encode())
    write(out / "rdnet_keys_only", b"\0" + rdnet_keys)
    write(out / "broken.json", b'{"architecture": "rdnet_tiny", "pretrained_cfg": {"input_size": [3, 224')


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else FUZZ / "seeds"
    for part, make in [("checkpoint", checkpoint_seeds), ("image", image_seeds), ("store", store_seeds), ("timm", timm_seeds)]:
        d = out / part
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        make(d)
        files = sorted(d.iterdir())
        print(f"{part}: {len(files)} seeds, {sum(p.stat().st_size for p in files)} bytes, largest "
              f"{max(p.stat().st_size for p in files)}")


if __name__ == "__main__":
    main()
