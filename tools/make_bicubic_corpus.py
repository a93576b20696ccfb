#!/usr/bin/env python3
"""Builds Tests/Fixtures/images/bicubic/: PIL's bicubic resize of small images, byte for byte.

    .cache/venv/bin/python tools/make_bicubic_corpus.py          # rewrite the corpus
    .cache/venv/bin/python tools/make_bicubic_corpus.py --check  # only compare disk with PIL

timm's weights are mostly evaluated with bicubic resizing (`Resize(..., interpolation=BICUBIC)`, i.e.
PIL's `Image.resize(size, Image.BICUBIC)` with reducing_gap None), and featx ports Pillow 13's
Resample.c for it. This corpus is the ground truth that port is tested against:

- sources (src/*.png, RGB8, lossless): crops of photos from the shared datasets (decoded by PIL, so
  the test checks the resize only), and synthetic images with hard edges (black/white and saturated
  colour stripes, one-pixel lines, a checkerboard) on which bicubic's negative lobes overshoot below 0
  and above 255, so that the 8-bit clip decides pixels;
- outputs (out/*.png): each source resized to sizes down, up, odd, one pixel wide or high, changing
  only one axis, and in both of Pillow 13's pass orders (vertical first when the height shrinks by more
  than twice as many pixels as the width);
- manifest.json: per output its source, size, Pillow's pass order, the sha256 of the RGB bytes, and
  how many samples overshoot 0...255 before the clip (estimated with the same resize in mode "F", which
  Pillow computes with the same filter but in floating point, without rounding or clipping).

Deterministic: a second run writes byte-identical files.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import os
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "Tests" / "Fixtures" / "images" / "bicubic"
# as tools/make_reference.py: $FEATX_DATASETS, else ../shared/datasets beside the repository
DATASETS = Path(os.environ.get("FEATX_DATASETS", str(REPO.parent / "shared" / "datasets")))

# (name, dataset file, crop box (left, top, right, bottom) in the decoded photo)
PHOTOS = [
    ("daisy_97x61", "flower_photos_small/daisy/153210866_03cc9f2f36.jpg", (40, 30, 137, 91)),
    ("dandelion_64x64", "flower_photos_small/dandelion/", (10, 10, 74, 74)),
    ("roses_33x120", "flower_photos_small/roses/", (60, 0, 93, 120)),
]


def first_jpeg(folder: str) -> str:
    """The first JPEG of a dataset folder (sorted by name), relative to the datasets root."""
    if folder.endswith(".jpg"):
        return folder
    files = sorted(p.name for p in (DATASETS / folder).iterdir() if p.suffix.lower() == ".jpg")
    return folder + files[0]


def synthetic() -> dict[str, np.ndarray]:
    """Hard-edged images (uint8 RGB) on which bicubic overshoots."""
    images = {}
    # Vertical black/white stripes of varying width, with saturated colour bands.
    w, h = 41, 23
    a = np.zeros((h, w, 3), np.uint8)
    for x in range(w):
        a[:, x] = 255 if (x // (1 + x % 3)) % 2 else 0
    a[5:9, :, 0] = 255
    a[5:9, :, 1:] = 0
    a[14:16, :, 2] = 255
    images["stripes_41x23"] = a
    # Checkerboard of 3x3 cells.
    w, h = 30, 30
    yy, xx = np.mgrid[0:h, 0:w]
    b = (((xx // 3) + (yy // 3)) % 2 * 255).astype(np.uint8)
    images["checker_30x30"] = np.stack([b, 255 - b, b], axis=2)
    # One-pixel white lines and dots on black, and a colour step.
    w, h = 17, 50
    c = np.zeros((h, w, 3), np.uint8)
    c[::7, :] = 255
    c[:, ::5] = 255
    c[20:30, 8:, :] = (0, 255, 128)
    images["lines_17x50"] = c
    # One row and one column (the axes that do not change are copied, not filtered).
    row = np.zeros((1, 25, 3), np.uint8)
    row[0, ::2] = 255
    row[0, 10:15] = (255, 0, 0)
    images["row_25x1"] = row
    images["column_1x19"] = np.ascontiguousarray(np.transpose(row[:, :19], (1, 0, 2)))
    return images


def targets(w: int, h: int) -> list[tuple[int, int]]:
    """Output sizes (width, height) for a w x h source: down, up, odd, 1-pixel, one axis, both orders."""
    sizes = [
        (max(1, w // 2), max(1, h // 2)),  # down
        (max(1, (w * 3) // 7), max(1, (h * 5) // 11)),  # down, odd ratio
        (w * 2, h * 2),  # up
        (w * 3 + 1, h + 7),  # up, odd
        (1, h),  # one pixel wide, height unchanged
        (w, 1),  # one pixel high
        (1, 1),
        (w + 5, h),  # width only
        (w, max(1, h - 3)),  # height only
        (max(1, w - 1), max(1, h // 4)),  # height shrinks > 2x the width's loss: vertical pass first
        (max(1, w // 4), max(1, h - 1)),  # horizontal first
        (max(1, (w * 2) // 3), h * 2 + 1),  # shrink one axis, enlarge the other
    ]
    out = []
    for s in sizes:
        if s not in out and s != (w, h):
            out.append(s)
    return out


def vertical_first(w: int, h: int, ow: int, oh: int) -> bool:
    """Pillow 13's pass order (ImagingResampleInner)."""
    return h - oh > 0 and h - oh > (w - ow) * 2


def clipped_samples(img: Image.Image, size: tuple[int, int]) -> int:
    """Samples whose unclipped bicubic value is outside 0...255 (mode F, one pass per axis)."""
    count = 0
    for band in img.split():
        f = np.asarray(band.convert("F").resize(size, Image.BICUBIC), dtype=np.float64)
        count += int(np.count_nonzero((f < -0.5) | (f >= 255.5)))
    return count


def png_bytes(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def build() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    sources: list[dict] = []
    images: list[tuple[str, Image.Image, dict]] = []
    for name, rel, box in PHOTOS:
        rel = first_jpeg(rel)
        with Image.open(DATASETS / rel) as im:
            img = im.convert("RGB").crop(box)
        images.append((name, img, {"from": f"datasets:{rel}", "crop": list(box)}))
    for name, arr in synthetic().items():
        images.append((name, Image.fromarray(arr, "RGB"), {"from": "synthetic"}))

    outputs = []
    for name, img, origin in images:
        src = f"src/{name}.png"
        files[src] = png_bytes(img)
        w, h = img.size
        sources.append({"name": name, "file": src, "width": w, "height": h, **origin})
        for ow, oh in targets(w, h):
            out = img.resize((ow, oh), Image.BICUBIC, reducing_gap=None)
            assert out.mode == "RGB" and out.size == (ow, oh)
            file = f"out/{name}_{ow}x{oh}.png"
            files[file] = png_bytes(out)
            outputs.append(
                {
                    "source": name,
                    "file": file,
                    "width": ow,
                    "height": oh,
                    "vertical_first": vertical_first(w, h, ow, oh),
                    "sha256": hashlib.sha256(out.tobytes()).hexdigest(),
                    "clipped_samples": clipped_samples(img, (ow, oh)),
                }
            )
    manifest = {
        "generator": "tools/make_bicubic_corpus.py",
        "pillow": PIL.__version__,
        "resize": "Image.resize((width, height), Image.BICUBIC, reducing_gap=None) of the RGB source",
        "sources": sources,
        "outputs": outputs,
    }
    files["manifest.json"] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare the files on disk with a fresh build")
    args = parser.parse_args()
    assert PIL.__version__ == "13.0.0", f"the corpus pins Pillow 13.0.0, this is {PIL.__version__}"
    files = build()
    if args.check:
        bad = [n for n, data in files.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != data]
        extra = sorted(
            str(p.relative_to(OUT)) for p in OUT.rglob("*") if p.is_file() and str(p.relative_to(OUT)) not in files
        )
        for n in bad:
            print(f"differs: {n}")
        for n in extra:
            print(f"not generated: {n}")
        return 1 if bad or extra else 0
    if OUT.exists():
        for p in sorted(OUT.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    for n, data in files.items():
        (OUT / n).parent.mkdir(parents=True, exist_ok=True)
        (OUT / n).write_bytes(data)
    outputs = json.loads(files["manifest.json"])["outputs"]
    total = sum(len(d) for d in files.values())
    print(
        f"wrote {len(files)} files ({total} bytes) to {OUT}: {len(outputs)} outputs, "
        f"{sum(o['vertical_first'] for o in outputs)} vertical-first, "
        f"{sum(o['clipped_samples'] > 0 for o in outputs)} with clipped samples"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
