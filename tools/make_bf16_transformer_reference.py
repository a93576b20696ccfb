#!/usr/bin/env python3
"""bf16 fidelity reference for transformers (Tests/Fixtures/backbones/bf16_transformer_reference.safetensors + .json).

    .cache/venv/bin/python tools/make_bf16_transformer_reference.py

The 48 photos and the preprocessing of tools/make_bf16_reference.py (torchvision's imagenet preset: Resize(256),
CenterCrop(224), ImageNet mean and std, for every model: the weights are random, so the model's own statistics
would add nothing). featx-random-v1 seed-0 weights (tools/make_weights.py: the values featx's RandomWeights makes)
in timm's full-size architectures:

  dinov2_s14_224  vit_small_patch14_dinov2 (518, the tag's) loaded into img_size=224 through timm's
                  checkpoint_filter_fn (position table resampled), as featx runs it at 224: layer scale, class token
  siglip_b16      vit_base_patch16_siglip_224, num_classes=0: no class token, the attention-pool (MAP) head
  convnext_tiny   convnext_tiny: depthwise convolutions, LayerNorm, Linear layers, layer scale

For each, timm's `forward_head(forward_features(x), pre_logits=True)` in float32 (saved), and the mean centred
cosine of PyTorch's own bfloat16 run (torch.autocast("cpu", torch.bfloat16)) against it: the bar featx's
--precision bf16 must clear (issue #22). Centred as tools/make_bf16_reference.py centres.
"""
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bf16_reference as mb  # noqa: E402  (imports make_weights first: the torchvision workaround)
import make_vit_fixtures as mv  # noqa: E402

mw = mb.mw

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402
from torchvision import transforms as T  # noqa: E402

OUT = mb.OUT


def build(key):
    if key == "dinov2_s14_224":
        donor = mw.timm_model("vit_small_patch14_dinov2").eval()
        donor.load_state_dict(mw.random_state_dict(donor, 0), strict=True)
        model = mw.timm_model("vit_small_patch14_dinov2", img_size=224, num_classes=0).eval()
        mv.load_resampled(donor, model)
        return model
    if key == "siglip_b16":
        model = mw.timm_model("vit_base_patch16_siglip_224", num_classes=0).eval()
    else:
        model = mw.timm_model("convnext_tiny").eval()
    model.load_state_dict(mw.random_state_dict(model, 0), strict=True)
    return model


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    root, files = mb.images()
    preprocess = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([preprocess(Image.open(root / f).convert("RGB")) for f in files])
    tensors, info = {}, {"generator": "tools/make_bf16_transformer_reference.py", "images": files,
                         "torch": torch.__version__, "timm": mv.versions().get("timm"), "seed": 0,
                         "rule": mw.RULE_NAME, "models": {}}
    with torch.no_grad():
        for key in ("dinov2_s14_224", "siglip_b16", "convnext_tiny"):
            t0 = time.perf_counter()
            model = build(key)
            f32 = model.forward_head(model.forward_features(x), pre_logits=True).numpy().astype(np.float32)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                bf16 = model.forward_head(model.forward_features(x), pre_logits=True).float().numpy()
            tensors[f"{key}.f32"] = np.ascontiguousarray(f32)
            info["models"][key] = {"autocast_bf16_centred_cosine": mb.centred_cosine(bf16, f32), "dimension": f32.shape[1]}
            print(key, info["models"][key], f"{time.perf_counter() - t0:.0f} s", flush=True)
    save_file(tensors, str(OUT / "bf16_transformer_reference.safetensors"))
    (OUT / "bf16_transformer_reference.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
