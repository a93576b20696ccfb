#!/usr/bin/env python3
"""Vision transformer and ConvNeXt parity fixtures (Tests/Fixtures/vit/): featx-random-v1 seed-0 weights for
reduced-width timm and torchvision models, and their outputs at every tap on the 4 images of make_reference.IMAGES.

    .cache/venv/bin/python tools/make_vit_fixtures.py          # write
    .cache/venv/bin/python tools/make_vit_fixtures.py --weights-out ''    # without the .cache/vit-weights copies

Needs torch / torchvision / timm 1.0.31 / safetensors (the venv of scripts/make-test-weights) and the committed
crops Tests/Fixtures/efficientnet/pixels/<id>.lite.png (tools/make_efficientnet_fixtures.py).

Models (timm pretrained=False; every ViT 48 wide, 2 blocks, 3 heads, MLP 192, at 224x224):

  dinov2_s14 / dinov2_s14_reg4      vit_small_patch14_dinov2 / vit_small_patch14_reg4_dinov2 (layer scale; 4 register
                                    tokens, no_embed_class)
  clip_b16 / clip_b16_quickgelu     vit_base_patch16_clip_224 / _quickgelu_224 (pre-norm, no patch bias, eps 1e-5)
  vit_b16, deit_s16                 vit_base_patch16_224 (AugReg), deit_small_patch16_224
  siglip_b16                        vit_base_patch16_siglip_224 (no class token, MAP attention-pool head)
  tv_vit_b16                        torchvision VisionTransformer(224, 16, 2 layers, 3 heads, 48, mlp 192)
  convnext / tv_convnext            timm convnext_tiny depths (1,1,2,1) dims (16,24,32,40) / the same torchvision ConvNeXt
  dinov2_s14_98                     dinov2_s14's model built for img_size=98 (grid 7, pos_embed [1,50,48]), its random
                                    state_dict loaded into the 224 model through timm's checkpoint_filter_fn (pos_embed
                                    resampled bicubic + antialias to [1,257,48]); taps blocks.1, pre_logits and the
                                    resampled table; no weight file (featx regenerates it from the rule)

Writes (see Tests/Fixtures/vit/README.md):

  random_<key>.safetensors   the model's whole state_dict (featx-random-v1 seed 0, tools/make_weights.py rule), float32,
                             tensors laid out (and listed in the header) in state_dict order
  reference_<key>.safetensors  every tap of the model on the 4 images ([4,3,224,224], the lite crops normalised with
                             the model's own mean/std): token maps [4,T,D] / feature maps [4,C,H,W] sampled
                             (.values, .stats, .avg), vectors [4,D] whole
  vit.json                   constructors, hyper-parameters, state_dict keys, taps, PyTorch's float32-vs-float64 error
  README.md                  (hand-written)

and, for tests that want torchvision-format files, .cache/vit-weights/ (not committed): tv_vit_b16 and tv_convnext
state_dicts as torch.save zip .pth plus manifest.json.

Deterministic (a second run writes byte-identical files); single-threaded, float32, eval mode, no grad.
"""
from __future__ import annotations

import argparse
import collections
import copy
import io
import json
import os
import struct
import sys
import time
from typing import Callable, Dict, List, Tuple

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
from torchvision.models import convnext as tv_convnext  # noqa: E402
from torchvision.models import vision_transformer as tv_vit  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402

import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402
import timm  # noqa: E402
from timm.layers import AttentionPoolLatent, LayerScale  # noqa: E402
from timm.layers.activations import GELU as TimmGELU, QuickGELU  # noqa: E402

OUT = os.path.join(mr.REPO, "Tests", "Fixtures", "vit")
PIXELS = os.path.join(mr.REPO, "Tests", "Fixtures", "efficientnet", "pixels")
EFFICIENTNET_JSON = os.path.join(mr.REPO, "Tests", "Fixtures", "efficientnet", "efficientnet.json")
WEIGHTS_OUT = os.path.join(mr.REPO, ".cache", "vit-weights")
SEED = 0
POSITIONS_SEED = mfr.POSITIONS_SEED  # 7
DEFAULT_POSITIONS = mfr.DEFAULT_POSITIONS  # 2048
FORMAT = "featx-vit-reference-v1"
PRESET = "lite"
# One reference file per model, so that each stays well under the project's 1 MB limit for a fixture file.
REFERENCE_FILE = "reference_{key}.safetensors"

IMAGENET_MEAN = mr.IMAGENET_MEAN
IMAGENET_STD = mr.IMAGENET_STD

VIT_OVERRIDES = collections.OrderedDict([("img_size", 224), ("embed_dim", 48), ("depth", 2), ("num_heads", 3)])
CONVNEXT_OVERRIDES = collections.OrderedDict([("depths", (1, 1, 2, 1)), ("dims", (16, 24, 32, 40))])
TV_VIT_ARGS = collections.OrderedDict([("image_size", 224), ("patch_size", 16), ("num_layers", 2), ("num_heads", 3),
                                       ("hidden_dim", 48), ("mlp_dim", 192)])
TV_CONVNEXT_SETTING = [(16, 24, 1), (24, 32, 1), (32, 40, 2), (40, None, 1)]

# key -> (family, layout, timm model name or None)
MODELS = collections.OrderedDict([
    ("dinov2_s14", ("vit", "timm", "vit_small_patch14_dinov2")),
    ("dinov2_s14_reg4", ("vit", "timm", "vit_small_patch14_reg4_dinov2")),
    ("clip_b16", ("vit", "timm", "vit_base_patch16_clip_224")),
    ("clip_b16_quickgelu", ("vit", "timm", "vit_base_patch16_clip_quickgelu_224")),
    ("vit_b16", ("vit", "timm", "vit_base_patch16_224")),
    ("deit_s16", ("vit", "timm", "deit_small_patch16_224")),
    ("siglip_b16", ("vit", "timm", "vit_base_patch16_siglip_224")),
    ("tv_vit_b16", ("vit", "torchvision", None)),
    ("convnext", ("convnext", "timm", "convnext_tiny")),
    ("tv_convnext", ("convnext", "torchvision", None)),
])
DINOV2 = ("dinov2_s14", "dinov2_s14_reg4")
TV_WEIGHT_FILES = {"tv_vit_b16": "tv_vit_b16-random0.pth", "tv_convnext": "tv_convnext-random0.pth"}

# position-table resampling: the reduced DINOv2 built for 98x98 (grid 7, pos_embed [1, 50, 48]), run at 224 (grid 16)
# through timm's own checkpoint loading (checkpoint_filter_fn -> resample_abs_pos_embed, bicubic, antialias)
RESAMPLED_KEY = "dinov2_s14_98"
RESAMPLED_TIMM_NAME = "vit_small_patch14_dinov2"
RESAMPLED_SOURCE_OVERRIDES = collections.OrderedDict([("img_size", 98), ("embed_dim", 48), ("depth", 2),
                                                      ("num_heads", 3)])


def versions() -> dict:
    return dict(mr.versions(), timm=timm.__version__)


def kwargs_str(kw) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def constructor(key: str) -> str:
    family, layout, name = MODELS[key]
    if layout == "timm":
        kw = VIT_OVERRIDES if family == "vit" else CONVNEXT_OVERRIDES
        return f"timm.create_model({name!r}, pretrained=False, {kwargs_str(kw)}), eval()"
    if family == "vit":
        return f"torchvision.models.vision_transformer.VisionTransformer({kwargs_str(TV_VIT_ARGS)}), eval()"
    setting = ", ".join(f"CNBlockConfig({a}, {b}, {n})" for a, b, n in TV_CONVNEXT_SETTING)
    return f"torchvision.models.convnext.ConvNeXt(block_setting=[{setting}]), eval()"


# --------------------------------------------------------------------------------------------------
# models


def build(key: str) -> nn.Module:
    family, layout, name = MODELS[key]
    if layout == "timm":
        m = mw.timm_model(name, **(VIT_OVERRIDES if family == "vit" else CONVNEXT_OVERRIDES))
    elif family == "vit":
        m = tv_vit.VisionTransformer(**TV_VIT_ARGS)
    else:
        m = tv_convnext.ConvNeXt(block_setting=[tv_convnext.CNBlockConfig(a, b, n) for a, b, n in TV_CONVNEXT_SETTING])
    return m.eval()


def rule_kind(module: nn.Module, attr: str) -> str:
    """Which row of the featx-random-v1 table gives module.attr (for the coverage table in vit.json)."""
    if isinstance(module, nn.Conv2d):
        return f"nn.Conv2d.{attr}"
    if isinstance(module, nn.LayerNorm):
        return f"nn.LayerNorm ({type(module).__module__}.{type(module).__name__}).{attr}"
    if isinstance(module, nn.Linear):
        return f"nn.Linear ({type(module).__module__}.{type(module).__name__}).{attr}"
    if mw.is_token_tensor(module, attr):
        return f"token {type(module).__module__}.{type(module).__name__}.{attr}"
    if mw.is_layer_scale(module, attr):
        return f"layer scale {type(module).__module__}.{type(module).__name__}.{attr}"
    if isinstance(module, nn.MultiheadAttention):
        return f"nn.MultiheadAttention.{attr}"
    raise ValueError(f"{mw.RULE_NAME}: no rule for {type(module).__name__}.{attr}")


def random_model(key: str) -> Tuple[nn.Module, Dict[str, int]]:
    m = build(key)
    modules = dict(m.named_modules())
    coverage: Dict[str, int] = collections.Counter()
    for k in m.state_dict():
        mod_name, _, attr = k.rpartition(".")
        coverage[rule_kind(modules[mod_name], attr)] += 1
    mw.random_state_dict(m, SEED)
    for k, v in m.state_dict().items():
        assert v.dtype == torch.float32, (key, k, v.dtype)
    return m, dict(sorted(coverage.items()))


# --------------------------------------------------------------------------------------------------
# hyper-parameters


def eps_of(m: nn.Module):
    return float(m.eps) if isinstance(m, nn.LayerNorm) else None


def act_name(act: nn.Module) -> str:
    if isinstance(act, QuickGELU):
        return "quick_gelu"  # x * sigmoid(1.702 x)
    if isinstance(act, nn.GELU):
        return "gelu" if act.approximate == "none" else f"gelu_{act.approximate}"
    if isinstance(act, TimmGELU):
        return "gelu"  # timm.layers.activations.GELU: F.gelu(x), the exact (erf) GELU
    return type(act).__name__


def timm_vit_hparams(m: nn.Module) -> dict:
    b = m.blocks[0]
    pe = m.patch_embed
    h = collections.OrderedDict()
    h["embed_dim"] = int(m.embed_dim)
    h["depth"] = len(m.blocks)
    h["heads"] = int(b.attn.num_heads)
    h["head_dim"] = int(b.attn.head_dim)
    h["patch"] = list(pe.patch_size)
    h["grid"] = list(pe.grid_size)
    h["patches"] = int(pe.num_patches)
    h["num_prefix_tokens"] = int(m.num_prefix_tokens)
    h["class_token"] = m.cls_token is not None
    h["reg_tokens"] = int(m.num_reg_tokens)
    h["tokens"] = int(m.num_prefix_tokens + pe.num_patches)
    h["no_embed_class"] = bool(m.no_embed_class)
    h["pos_embed_shape"] = list(m.pos_embed.shape) if m.pos_embed is not None else None
    h["dynamic_img_size"] = bool(m.dynamic_img_size)
    h["patch_embed_bias"] = pe.proj.bias is not None
    h["patch_embed_norm"] = not isinstance(pe.norm, nn.Identity)
    h["pre_norm"] = not isinstance(m.norm_pre, nn.Identity)
    h["final_norm"] = not isinstance(m.norm, nn.Identity)
    h["fc_norm"] = not isinstance(m.fc_norm, nn.Identity)
    h["global_pool"] = m.global_pool
    h["pool_include_prefix"] = bool(m.pool_include_prefix)
    h["eps"] = collections.OrderedDict([("norm_pre", eps_of(m.norm_pre)), ("norm1", eps_of(b.norm1)),
                                        ("norm2", eps_of(b.norm2)), ("norm", eps_of(m.norm)),
                                        ("fc_norm", eps_of(m.fc_norm))])
    h["act"] = act_name(b.mlp.act)
    h["qkv_bias"] = b.attn.qkv.bias is not None
    h["qk_norm"] = not isinstance(b.attn.q_norm, nn.Identity)
    h["attn_out_norm"] = not isinstance(b.attn.norm, nn.Identity)
    h["proj_bias"] = b.attn.proj.bias is not None
    h["attn_scale"] = float(b.attn.scale)
    h["fused_attn"] = bool(b.attn.fused_attn)
    h["layer_scale"] = isinstance(b.ls1, LayerScale)
    h["mlp_hidden"] = int(b.mlp.fc1.out_features)
    h["mlp_norm"] = not isinstance(b.mlp.norm, nn.Identity)
    h["num_classes"] = int(m.num_classes)
    if m.attn_pool is not None:
        ap = m.attn_pool
        assert isinstance(ap, AttentionPoolLatent)
        h["attn_pool"] = collections.OrderedDict([
            ("class", "timm.layers.AttentionPoolLatent"),
            ("latent_shape", list(ap.latent.shape)),
            ("heads", int(ap.num_heads)), ("head_dim", int(ap.head_dim)), ("scale", float(ap.scale)),
            ("pool", ap.pool), ("pos_embed", ap.pos_embed is not None),
            ("q", [int(ap.q.out_features), int(ap.q.in_features)]),
            ("kv", [int(ap.kv.out_features), int(ap.kv.in_features)]),
            ("qk_norm", not isinstance(ap.q_norm, nn.Identity)),
            ("proj", [int(ap.proj.out_features), int(ap.proj.in_features)]),
            ("norm_eps", eps_of(ap.norm)), ("mlp_hidden", int(ap.mlp.fc1.out_features)),
            ("act", act_name(ap.mlp.act)),
            ("forward", "q = q(latent) [1,1,D] -> heads; k, v = kv(x) split (kv.weight rows 0..D-1 = k, D..2D-1 = v), "
                        "x = attention(q, k, v) (scale head_dim^-0.5, softmax over the T tokens) -> [1, D]; "
                        "x = proj(x); x = x + mlp(norm(x)); token 0 (pool 'token') -> [D]. The input is the "
                        "final norm's output (all T tokens: no prefix tokens here)."),
        ])
    return h


def tv_vit_hparams(m: tv_vit.VisionTransformer) -> dict:
    layer = m.encoder.layers[0]
    att = layer.self_attention
    grid = m.image_size // m.patch_size
    h = collections.OrderedDict()
    h["embed_dim"] = int(m.hidden_dim)
    h["depth"] = len(m.encoder.layers)
    h["heads"] = int(att.num_heads)
    h["head_dim"] = int(att.head_dim)
    h["patch"] = [int(m.patch_size)] * 2
    h["grid"] = [grid, grid]
    h["patches"] = grid * grid
    h["num_prefix_tokens"] = 1
    h["class_token"] = True
    h["reg_tokens"] = 0
    h["tokens"] = int(m.seq_length)
    h["no_embed_class"] = False
    h["pos_embed_shape"] = list(m.encoder.pos_embedding.shape)
    h["patch_embed_bias"] = m.conv_proj.bias is not None
    h["pre_norm"] = False
    h["final_norm"] = True
    h["fc_norm"] = False
    h["global_pool"] = "token"
    h["eps"] = collections.OrderedDict([("norm_pre", None), ("norm1", eps_of(layer.ln_1)), ("norm2", eps_of(layer.ln_2)),
                                        ("norm", eps_of(m.encoder.ln)), ("fc_norm", None)])
    h["act"] = act_name(layer.mlp[1])
    h["qkv_bias"] = att.in_proj_bias is not None
    h["qk_norm"] = False
    h["proj_bias"] = att.out_proj.bias is not None
    h["attn_scale"] = float(att.head_dim ** -0.5)
    h["batch_first"] = bool(att.batch_first)
    h["layer_scale"] = False
    h["mlp_hidden"] = int(m.mlp_dim)
    h["representation_size"] = m.representation_size
    h["num_classes"] = int(m.num_classes)
    return h


def timm_convnext_hparams(m: nn.Module) -> dict:
    blk = m.stages[0].blocks[0]
    h = collections.OrderedDict()
    h["dims"] = [int(s.blocks[0].conv_dw.out_channels) for s in m.stages]
    h["depths"] = [len(s.blocks) for s in m.stages]
    h["stem"] = "Conv2d(3, dims[0], 4, stride 4, bias) + LayerNorm2d"
    h["stem_eps"] = eps_of(m.stem[1])
    h["downsample"] = "LayerNorm2d + Conv2d(k2, s2, bias) at the start of stages 1..3"
    h["downsample_eps"] = eps_of(m.stages[1].downsample[0])
    h["block"] = ("x + gamma * fc2(act(fc1(norm(conv_dw(x)))))  (conv_dw 7x7 depthwise with bias; norm/fc1/fc2 on "
                  "channels-last; gamma [C])")
    h["kernel"] = list(blk.conv_dw.kernel_size)
    h["block_eps"] = eps_of(blk.norm)
    h["conv_mlp"] = bool(blk.use_conv_mlp)
    h["mlp_ratio"] = blk.mlp.fc1.out_features // blk.mlp.fc1.in_features
    h["act"] = act_name(blk.mlp.act)
    h["layer_scale"] = blk.gamma is not None
    h["norm_pre"] = not isinstance(m.norm_pre, nn.Identity)
    h["head"] = "global average -> head.norm (LayerNorm2d) -> flatten -> head.fc"
    h["head_norm_eps"] = eps_of(m.head.norm)
    h["num_classes"] = int(m.num_classes)
    return h


def tv_convnext_hparams(m: nn.Module) -> dict:
    stages = [m.features[i] for i in range(1, len(m.features), 2)]
    blk = stages[0][0]
    h = collections.OrderedDict()
    h["dims"] = [int(s[0].block[0].out_channels) for s in stages]
    h["depths"] = [len(s) for s in stages]
    h["block_setting"] = [list(s) for s in TV_CONVNEXT_SETTING]
    h["stem"] = "features.0 = Conv2dNormActivation: Conv2d(3, dims[0], 4, stride 4, bias) + LayerNorm2d, no activation"
    h["stem_eps"] = eps_of(m.features[0][1])
    h["downsample"] = "features.2/4/6 = LayerNorm2d + Conv2d(k2, s2, bias)"
    h["downsample_eps"] = eps_of(m.features[2][0])
    h["block"] = ("x + layer_scale * permute(block.5(gelu(block.3(block.2(permute(block.0(x)))))))  (block.0 7x7 "
                  "depthwise conv with bias, block.2 LayerNorm on channels-last; layer_scale [C,1,1])")
    h["kernel"] = list(blk.block[0].kernel_size)
    h["block_eps"] = eps_of(blk.block[2])
    h["mlp_ratio"] = blk.block[3].out_features // blk.block[3].in_features
    h["act"] = act_name(blk.block[4])
    h["layer_scale"] = True
    h["stochastic_depth_prob"] = 0.0
    h["head"] = "avgpool -> classifier.0 (LayerNorm2d) -> classifier.1 (Flatten) -> classifier.2 (Linear)"
    h["head_norm_eps"] = eps_of(m.classifier[0])
    h["num_classes"] = int(m.classifier[2].out_features)
    return h


def hparams(key: str, m: nn.Module) -> dict:
    family, layout, _ = MODELS[key]
    if family == "vit":
        return timm_vit_hparams(m) if layout == "timm" else tv_vit_hparams(m)
    return timm_convnext_hparams(m) if layout == "timm" else tv_convnext_hparams(m)


def norm_constants(key: str, m: nn.Module) -> Tuple[Tuple[float, ...], Tuple[float, ...], str]:
    _, layout, _ = MODELS[key]
    if layout == "timm":
        return tuple(m.pretrained_cfg["mean"]), tuple(m.pretrained_cfg["std"]), "timm model.pretrained_cfg"
    return IMAGENET_MEAN, IMAGENET_STD, "torchvision ImageNet mean/std"


# --------------------------------------------------------------------------------------------------
# taps


def timm_vit_taps(key: str, model: nn.Module, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
    depth = len(model.blocks)
    names = ["patch_embed"] + [f"blocks.{i}" for i in range(depth)] + ["norm"]
    got, feats = mfr.hooked_run(model, names, lambda: model.forward_features(x))
    assert torch.equal(feats, got["norm"])
    taps = collections.OrderedDict(got)
    taps["pre_logits"] = model.forward_head(feats, pre_logits=True)
    npt = model.num_prefix_tokens
    if model.attn_pool is None:
        assert model.global_pool == "token" and isinstance(model.fc_norm, nn.Identity), key
        assert torch.equal(taps["pre_logits"], feats[:, 0]), key
    taps["patch_avg"] = feats[:, npt:].mean(1)
    if key in DINOV2:
        inter = model.get_intermediate_layers(x, n=depth, return_prefix_tokens=True, norm=True)
        assert len(inter) == depth
        parts = []
        for i, (patches, prefix) in enumerate(inter):
            assert prefix.shape[1] == npt and patches.shape[1] == model.patch_embed.num_patches
            assert torch.equal(torch.cat([prefix, patches], 1), model.norm(taps[f"blocks.{i}"])), (key, i)
            parts += [prefix[:, 0], patches.mean(1)]
        assert torch.equal(parts[-2], taps["pre_logits"]) and torch.equal(parts[-1], taps["patch_avg"]), key
        taps["last4_avg"] = torch.cat(parts, 1)
    return taps


def tv_vit_taps(key: str, model: nn.Module, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
    depth = len(model.encoder.layers)
    layers = [f"encoder.layers.encoder_layer_{i}" for i in range(depth)]
    got, logits = mfr.hooked_run(model, ["conv_proj"] + layers + ["encoder.ln"], lambda: model(x))
    n, d = x.shape[0], model.hidden_dim
    taps = collections.OrderedDict()
    # the conv output [N, D, gh, gw] token-major, as _process_input does: [N, gh*gw, D]
    taps["patch_embed"] = got["conv_proj"].reshape(n, d, -1).permute(0, 2, 1).contiguous()
    assert torch.equal(taps["patch_embed"], model._process_input(x))
    for i, name in enumerate(layers):
        taps[f"blocks.{i}"] = got[name]
    feats = got["encoder.ln"]
    taps["norm"] = feats
    taps["pre_logits"] = feats[:, 0]
    assert torch.equal(model.heads(feats[:, 0]), logits), key
    taps["patch_avg"] = feats[:, 1:].mean(1)
    return taps


def timm_convnext_taps(key: str, model: nn.Module, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
    names = ["stem"] + [f"stages.{i}" for i in range(len(model.stages))]
    taps, feats = mfr.hooked_run(model, names, lambda: model.forward_features(x))
    assert torch.equal(feats, taps[names[-1]])  # norm_pre is Identity (head_norm_first=False)
    taps["pre_logits"] = model.forward_head(feats, pre_logits=True)
    manual = model.head.norm(F.adaptive_avg_pool2d(feats, 1)).flatten(1)
    assert torch.equal(manual, taps["pre_logits"]), "pre_logits != head.norm(avgpool)"
    return taps


def tv_convnext_taps(key: str, model: nn.Module, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
    names = [f"features.{i}" for i in range(len(model.features))]
    got, logits = mfr.hooked_run(model, names + ["classifier.1"], lambda: model(x))
    taps = collections.OrderedDict((n, got[n]) for n in names)
    taps["pre_logits"] = got["classifier.1"]  # avgpool -> classifier.0 (LayerNorm2d) -> classifier.1 (Flatten)
    manual = model.classifier[1](model.classifier[0](model.avgpool(taps[names[-1]])))
    assert torch.equal(manual, taps["pre_logits"])
    assert torch.equal(model.classifier[2](taps["pre_logits"]), logits)
    return taps


def taps_for(key: str, model: nn.Module, x: torch.Tensor):
    family, layout, _ = MODELS[key]
    fn = {("vit", "timm"): timm_vit_taps, ("vit", "torchvision"): tv_vit_taps,
          ("convnext", "timm"): timm_convnext_taps, ("convnext", "torchvision"): tv_convnext_taps}[(family, layout)]
    return fn(key, model, x)


def expected_taps(key: str, model: nn.Module) -> List[str]:
    family, layout, _ = MODELS[key]
    if family == "vit":
        depth = len(model.blocks) if layout == "timm" else len(model.encoder.layers)
        names = ["patch_embed"] + [f"blocks.{i}" for i in range(depth)] + ["norm", "pre_logits", "patch_avg"]
        return names + (["last4_avg"] if key in DINOV2 else [])
    if layout == "timm":
        return ["stem"] + [f"stages.{i}" for i in range(len(model.stages))] + ["pre_logits"]
    return [f"features.{i}" for i in range(len(model.features))] + ["pre_logits"]


def store_taps(key: str, taps, positions: int, cache: Dict[int, np.ndarray],
               tensors: Dict[str, np.ndarray]) -> "collections.OrderedDict":
    """make_family_reference.store_taps, extended to token maps: a vector [4, D] is stored whole as `<key>.<tap>`;
    a token map [4, T, D] or feature map [4, C, H, W] as `.values` (sampled positions of the per-image C-order
    flatten), `.stats` (float64 sum, sum of squares, max |v| per image) and `.avg` (the mean of each of the first
    dimension's parts: [4, T] per-token means over D, or [4, C] channel means)."""
    info = collections.OrderedDict()
    n_img = len(mr.IMAGES)
    for tap, t in taps.items():
        t = t.contiguous()
        assert t.dtype == torch.float32 and t.shape[0] == n_img, (key, tap, t.shape)
        name = f"{key}.{tap}"
        if t.dim() == 2:
            v = t.numpy()
            tensors[name] = v
            info[tap] = {"shape": [int(t.shape[1])], "maxabs": mr.maxabs(v), "stored": [name]}
            continue
        assert t.dim() in (3, 4), (key, tap, t.shape)
        shape = [int(s) for s in t.shape[1:]]
        n = int(np.prod(shape))
        flat = t.reshape(n_img, n).numpy()
        k = min(positions, n)
        if n not in cache:
            cache[n] = np.sort(np.random.RandomState(POSITIONS_SEED).choice(n, k, replace=False)).astype(np.int64)
        pos = cache[n]
        f64 = flat.astype(np.float64)
        if t.dim() == 3:
            avg = t.mean(2).numpy()  # [4, T]: mean over D of each token
        else:
            avg = F.adaptive_avg_pool2d(t, 1).flatten(1).numpy()  # [4, C]
        tensors[f"{name}.avg"] = np.ascontiguousarray(avg)
        tensors[f"{name}.values"] = np.ascontiguousarray(flat[:, pos])
        tensors[f"{name}.stats"] = np.stack([f64.sum(1), (f64 * f64).sum(1), np.abs(f64).max(1)], axis=1)
        info[tap] = {"shape": shape, "maxabs": mr.maxabs(flat), "avg_maxabs": mr.maxabs(avg), "positions": k,
                     "stored": [f"{name}.{s}" for s in ("avg", "values", "stats")]}
    return info


def float64_error(key: str, model: nn.Module, x: torch.Tensor, taps32) -> "collections.OrderedDict[str, float]":
    """max |float32 - float64| / max |float64| per tap, the model and its input in float64 (deep copy)."""
    taps64 = taps_for(key, copy.deepcopy(model).double(), x.double())
    return collections.OrderedDict(
        (k, float((taps32[k].double() - taps64[k]).abs().max() / taps64[k].abs().max())) for k in taps32)


def float64_error_of(taps_fn: Callable[[nn.Module, torch.Tensor], "collections.OrderedDict[str, torch.Tensor]"],
                     model: nn.Module, x: torch.Tensor, taps32) -> "collections.OrderedDict[str, float]":
    """float64_error for any taps function taps_fn(model, x)."""
    taps64 = taps_fn(copy.deepcopy(model).double(), x.double())
    return collections.OrderedDict(
        (k, float((taps32[k].double() - taps64[k]).abs().max() / taps64[k].abs().max())) for k in taps32)


# --------------------------------------------------------------------------------------------------
# position-table resampling


def pillow_resample_table(table: np.ndarray, old_grid: Tuple[int, int], new_grid: Tuple[int, int]) -> np.ndarray:
    """[gh*gw, D] -> [nh*nw, D]: every channel plane (gh x gw, row-major tokens) through Pillow's float ("F" mode)
    bicubic resize, Image.fromarray(plane, mode='F').resize((nw, nh), Image.BICUBIC) (what featx implements)."""
    (gh, gw), (nh, nw) = old_grid, new_grid
    d = table.shape[1]
    planes = np.asarray(table, dtype=np.float32).reshape(gh, gw, d)
    out = np.empty((nh, nw, d), dtype=np.float32)
    for c in range(d):
        img = Image.fromarray(np.ascontiguousarray(planes[:, :, c]), mode="F")
        assert img.mode == "F"
        out[:, :, c] = np.asarray(img.resize((nw, nh), Image.BICUBIC), dtype=np.float32)
    return out.reshape(nh * nw, d)


def resample_comparison(old: torch.Tensor, new: torch.Tensor, num_prefix_tokens: int, old_grid, new_grid) -> dict:
    """timm's resampled table `new` [1, P' + nh*nw, D] against Pillow's float bicubic resize of `old`'s planes."""
    npt = num_prefix_tokens
    assert torch.equal(new[:, :npt], old[:, :npt]), "prefix rows changed"
    mine = pillow_resample_table(old[0, npt:].numpy(), tuple(old_grid), tuple(new_grid))
    theirs = new[0, npt:].numpy()
    diff = np.abs(mine.astype(np.float64) - theirs.astype(np.float64))
    return collections.OrderedDict([
        ("what", "max |torch F.interpolate(bicubic, antialias=True, align_corners=False) - Pillow float ('F' mode) "
                 "bicubic resize of each channel plane| over the resampled patch rows (prefix rows are copied as "
                 "they are by both)"),
        ("pillow", "Image.fromarray(plane, mode='F').resize((%d, %d), Image.BICUBIC), plane = table[P:].reshape(%d, %d, "
                   "D)[:, :, c]" % (new_grid[1], new_grid[0], old_grid[0], old_grid[1])),
        ("max_abs_difference", float(diff.max())),
        ("relative_max_difference", float(diff.max() / np.abs(theirs).max())),
        ("mean_abs_difference", float(diff.mean())),
        ("bit_equal_fraction", float(np.mean(mine == theirs))),
        ("table_maxabs", mr.maxabs(theirs)),
    ])


def resampled_pos_embed_check(src_pos: torch.Tensor, new_pos: torch.Tensor, npt: int, old_grid, new_grid) -> None:
    """The resampled table is timm's resample_abs_pos_embed, i.e. exactly F.interpolate of the patch rows."""
    from timm.layers import resample_abs_pos_embed
    direct = resample_abs_pos_embed(src_pos, new_size=list(new_grid), old_size=list(old_grid), num_prefix_tokens=npt,
                                    interpolation="bicubic", antialias=True)
    assert torch.equal(direct, new_pos)
    d = src_pos.shape[-1]
    grid = src_pos[:, npt:].reshape(1, old_grid[0], old_grid[1], d).permute(0, 3, 1, 2)
    manual = F.interpolate(grid, size=tuple(new_grid), mode="bicubic", align_corners=False, antialias=True)
    manual = torch.cat([src_pos[:, :npt], manual.permute(0, 2, 3, 1).reshape(1, -1, d)], 1)
    assert torch.equal(manual, new_pos), "not F.interpolate(bicubic, antialias=True)"


def load_resampled(source: nn.Module, target: nn.Module) -> Tuple["collections.OrderedDict", dict]:
    """source's state_dict through timm.models.vision_transformer.checkpoint_filter_fn(state_dict, target), loaded
    into target (strict). Every tensor but pos_embed passes unchanged; pos_embed is resampled (asserted)."""
    from timm.models.vision_transformer import checkpoint_filter_fn
    sd = source.state_dict()
    filtered = checkpoint_filter_fn(sd, target)
    assert list(filtered.keys()) == list(sd.keys()), "checkpoint_filter_fn changed the keys"
    for k, v in sd.items():
        if k != "pos_embed":
            assert torch.equal(filtered[k], v), k
    old, new = sd["pos_embed"], filtered["pos_embed"]
    assert new.shape == target.pos_embed.shape and new.shape != old.shape, (old.shape, new.shape)
    missing = target.load_state_dict(filtered, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    assert torch.equal(target.pos_embed.detach(), new)
    npt = 0 if target.no_embed_class else target.num_prefix_tokens
    old_grid = tuple(source.patch_embed.grid_size)
    new_grid = tuple(target.patch_embed.grid_size)
    resampled_pos_embed_check(old, new, npt, old_grid, new_grid)
    info = collections.OrderedDict([
        ("function", "timm.models.vision_transformer.checkpoint_filter_fn(state_dict, model) -> "
                     "timm.layers.resample_abs_pos_embed(pos_embed, new_size, old_size, num_prefix_tokens, "
                     "interpolation='bicubic', antialias=True) (timm's defaults), then load_state_dict(strict=True)"),
        ("equivalent", "prefix rows (class token) copied; the patch rows [gh*gw, D] reshaped to [1, D, gh, gw], "
                       "F.interpolate(size=(nh, nw), mode='bicubic', align_corners=False, antialias=True), back to "
                       "[nh*nw, D] (asserted bit-equal); every other tensor unchanged (asserted)"),
        ("num_prefix_tokens", npt),
        ("old_grid", list(old_grid)),
        ("new_grid", list(new_grid)),
        ("old_pos_embed_shape", list(old.shape)),
        ("new_pos_embed_shape", list(new.shape)),
        ("resampled_tensors_sha256", mw.tensors_digest(target.state_dict())),
        ("torch_vs_pillow", resample_comparison(old, new, npt, old_grid, new_grid)),
    ])
    return filtered, info


def resampled_taps(model: nn.Module, x: torch.Tensor) -> "collections.OrderedDict[str, torch.Tensor]":
    """dinov2_s14_98: the last block's tokens and pre_logits (the class token of the final norm)."""
    last = f"blocks.{len(model.blocks) - 1}"
    got, feats = mfr.hooked_run(model, [last], lambda: model.forward_features(x))
    taps = collections.OrderedDict(got)
    taps["pre_logits"] = model.forward_head(feats, pre_logits=True)
    assert torch.equal(taps["pre_logits"], feats[:, 0])
    return taps


def normalisation_fields(mean, std, norm_name: Callable, norm_source: str) -> "collections.OrderedDict":
    """The seed, the rule and the input normalisation of a models[] entry (main loop and resampled_model)."""
    fields = collections.OrderedDict()
    fields["seed"] = SEED
    fields["rule"] = mw.RULE_NAME
    fields["mean"] = [float(v) for v in mean]
    fields["std"] = [float(v) for v in std]
    fields["normalisation"] = norm_name(mean, std)
    fields["normalisation_source"] = norm_source
    return fields


def state_dict_fields(model: nn.Module, sd, weights_file) -> "collections.OrderedDict":
    """Parameter count, the state_dict's digest, file, keys and shapes of a models[] entry."""
    fields = collections.OrderedDict()
    fields["parameters"] = int(sum(p.numel() for p in model.parameters()))
    fields["state_dict_entries"] = len(sd)
    fields["tensors_sha256"] = mw.tensors_digest(sd)
    fields["weights_file"] = weights_file
    fields["state_dict_keys"] = list(sd.keys())
    fields["state_dict_shapes"] = [list(v.shape) for v in sd.values()]
    return fields


def resampled_model(x_fn: Callable, positions: int, cache: Dict[int, np.ndarray], tensors: Dict[str, np.ndarray],
                    norm_name: Callable) -> "collections.OrderedDict":
    """dinov2_s14_98: featx-random-v1 seed 0 in vit_small_patch14_dinov2 (reduced, img_size 98), loaded through
    checkpoint_filter_fn into the same model at 224; taps and the resampled table go to `tensors`."""
    key = RESAMPLED_KEY
    source = mw.timm_model(RESAMPLED_TIMM_NAME, **RESAMPLED_SOURCE_OVERRIDES).eval()
    modules = dict(source.named_modules())
    coverage: Dict[str, int] = collections.Counter()
    for k in source.state_dict():
        mod_name, _, attr = k.rpartition(".")
        coverage[rule_kind(modules[mod_name], attr)] += 1
    sd = mw.random_state_dict(source, SEED)
    assert list(source.pos_embed.shape) == [1, 50, 48] and list(source.patch_embed.grid_size) == [7, 7]
    model = mw.timm_model(RESAMPLED_TIMM_NAME, **VIT_OVERRIDES).eval()
    _, resample = load_resampled(source, model)
    assert list(model.pos_embed.shape) == [1, 257, 48], model.pos_embed.shape
    mean, std = tuple(model.pretrained_cfg["mean"]), tuple(model.pretrained_cfg["std"])
    x = x_fn(mean, std)
    taps = resampled_taps(model, x)
    f64 = float64_error_of(resampled_taps, model, x, taps)
    info = store_taps(key, taps, positions, cache, tensors)
    table = np.ascontiguousarray(model.pos_embed.detach()[0].numpy())
    tensors[f"{key}.pos_embed"] = table
    info["pos_embed"] = {"shape": list(table.shape), "maxabs": mr.maxabs(table), "stored": [f"{key}.pos_embed"],
                         "note": "the resampled table [1 + 16*16, 48] (model.pos_embed[0] after loading), whole, not "
                                 "per image; row 0 (class token) is the source's row 0"}
    entry = collections.OrderedDict()
    entry["family"] = "vit"
    entry["layout"] = "timm"
    entry["timm_model"] = RESAMPLED_TIMM_NAME
    entry["constructor"] = (f"timm.create_model({RESAMPLED_TIMM_NAME!r}, pretrained=False, "
                            f"{kwargs_str(RESAMPLED_SOURCE_OVERRIDES)}), eval(): the weights' model (grid 7)")
    entry["reference_constructor"] = (f"timm.create_model({RESAMPLED_TIMM_NAME!r}, pretrained=False, "
                                      f"{kwargs_str(VIT_OVERRIDES)}), eval(), loaded with "
                                      "checkpoint_filter_fn(source.state_dict(), model): what ran (grid 16)")
    entry["img_size"] = RESAMPLED_SOURCE_OVERRIDES["img_size"]
    entry["run_at"] = 224
    entry.update(normalisation_fields(mean, std, norm_name, "timm model.pretrained_cfg"))
    entry["what"] = ("the position-table resampling timm does when a ViT's weights were made for another grid: "
                     "featx-random-v1 seed 0 generated for the 98x98 model (pos_embed [1, 50, 48]; every other tensor "
                     "has dinov2_s14's key and shape, hence its values), resampled by timm's checkpoint loading to "
                     "[1, 257, 48] and run at 224 on dinov2_s14's inputs. No weight file: featx regenerates the "
                     "98-model's weights from the rule (tensors_sha256) and resamples pos_embed itself")
    entry["architecture"] = timm_vit_hparams(model)
    entry["source_architecture"] = collections.OrderedDict([
        ("img_size", [98, 98]), ("grid", list(source.patch_embed.grid_size)),
        ("patches", int(source.patch_embed.num_patches)), ("pos_embed_shape", list(source.pos_embed.shape))])
    entry["num_classes"] = entry["architecture"]["num_classes"]
    entry.update(state_dict_fields(source, sd, None))
    entry["rule_coverage"] = dict(sorted(coverage.items()))
    entry["resample"] = resample
    entry["taps"] = info
    entry["float32_vs_float64"] = {
        "what": "max |PyTorch float32 - PyTorch float64| / max |float64| per tap over the 4 images, the loaded "
                "(resampled, float32) model copied to float64, input .double()",
        "relative_max_error": f64,
    }
    return entry


# --------------------------------------------------------------------------------------------------
# files


def write_ordered_safetensors(path: str, sd: "collections.OrderedDict[str, torch.Tensor]", metadata: dict) -> None:
    """A safetensors file of float32 tensors whose data lie in `sd`'s order (offsets ascending in state_dict order)
    and whose header lists them in that order; the metadata is one entry "featx" (compact sorted JSON) as
    make_reference.write_safetensors writes it. (The safetensors library's own writer sorts the tensors by name.)"""
    header = collections.OrderedDict()
    header["__metadata__"] = {"featx": json.dumps(metadata, sort_keys=True, separators=(",", ":"))}
    blobs, offset = [], 0
    for k, v in sd.items():
        assert v.dtype == torch.float32, (k, v.dtype)
        b = v.detach().contiguous().cpu().numpy().astype("<f4").tobytes()
        header[k] = collections.OrderedDict([("dtype", "F32"), ("shape", [int(s) for s in v.shape]),
                                             ("data_offsets", [offset, offset + len(b)])])
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # pad the header with spaces to a multiple of 8 bytes, as the library does
    mw.atomic_write_bytes(path, struct.pack("<Q", len(h)) + h + b"".join(blobs))
    back = safetensors.torch.load_file(path)  # the library accepts it and gives back exactly sd
    assert set(back) == set(sd), path
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and torch.equal(back[k], v), (path, k)
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n), object_pairs_hook=collections.OrderedDict)
    by_offset = sorted((e["data_offsets"][0], k) for k, e in hdr.items() if k != "__metadata__")
    assert [k for _, k in by_offset] == list(sd.keys()), f"{path}: data not in state_dict order"


input_from_png = mfr.input_from_png


tensor_table = mfr.tensor_table


def tensor_notes(positions: int) -> dict:
    return {
        "<key>.<tap>.values": "float32 [4, n]: the tap's map flattened per image in C order (token map [T, D]: index = "
                              "t*D + d; feature map [C, H, W]: c*H*W + y*W + x) at the positions np.sort(np.random."
                              f"RandomState({POSITIONS_SEED}).choice(N, n, replace=False)), N = T*D or C*H*W, n = "
                              f"min({positions}, N) (not stored: choice without replacement is permutation(N)[:n])",
        "<key>.<tap>.stats": "float64 [4, 3]: per image over the whole flattened map (float32 widened to float64): "
                             "sum, sum of squares, max |v|",
        "<key>.<tap>.avg": "float32 [4, T] for a token map: the mean over D of each token (the flatten cut into T equal "
                           "contiguous parts, each averaged); float32 [4, C] for a feature map: adaptive_avg_pool2d(map, "
                           "1) (channel means). Rows in image_order",
        "<key>.<vector tap>": "float32 [4, D] whole: pre_logits, patch_avg, last4_avg (see tap_notes)",
        f"{RESAMPLED_KEY}.pos_embed": "float32 [257, 48] whole: the position table timm resampled from the 98-model's "
                                      "[1, 50, 48] (models.dinov2_s14_98.resample)",
    }


TAP_NOTES = {
    "vit (timm)": {
        "patch_embed": "model.patch_embed(x) [P, D] (conv k=s=patch, flattened token-major, before the class/register "
                       "tokens and position embeddings)",
        "blocks.N": "model.blocks[N] output [T, D], T = num_prefix_tokens + P (prefix tokens first: class token, then "
                    "register tokens)",
        "norm": "model.forward_features(x) [T, D]: after the final norm",
        "pre_logits": "model.forward_head(model.forward_features(x), pre_logits=True) [D]: the class token of `norm` "
                      "(global_pool 'token', fc_norm Identity, asserted equal); siglip_b16: the MAP head "
                      "(attn_pool, models.siglip_b16.architecture.attn_pool) over the `norm` tokens",
        "patch_avg": "norm[:, num_prefix_tokens:].mean(1) [D]: the mean of the patch tokens (class and register tokens "
                     "excluded; siglip_b16 has none)",
        "last4_avg": "dinov2 keys only, [4 * D] = [192]: model.get_intermediate_layers(x, n=2, return_prefix_tokens="
                     "True, norm=True) (both blocks: the model has 2), i.e. for blocks 0 and 1 in that order, y = "
                     "model.norm(blocks.N output); concat(y0[class token], mean(y0[patch tokens]), y1[class token], "
                     "mean(y1[patch tokens])). The class token is prefix token 0 (dinov2_s14_reg4: the 4 register "
                     "tokens are in neither part). y1's two parts equal pre_logits and patch_avg (asserted). Not the "
                     "layout of DINOv2's own linear eval (create_linear_input: the class tokens of the last n blocks, "
                     "then the patch mean of the last block only), which here is [last4_avg[0:48], last4_avg[96:144], "
                     "last4_avg[144:192]]",
    },
    "vit (torchvision, tv_vit_b16)": {
        "patch_embed": "conv_proj(x) [N, D, 14, 14] reshaped to [N, D, 196] and permuted to [196, D] "
                       "(= model._process_input(x), asserted)",
        "blocks.N": "encoder.layers.encoder_layer_N output [197, D] (class token first; position embedding added "
                    "before encoder_layer_0)",
        "norm": "encoder(...) output [197, D]: after encoder.ln",
        "pre_logits": "norm[:, 0] [D], what heads reads (heads(pre_logits) == model(x), asserted)",
        "patch_avg": "norm[:, 1:].mean(1) [D]",
    },
    "convnext (timm)": {
        "stem": "model.stem output (conv 4x4 s4 + LayerNorm2d) [C, 56, 56]",
        "stages.N": "model.stages[N] output (downsample LayerNorm2d + conv 2x2 s2 for N > 0, then the blocks)",
        "pre_logits": "model.forward_head(model.forward_features(x), pre_logits=True) [C]: head.norm (LayerNorm2d) of "
                      "the global average, flattened (asserted equal)",
    },
    "convnext (torchvision, tv_convnext)": {
        "features.0": "stem (conv 4x4 s4 + LayerNorm2d) [16, 56, 56]",
        "features.1/3/5/7": "the 4 stages' blocks (CNBlock sequences)",
        "features.2/4/6": "downsampling: LayerNorm2d + conv 2x2 s2",
        "pre_logits": "classifier.1 output [C]: avgpool -> classifier.0 (LayerNorm2d) -> classifier.1 (Flatten), "
                      "before classifier.2 (Linear) (asserted equal)",
    },
}


def save_tv_weights(key: str, model: nn.Module, out_dir: str) -> dict:
    name = TV_WEIGHT_FILES[key]
    path = os.path.join(out_dir, name)
    sd = model.state_dict()
    mw.save_state_dict(sd, path, "zip")
    back = torch.load(path, map_location="cpu", weights_only=True)
    assert list(back.keys()) == list(sd.keys()), f"{path}: key order differs"
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and torch.equal(back[k], v), f"{path}: {k} differs"
    return {"file": name, "key": key, "seed": SEED, "rule": mw.RULE_NAME, "format": "zip", "keys": len(sd),
            "parameters": int(sum(v.numel() for v in sd.values())), "tensors_sha256": mw.tensors_digest(sd),
            **mw.file_info(path), "constructor": constructor(key),
            "note": "torch.save(model.state_dict()) zip, torchvision key names (as torchvision's own .pth files)"}


# --------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT, help=f"output folder (default {mr.rel(OUT, mr.REPO)})")
    ap.add_argument("--weights-out", default=WEIGHTS_OUT,
                    help=f"folder for the torchvision .pth copies (default {mr.rel(WEIGHTS_OUT, mr.REPO)}); '' skips them")
    ap.add_argument("--positions", type=int, default=DEFAULT_POSITIONS,
                    help=f"sampled positions per map (default {DEFAULT_POSITIONS})")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()

    # ---- the committed crops, checked against efficientnet.json
    with open(EFFICIENTNET_JSON) as f:
        eff = json.load(f)
    order = [i for i, _ in mr.IMAGES]
    assert eff["image_order"] == order, (eff["image_order"], order)
    eff_images = {e["id"]: e for e in eff["images"]}
    pngs, images = {}, []
    for img_id in order:
        rel = f"efficientnet/pixels/{img_id}.{PRESET}.png"
        with open(os.path.join(PIXELS, f"{img_id}.{PRESET}.png"), "rb") as f:
            png = f.read()
        e = eff_images[img_id]
        assert mr.sha256(png) == e["png_sha256"], f"{rel} differs from efficientnet.json"
        px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.uint8)
        assert mr.sha256(np.ascontiguousarray(px).tobytes()) == e["rgb8_sha256"]
        pngs[img_id] = png
        images.append({"id": img_id, "path": e["path"], "pixels": f"../{rel}", "png_sha256": e["png_sha256"],
                       "rgb8_sha256": e["rgb8_sha256"], "shape_hwc": list(px.shape), "input_f32le_sha256": {}})

    def inputs(mean, std) -> torch.Tensor:
        xs = [input_from_png(pngs[i], mean, std) for i in order]
        for img, x in zip(images, xs):
            img["input_f32le_sha256"][norm_name(mean, std)] = mr.sha256(x.numpy().astype("<f4").tobytes())
        return torch.stack(xs)

    norms: Dict[str, dict] = collections.OrderedDict()

    def norm_name(mean, std) -> str:
        for n, v in norms.items():
            if tuple(v["mean"]) == tuple(mean) and tuple(v["std"]) == tuple(std):
                return n
        n = {IMAGENET_MEAN: "imagenet", (0.5, 0.5, 0.5): "half"}.get(tuple(mean), "clip")
        norms[n] = {"mean": list(mean), "std": list(std)}
        return n

    # ---- models
    tensors: Dict[str, np.ndarray] = {}
    models, files, manifest_files = collections.OrderedDict(), collections.OrderedDict(), []
    positions_cache: Dict[int, np.ndarray] = {}
    weights_out = os.path.abspath(args.weights_out) if args.weights_out else None
    with torch.no_grad():
        for key, (family, layout, timm_name) in MODELS.items():
            t1 = time.perf_counter()
            model, coverage = random_model(key)
            assert not model.training
            mean, std, norm_source = norm_constants(key, model)
            x = inputs(mean, std)
            taps = taps_for(key, model, x)
            assert list(taps.keys()) == expected_taps(key, model), (key, list(taps.keys()))
            f64 = float64_error(key, model, x, taps)
            info = store_taps(key, taps, args.positions, positions_cache, tensors)
            if family == "vit":  # the per-token means of `norm`, averaged over the patch tokens, are patch_avg's mean
                npt = hparams(key, model)["num_prefix_tokens"]
                assert np.allclose(tensors[f"{key}.norm.avg"][:, npt:].mean(1), tensors[f"{key}.patch_avg"].mean(1),
                                   rtol=0, atol=1e-5), key
            else:
                last = "stages.3" if layout == "timm" else "features.7"
                assert tensors[f"{key}.{last}.avg"].shape == tensors[f"{key}.pre_logits"].shape
            sd = model.state_dict()
            files[key] = f"random_{key}.safetensors"
            write_ordered_safetensors(os.path.join(out, files[key]), sd,
                                      {"format": FORMAT, "rule": mw.RULE_NAME, "seed": str(SEED)})
            entry = collections.OrderedDict()
            entry["family"] = family
            entry["layout"] = layout
            if timm_name:
                entry["timm_model"] = timm_name
            entry["constructor"] = constructor(key)
            entry.update(normalisation_fields(mean, std, norm_name, norm_source))
            if layout == "timm":
                cfg = model.pretrained_cfg
                entry["pretrained_cfg"] = mfr.mr_json({k: cfg.get(k) for k in (
                    "architecture", "tag", "input_size", "crop_pct", "crop_mode", "interpolation", "mean", "std",
                    "num_classes") if k in cfg})
            entry["architecture"] = hparams(key, model)
            entry["num_classes"] = entry["architecture"]["num_classes"]
            entry.update(state_dict_fields(
                model, sd, {"file": files[key], **mw.file_info(os.path.join(out, files[key]))}))
            entry["rule_coverage"] = coverage
            entry["taps"] = info
            entry["float32_vs_float64"] = {
                "what": "max |PyTorch float32 - PyTorch float64| / max |float64| per tap over the 4 images, same "
                        "weights and input (copy.deepcopy(model).double(), input .double())",
                "relative_max_error": f64,
            }
            if weights_out and key in TV_WEIGHT_FILES:
                w = save_tv_weights(key, model, weights_out)
                manifest_files.append(w)
                entry["torchvision_file"] = {"path": mr.rel(os.path.join(weights_out, w["file"]), mr.REPO),
                                             "sha256": w["sha256"], "size": w["size"], "format": "zip"}
            models[key] = entry
            print(f"{key}: {len(taps)} taps, {len(sd)} tensors, {entry['parameters']:,d} parameters, worst f32/f64 "
                  f"{max(f64.values()):.2g} ({time.perf_counter() - t1:.1f}s)", flush=True)
            del model

        t1 = time.perf_counter()
        entry = resampled_model(inputs, args.positions, positions_cache, tensors, norm_name)
        models[RESAMPLED_KEY] = entry
        cmp = entry["resample"]["torch_vs_pillow"]
        print(f"{RESAMPLED_KEY}: pos_embed {entry['resample']['old_pos_embed_shape']} -> "
              f"{entry['resample']['new_pos_embed_shape']}, torch vs Pillow max |diff| {cmp['max_abs_difference']:.3g}, "
              f"worst f32/f64 {max(entry['float32_vs_float64']['relative_max_error'].values()):.2g} "
              f"({time.perf_counter() - t1:.1f}s)", flush=True)

    from safetensors.numpy import load_file
    references = collections.OrderedDict()
    for key in models:
        part = {k: v for k, v in tensors.items() if k.split(".", 1)[0] == key}
        references[key] = REFERENCE_FILE.format(key=key)
        mr.write_safetensors(os.path.join(out, references[key]), part,
                             metadata={"format": FORMAT, "rule": mw.RULE_NAME, "seed": str(SEED)})
        back = load_file(os.path.join(out, references[key]))
        assert set(back) == set(part) and all(np.array_equal(back[k], v) for k, v in part.items())
    assert sum(len(load_file(os.path.join(out, f))) for f in references.values()) == len(tensors), "a tap of no model"

    desc = collections.OrderedDict()
    desc["format"] = FORMAT
    desc["generator"] = "tools/make_vit_fixtures.py"
    desc["versions"] = versions()
    desc["reference"] = references
    desc["weights"] = files
    desc["image_order"] = order
    desc["images"] = images
    desc["preprocessing"] = {
        "pixels": "the committed uint8 224x224 crops ../efficientnet/pixels/<id>.lite.png (PIL RGB, Resize(256) "
                  "bicubic antialiased + CenterCrop(224), see ../efficientnet/README.md; png sha256 checked against "
                  "efficientnet.json) for every model: not each model's own eval resize (CLIP/SigLIP/DINOv2 use other "
                  "crop_pct / interpolation), only its own mean/std",
        "float_input": "x = torch.from_numpy(px).permute(2,0,1).float().div(255), then TF.normalize with the model's "
                       "mean/std (models[].mean/std: timm model.pretrained_cfg['mean'/'std'], torchvision ImageNet); "
                       "identical to numpy (px.astype(float32) / float32(255) - mean32) / std32 (asserted). Batched "
                       "[4,3,224,224] in image_order; images[].input_f32le_sha256.<normalisation> is the sha256 of "
                       "each [3,224,224] input as little-endian float32 in C order",
        "normalisations": norms,
    }
    desc["models"] = models
    desc["tap_notes"] = TAP_NOTES
    desc["rule_notes"] = (
        "make_weights.rule_values (featx-random-v1, docs/RANDOM_WEIGHTS.md): Conv2d weight normal(0, sqrt(2/fan_in)), "
        "conv bias uniform(-0.1, 0.1); LayerNorm (LayerNorm2d too) weight uniform(0.5, 1.5), bias uniform(-0.1, 0.1); "
        "Linear (NonDynamicallyQuantizableLinear too) uniform(+-1/sqrt(in)); tokens (cls_token, reg_token, pos_embed, "
        "attn_pool.latent, class_token, encoder.pos_embedding) uniform(-0.5, 0.5); layer scale (LayerScale.gamma, "
        "ConvNeXtBlock.gamma, CNBlock.layer_scale) uniform(0.5, 1.5); MultiheadAttention in_proj_weight / "
        "in_proj_bias uniform(+-1/sqrt(embed_dim)). models[].rule_coverage counts the tensors per rule row.")
    desc["weight_file_notes"] = (
        "random_<key>.safetensors: model.state_dict() exactly (keys, shapes, float32 values), tensors laid out and "
        "listed in the header in state_dict order (data offsets ascending in that order; the safetensors library's "
        "own writer would sort by name); one metadata entry 'featx'. models[].state_dict_keys is that order.")
    desc["tensors"] = tensor_table(tensors)
    desc["tensor_notes"] = tensor_notes(args.positions)
    mw.atomic_write_bytes(os.path.join(out, "vit.json"),
                          mr.compact_json(desc, compact_keys=("state_dict_keys", "state_dict_shapes")).encode())

    if weights_out:
        manifest = {"rule": mw.RULE_NAME, "generator": "tools/make_vit_fixtures.py", "versions": versions(),
                    "files": manifest_files}
        mw.atomic_write_json(os.path.join(weights_out, "manifest.json"), manifest)

    names = list(references.values()) + list(files.values()) + ["vit.json"]
    total = sum(os.path.getsize(os.path.join(out, f)) for f in names)
    sizes = ", ".join(f"{f} {os.path.getsize(os.path.join(out, f)):,d} B" for f in names)
    print(f"wrote {sizes}; total {total:,d} B ({len(tensors)} reference tensors)"
          f"{', ' + mr.rel(weights_out, mr.REPO) + '/' if weights_out else ''} ({time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
