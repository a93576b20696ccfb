#!/usr/bin/env python3
"""--draft reference (Tests/Fixtures/images/draft/): large JPEGs and what PIL + torchvision make of them.

    .cache/bench-venv/bin/python tools/make_draft_reference.py

Three photos from ../shared/datasets/cub_birds50, upscaled (bicubic) with light grain to sizes where
Image.draft picks 1/2, 1/4 and 1/8 (1100x820, 2100x1560, 4032x3024 at quality 80). For each and for both
presets, the network input as uint8 pixels, made the way a PIL user drafts: Image.open(p); im.draft("RGB",
size) with the size Resize produces; convert("RGB"); then torchvision's Resize(256) + CenterCrop(224)
(imagenet) or Resize((224, 224)) (seed). Saved as PNG, with manifest.json (scale chosen, draft size).
"""
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("FEATX_DATASETS", REPO.parent / "shared" / "datasets"))
OUT = REPO / "Tests" / "Fixtures" / "images" / "draft"


def resized_size(w, h, shorter):
    """torchvision's Resize(int) on a PIL image: the shorter side becomes `shorter`."""
    if w <= h:
        return shorter, int(shorter * h / w)
    return int(shorter * w / h), shorter


def center_crop(im, size):
    w, h = im.size
    left, top = int(round((w - size) / 2.0)), int(round((h - size) / 2.0))
    return im.crop((left, top, left + size, top + size))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    birds = sorted((DATASETS / "cub_birds50").iterdir())
    sources = [sorted(birds[i].iterdir())[0] for i in (0, 7, 21)]
    rng = np.random.RandomState(0)
    manifest = {"generator": "tools/make_draft_reference.py", "pillow": Image.__version__, "files": []}
    for source, (w, h) in zip(sources, [(1100, 820), (2100, 1560), (4032, 3024)]):
        name = f"{source.parent.name[:3]}_{w}x{h}.jpg"
        base = Image.open(source).convert("RGB").resize((w, h), Image.BICUBIC)
        pixels = np.asarray(base, dtype=np.float32) + rng.normal(0, 2, (h, w, 3)).astype(np.float32)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(OUT / name, quality=80)
        entry = {"file": name, "width": w, "height": h, "presets": {}}
        for preset in ("imagenet", "seed"):
            im = Image.open(OUT / name)
            target = resized_size(w, h, 256) if preset == "imagenet" else (224, 224)
            im.draft("RGB", target)
            drafted = im.size
            im = im.convert("RGB")
            if preset == "imagenet":
                im = center_crop(im.resize(resized_size(*im.size, 256), Image.BILINEAR), 224)
            else:
                im = im.resize((224, 224), Image.BILINEAR)
            out = f"{Path(name).stem}.{preset}.png"
            im.save(OUT / out)
            entry["presets"][preset] = {"draft_target": list(target), "decoded_size": list(drafted), "pixels": out}
        manifest["files"].append(entry)
        print(entry)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
