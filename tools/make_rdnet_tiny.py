#!/usr/bin/env python3
"""A tiny timm RDNet for featx's RDNet file-format and parity tests (Tests/Fixtures/backbones/tiny/).

    .cache/venv/bin/python tools/make_rdnet_tiny.py

Writes
  tiny/rdnet.bin            torch.save(model.state_dict()) (zip): what a hub pytorch_model.bin is
  tiny/rdnet.nv.bin         NAVER's original layout: {"model": state_dict} with stem.0./stem.1. renamed
                            stem.stem.0./stem.stem.1. (timm's rdnet.checkpoint_filter_fn undoes it; verified)
  tiny/rdnet.safetensors    every tap for tiny/manifest.json's shared `input` [2,3,64,64], plus
                            pre_logits_odd / pre_logits_min for `input_odd` / `input_min`
  tiny/rdnet_manifest.json  constructor args, derived channel counts, parameter count, key-order sha256,
                            taps; the exact timm constructor args, feature_info and num_features of
                            rdnet_tiny/small/base/large; rule test vectors for the tensor kinds RDNet adds

The model is `timm.models.rdnet.RDNet` with small widths and every other argument at timm's default (block
types, downsample pattern, bottleneck ratio 4, compression 0.5, patch stem 4, LayerNorm2d, GELU), filled
with the featx-random-v1 rule, seed 0.  Deterministic; single-threaded, float32, eval mode, no grad.
"""
from __future__ import annotations

import collections
import inspect
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_weights as mw  # noqa: E402  (also applies the torchvision import workaround)
import make_reference as mr  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import timm  # noqa: E402
import timm.models.rdnet as timm_rdnet  # noqa: E402

SEED = 0
NUM_CLASSES = 10
TDIR = os.path.join(mr.DEFAULT_OUT, "tiny")

TINY_ARGS = collections.OrderedDict(
    growth_rates=(8, 16, 16, 16, 16, 16, 24),
    num_blocks_list=(2, 2, 2, 2, 2, 2, 2),
    num_init_features=16,
    num_classes=NUM_CLASSES,
)
FULL_NAMES = ("rdnet_tiny", "rdnet_small", "rdnet_base", "rdnet_large")


def jsonable(o):
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    return o


def effective_args(kwargs: dict) -> "collections.OrderedDict":
    """Every RDNet.__init__ argument: the given ones, the rest at their defaults (signature order)."""
    sig = inspect.signature(timm_rdnet.RDNet.__init__)
    out = collections.OrderedDict()
    for name, p in sig.parameters.items():
        if name in ("self", "device", "dtype"):
            continue
        out[name] = kwargs[name] if name in kwargs else p.default
    unknown = set(kwargs) - set(out)
    assert not unknown, unknown
    return out


def factory_args(name: str) -> dict:
    """The exact kwargs timm's registered `name()` passes to RDNet (captured at _create_rdnet)."""
    captured = {}
    orig = timm_rdnet._create_rdnet

    def spy(variant, pretrained=False, **kwargs):
        captured["variant"] = variant
        captured["kwargs"] = dict(kwargs)
        return orig(variant, pretrained=pretrained, **kwargs)

    timm_rdnet._create_rdnet = spy
    try:
        model = timm.create_model(name, pretrained=False)
    finally:
        timm_rdnet._create_rdnet = orig
    assert captured["variant"] == name
    # create_model also passes its own builder kwargs (pretrained_cfg, pretrained_cfg_overlay, cache_dir)
    # through; they are not RDNet arguments
    params = inspect.signature(timm_rdnet.RDNet.__init__).parameters
    builder = {"pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"}
    kw = captured["kwargs"]
    assert set(kw) - set(params) <= builder, set(kw) - set(params)
    return {k: v for k, v in kw.items() if k in params}, model


def derived(model: timm_rdnet.RDNet, args: dict) -> dict:
    """Channel counts per stage, transition and block, recomputed from the args and checked against the model."""
    stages = []
    c = args["num_init_features"]
    stride = args["patch_size"] if args["stem_type"] == "patch" else 4
    stem_conv = model.stem[0]
    assert stem_conv.out_channels == c and tuple(stem_conv.kernel_size) == (args["patch_size"],) * 2
    for i, (g, n) in enumerate(zip(args["growth_rates"], args["num_blocks_list"])):
        seq = model.dense_stages[i]
        e = {"index": i, "module": f"dense_stages.{i}"}
        if i != 0:
            comp = int(c * args["transition_compression_ratio"] / 8) * 8
            down = bool(args["is_downsample_block"][i])
            k = 2 if down else 1
            if down:
                stride *= 2
            norm, conv = seq[0], seq[1]
            assert isinstance(norm, nn.LayerNorm) and norm.normalized_shape == (c,)
            assert conv.in_channels == c and conv.out_channels == comp and tuple(conv.kernel_size) == (k, k)
            assert tuple(conv.stride) == (k, k) and conv.bias is not None
            e["transition"] = {"norm": f"dense_stages.{i}.0", "conv": f"dense_stages.{i}.1", "in": c, "out": comp,
                               "kernel": k, "stride": k, "downsample": down}
            c = comp
            stage = seq[2]
        else:
            e["transition"] = None
            stage = seq[0]
        assert isinstance(stage, timm_rdnet.DenseStage) and len(stage) == n
        e["stage_module"] = f"dense_stages.{i}.{2 if i else 0}"
        e["in"] = c
        e["growth_rate"] = g
        e["blocks"] = n
        e["block_type"] = args["block_type"][i]
        blocks = []
        for j, blk in enumerate(stage):
            inter = int(c * args["bottleneck_width_ratio"] / 8) * 8
            layers = blk.layers.layers
            assert layers[0].in_channels == c and layers[0].groups == c and layers[2].out_channels == inter
            assert layers[4].out_channels == g and tuple(blk.gamma.shape) == (g,)
            assert type(blk.layers).__name__ == args["block_type"][i]
            assert (len(layers) == 6) == (args["block_type"][i] == "BlockESE")
            assert inter >= 8 and c >= 8
            blocks.append({"in": c, "inter": inter, "out": g})
            c += g
        e["block_channels"] = blocks
        e["out"] = c
        e["reduction"] = stride
        assert stage.num_out_features == c
        stages.append(e)
    assert c == model.num_features
    return {"stem": {"conv": "stem.0", "norm": "stem.1", "in": args["in_chans"], "out": args["num_init_features"],
                     "kernel": args["patch_size"], "stride": args["patch_size"]},
            "stages": stages, "num_features": model.num_features, "head_hidden_size": model.head_hidden_size,
            "feature_info": jsonable(model.feature_info)}


def rdnet_taps(model, x) -> "collections.OrderedDict[str, torch.Tensor]":
    taps = collections.OrderedDict()
    h = model.stem(x)
    taps["stem"] = h
    for i, st in enumerate(model.dense_stages):
        h = st(h)
        taps[f"dense_stages.{i}"] = h
    f = model.forward_features(x)
    assert torch.equal(f, h)
    taps["pre_logits"] = model.forward_head(f, pre_logits=True)
    return taps


def to_nv(sd):
    """NAVER's original checkpoint layout: {"model": state_dict}, stem keys one level deeper."""
    def rename(k):
        return "stem.stem." + k[len("stem."):] if k.startswith("stem.") else k

    out = collections.OrderedDict((rename(k), v) for k, v in sd.items())
    meta = getattr(sd, "_metadata", None)
    if meta is not None:
        # what NAVER's model (stem = PatchifyStem holding a Sequential `stem`) would record: "stem", then
        # "stem.stem", "stem.stem.0", ...
        m2 = collections.OrderedDict()
        for k, v in meta.items():
            m2[rename(k)] = v
            if k == "stem":
                m2["stem.stem"] = dict(v)
        out._metadata = m2
    return {"model": out}


def rule_vectors(model: nn.Module, keys) -> list:
    modules = dict(model.named_modules())
    sd = model.state_dict()
    res = []
    for key, kind in keys:
        mod_name, _, attr = key.rpartition(".")
        mod = modules[mod_name]
        shape = tuple(sd[key].shape)
        vals = mw.rule_values(mod, attr, shape, SEED, key)
        seed = mw.key_seed(SEED, key)
        if isinstance(mod, nn.Conv2d) and attr == "weight":
            fan = shape[1] * shape[2] * shape[3]
            std = math.sqrt(2.0 / fan)
            call, d64 = {"call": "rng.normal(0.0, std, shape)", "fan_in": fan, "std": std, "std_hex": std.hex()}, \
                np.random.RandomState(seed).normal(0.0, std, 5)
        elif isinstance(mod, nn.Linear):
            b = 1.0 / math.sqrt(mod.in_features)
            call, d64 = {"call": "rng.uniform(-bound, bound, shape)", "in_features": mod.in_features, "bound": b,
                         "bound_hex": b.hex()}, np.random.RandomState(seed).uniform(-b, b, 5)
        else:
            lo, hi = (0.5, 1.5) if attr in ("weight", "gamma") else (-0.1, 0.1)
            call, d64 = {"call": f"rng.uniform({lo}, {hi}, shape)"}, np.random.RandomState(seed).uniform(lo, hi, 5)
        first = vals.reshape(-1)[:5]
        assert np.array_equal(d64.astype(np.float32), first), key
        res.append({"key": key, "kind": kind, "module": f"{type(mod).__module__}.{type(mod).__name__}",
                    "shape": list(shape), "hash_input": f"{SEED}:{key}", "fnv1a32": seed,
                    "fnv1a32_hex": f"0x{seed:08x}", "draws": call, "first5": [float(v) for v in first],
                    "first5_bits_hex": [f"0x{b:08x}" for b in mr.f32_bits(first)],
                    "first5_float64_hex": [float(v).hex() for v in d64], "numel": int(vals.size),
                    "sum_float64": float(vals.astype(np.float64).sum()),
                    "sha256_f32le": mr.sha256(vals.astype("<f4").tobytes())})
    return res


RULE_KEYS = [
    ("stem.0.weight", "Conv2d weight (patch stem, 4x4 stride 4)"),
    ("stem.0.bias", "Conv2d bias"),
    ("stem.1.weight", "LayerNorm2d weight"),
    ("stem.1.bias", "LayerNorm2d bias"),
    ("dense_stages.0.0.dense_block0.gamma", "DenseBlock gamma (layer scale)"),
    ("dense_stages.0.0.dense_block0.layers.layers.0.weight", "Conv2d weight (depthwise 7x7, groups = C: I/groups = 1)"),
    ("dense_stages.0.0.dense_block0.layers.layers.0.bias", "Conv2d bias (depthwise)"),
    ("dense_stages.1.2.dense_block0.gamma", "DenseBlock gamma (stage 1: the DenseStage is dense_stages.1.2)"),
    ("dense_stages.2.2.dense_block0.layers.layers.5.fc.bias", "Conv2d bias (EffectiveSEModule fc)"),
    ("head.norm.weight", "LayerNorm2d weight (head norm)"),
    ("head.fc.weight", "Linear weight"),
]


def main() -> int:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    os.makedirs(TDIR, exist_ok=True)
    args = effective_args(dict(TINY_ARGS))
    model = timm_rdnet.RDNet(**TINY_ARGS).eval()
    sd = mw.random_state_dict(model, SEED)
    d = derived(model, args)

    # weight files
    files = collections.OrderedDict(zip=("rdnet.bin", sd), nv=("rdnet.nv.bin", to_nv(sd)))
    for _, (fname, obj) in files.items():
        mw.save_state_dict(obj, os.path.join(TDIR, fname), "zip")
    # verify: plain file loads strictly; NAVER layout through timm's own filter
    loaded = torch.load(os.path.join(TDIR, "rdnet.bin"), weights_only=True)
    assert list(loaded) == list(sd) and all(torch.equal(loaded[k], sd[k]) for k in sd)
    nv = torch.load(os.path.join(TDIR, "rdnet.nv.bin"), weights_only=True)
    assert list(nv) == ["model"] and any(k.startswith("stem.stem.") for k in nv["model"])
    assert not any(k.startswith(("stem.0.", "stem.1.")) for k in nv["model"])
    fresh = timm_rdnet.RDNet(**TINY_ARGS).eval()
    filtered = timm_rdnet.checkpoint_filter_fn(nv, fresh)
    assert list(filtered) == list(sd) and all(torch.equal(filtered[k], sd[k]) for k in sd)
    fresh.load_state_dict(filtered, strict=True)

    # outputs
    inputs = mr.tiny_inputs()
    with torch.no_grad():
        taps = rdnet_taps(model, torch.from_numpy(inputs["input"]))
        again = rdnet_taps(fresh, torch.from_numpy(inputs["input"]))
        assert all(torch.equal(taps[k], again[k]) for k in taps)
        out_t = collections.OrderedDict((k, v.contiguous().numpy()) for k, v in taps.items())
        out_t["pre_logits_odd"] = rdnet_taps(model, torch.from_numpy(inputs["input_odd"]))["pre_logits"].numpy()
        out_t["pre_logits_min"] = rdnet_taps(model, torch.from_numpy(inputs["input_min"]))["pre_logits"].numpy()
        odd_shapes = {k: list(v.shape) for k, v in rdnet_taps(model, torch.from_numpy(inputs["input_odd"])).items()}
        min_shapes = {k: list(v.shape) for k, v in rdnet_taps(model, torch.from_numpy(inputs["input_min"])).items()}
    mr.write_safetensors(os.path.join(TDIR, "rdnet.safetensors"), dict(out_t),
                         metadata={"format": "featx-tiny-outputs-v1", "model": "rdnet", "rule": mw.RULE_NAME,
                                   "seed": str(SEED), "inputs": "manifest.json inputs (regenerate with numpy)"})

    file_names = {"zip": "rdnet.bin", "nv": "rdnet.nv.bin", "outputs": "rdnet.safetensors"}
    entry = collections.OrderedDict(
        name="rdnet",
        family="rdnet",
        full_size_arch="rdnet_tiny (same structure: 7 stages, default block types / downsample pattern; "
                       "2 blocks per stage instead of 3, narrower)",
        constructor="timm.models.rdnet.RDNet(**config), eval()",
        config=jsonable(dict(TINY_ARGS)),
        effective_args=jsonable(args),
        derived=d,
        rule=mw.RULE_NAME,
        seed=SEED,
        parameters=int(sum(p.numel() for p in model.parameters())),
        state_dict_entries=len(sd),
        tensors_sha256=mw.tensors_digest(sd),
        files=file_names,
        file_sizes={k: os.path.getsize(os.path.join(TDIR, v)) for k, v in file_names.items()},
        file_sha256={k: mr.sha256(open(os.path.join(TDIR, v), "rb").read()) for k, v in file_names.items()},
        file_notes={
            "zip": "torch.save(model.state_dict()) zip (archive folder 'rdnet'): OrderedDict with _metadata, "
                   "timm key names; what the hub's pytorch_model.bin is",
            "nv": "torch.save({'model': nv_state_dict}) zip (archive folder 'rdnet.nv'): NAVER's original layout; the "
                  "keys stem.0.* / stem.1.* are stem.stem.0.* / stem.stem.1.*, every other key and the order are "
                  "timm's; _metadata renamed the same way (plus 'stem.stem'). timm.models.rdnet."
                  "checkpoint_filter_fn(obj, model) returns exactly rdnet.bin's dict (verified) and "
                  "load_state_dict(strict=True) accepts it",
        },
        taps={k: {"input": "input", "shape": list(v.shape), "maxabs": mr.maxabs(v)} for k, v in out_t.items()
              if not k.endswith(("_odd", "_min"))},
        final_tap="pre_logits",
        extra_outputs={"pre_logits_odd": {"input": "input_odd", "shape": list(out_t["pre_logits_odd"].shape),
                                          "maxabs": mr.maxabs(out_t["pre_logits_odd"]), "tap_shapes": odd_shapes},
                       "pre_logits_min": {"input": "input_min", "shape": list(out_t["pre_logits_min"].shape),
                                          "maxabs": mr.maxabs(out_t["pre_logits_min"]), "tap_shapes": min_shapes}},
        state_dict_keys_sha256=mr.sha256("\n".join(sd.keys()).encode()),
        state_dict_keys=list(sd.keys()),
    )

    full = collections.OrderedDict()
    for name in FULL_NAMES:
        kwargs, m = factory_args(name)
        eff = effective_args(kwargs)
        fd = derived(m, eff)
        full[name] = collections.OrderedDict(
            factory=f"timm.create_model('{name}') -> _create_rdnet('{name}', **model_args) -> "
                    "build_model_with_cfg(RDNet, ..., pretrained_filter_fn=checkpoint_filter_fn, "
                    "feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True))",
            model_args=jsonable(kwargs),
            effective_args=jsonable(eff),
            non_default=sorted(k for k, v in eff.items()
                               if jsonable(v) != jsonable(inspect.signature(timm_rdnet.RDNet.__init__)
                                                          .parameters[k].default)),
            num_features=m.num_features,
            head_hidden_size=m.head_hidden_size,
            feature_info=jsonable(m.feature_info),
            stage_ends=list(m.stage_ends),
            stage_out_channels=[s["out"] for s in fd["stages"]],
            transition_out_channels=[s["transition"]["out"] if s["transition"] else None for s in fd["stages"]],
            stage_reduction=[s["reduction"] for s in fd["stages"]],
            parameters=int(sum(p.numel() for p in m.parameters())),
            state_dict_entries=len(m.state_dict()),
            state_dict_keys_sha256=mr.sha256("\n".join(m.state_dict().keys()).encode()),
            pretrained_cfg=jsonable({k: v for k, v in m.pretrained_cfg.items()}),
        )
        if name == "rdnet_tiny":
            vectors = rule_vectors(m, RULE_KEYS)
        del m

    manifest = collections.OrderedDict(
        format="featx-tiny-rdnet-manifest-v1",
        generator="tools/make_rdnet_tiny.py",
        versions=dict(mr.versions(), timm=timm.__version__),
        rule=mw.RULE_NAME,
        seed=SEED,
        inputs="the shared tiny inputs of tiny/manifest.json (input [2,3,64,64] = np.random.RandomState(1)"
               ".uniform(0.0, 1.0, (2, 3, 64, 64)).astype(np.float32); input_odd [1,3,67,75] seed 2; input_min "
               "[1,3,32,32] seed 3), fed as is (no normalisation)",
        taps_note="stem = model.stem(x) (patch conv + LayerNorm2d); dense_stages.i = output of model.dense_stages[i] "
                  "(transition LayerNorm2d + conv, then the DenseStage: concat of its input and every block's "
                  "output); pre_logits = model.forward_head(model.forward_features(x), pre_logits=True) = "
                  "head.norm (LayerNorm2d) of the global average, flattened, [N, num_features]. "
                  "rdnet.safetensors holds every tap for `input`, plus pre_logits_odd / pre_logits_min.",
        ops={
            "stem": "Conv2d(3, F0, kernel 4, stride 4, bias) then LayerNorm2d(F0)",
            "LayerNorm2d": "timm.layers.LayerNorm2d: F.layer_norm over C at each pixel (permute NCHW->NHWC and back), "
                           "eps 1e-6, elementwise affine",
            "transition": "for stage i > 0: LayerNorm2d(C) then Conv2d(C, int(C * 0.5 / 8) * 8, kernel = stride = 2 "
                          "if is_downsample_block[i] else 1, padding 0, bias)",
            "DenseBlock": "x = cat(previous features, dim 1) (C channels); Conv2d(C, C, 7, padding 3, groups C, bias) "
                          "-> LayerNorm2d(C) -> Conv2d(C, inter, 1, bias) -> GELU -> Conv2d(inter, growth, 1, bias) "
                          "[-> EffectiveSEModule(growth) for BlockESE] -> * gamma[growth] (per channel); "
                          "inter = int(C * bottleneck_width_ratio / 8) * 8; drop_path / dropout are identity in eval",
            "DenseStage": "features = [input]; each block appends its output; the stage returns cat(features, dim 1)",
            "GELU": "timm GELU = F.gelu(x), exact (erf) form",
            "EffectiveSEModule": "x * hardsigmoid(fc(mean over H, W of x, keepdim)) with fc = Conv2d(C, C, 1, bias) "
                                 "and hardsigmoid = F.hardsigmoid = relu6(x + 3) / 6",
            "head": "NormMlpClassifierHead: SelectAdaptivePool2d('avg') -> LayerNorm2d(num_features) on [N, C, 1, 1] "
                    "-> flatten -> (pre_logits Identity, no hidden layer) -> dropout -> fc Linear; "
                    "norm_pre is Identity (head_norm_first=False)",
        },
        models=[entry],
        timm_models=full,
        rule_vectors={
            "note": "featx-random-v1 values for the tensor kinds RDNet adds, keys of the full-size timm rdnet_tiny "
                    "(docs/RANDOM_WEIGHTS.md); same fields as random_rule.json",
            "arch": "rdnet_tiny",
            "seed": SEED,
            "keys": vectors,
        },
    )
    mw.atomic_write_bytes(os.path.join(TDIR, "rdnet_manifest.json"), mr.compact_json(manifest).encode())
    print(f"rdnet tiny: params {entry['parameters']:,d}, {len(sd)} entries; "
          + ", ".join(f"{v} {entry['file_sizes'][k]:,d} B" for k, v in file_names.items())
          + f"; manifest ({time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
