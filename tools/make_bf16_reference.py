#!/usr/bin/env python3
"""bf16 fidelity reference (Tests/Fixtures/backbones/bf16_reference.safetensors + .json).

    .cache/bench-venv/bin/python tools/make_bf16_reference.py

48 real photos (every 4th file of ../shared/datasets/flower_photos_small, sorted), torchvision's
imagenet preprocessing (Resize(256), CenterCrop(224), Normalize), featx-random-v1 seed-0 weights
(tools/make_weights.py, the same values featx's RandomWeights makes). For resnet18/resnet50 `avgpool`
and densenet121 `features` average-pooled, it saves torchvision's float32 features and the mean centred
cosine of PyTorch's own bfloat16 run (torch.autocast("cpu", torch.bfloat16), channels_last) against
them: the bar featx's --precision bf16 must clear (issue #13). Centred = minus the float32 features'
mean over the 48 images, per dimension (docs/NOTES.md: plain cosine hides errors on random weights).
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_weights as mw  # noqa: E402  (also applies the torchvision import workaround)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402
from torchvision import transforms as T  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("FEATX_DATASETS", REPO.parent / "shared" / "datasets"))
OUT = REPO / "Tests" / "Fixtures" / "backbones"


def images():
    root = DATASETS / "flower_photos_small"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return root, files[::4][:48]


def outputs(arch, model, x):
    if arch == "densenet121":
        return F.adaptive_avg_pool2d(model.features(x), 1).flatten(1)
    m = model
    y = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    y = m.layer4(m.layer3(m.layer2(m.layer1(y))))
    return torch.flatten(m.avgpool(y), 1)


def centred_cosine(actual, reference):
    mean = reference.mean(0, keepdims=True)
    a, r = actual.astype(np.float64) - mean, reference.astype(np.float64) - mean
    cos = (a * r).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1))
    return float(cos.mean())


def main():
    torch.manual_seed(0)
    root, files = images()
    preprocess = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([preprocess(Image.open(root / f).convert("RGB")) for f in files])
    tensors, info = {}, {"generator": "tools/make_bf16_reference.py", "images": files, "torch": torch.__version__,
                         "seed": 0, "rule": mw.RULE_NAME, "models": {}}
    with torch.no_grad():
        for arch in ("resnet18", "resnet50", "densenet121"):
            model = mw.random_model(arch, 0).eval()
            f32 = outputs(arch, model, x).numpy().astype(np.float32)
            model = model.to(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                bf16 = outputs(arch, model, x.to(memory_format=torch.channels_last)).float().numpy()
            tensors[f"{arch}.f32"] = np.ascontiguousarray(f32)
            info["models"][arch] = {"autocast_bf16_centred_cosine": centred_cosine(bf16, f32), "dimension": f32.shape[1]}
            print(arch, info["models"][arch], flush=True)
    save_file(tensors, str(OUT / "bf16_reference.safetensors"))
    (OUT / "bf16_reference.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
