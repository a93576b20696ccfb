#!/usr/bin/env python3
"""Seeded random torchvision / timm weights: the `featx-random-v1` rule (docs/RANDOM_WEIGHTS.md).

Importable module and CLI.

    python tools/make_weights.py --arch densenet121 --seed 0 --format zip -o densenet121-random0.pth
    python tools/make_weights.py --test-set --out-dir /tmp/featx-weights

For every state_dict entry `key` the values are drawn from
`numpy.random.RandomState(fnv1a32(f"{seed}:{key}".encode("utf-8")))`, by the kind of module that owns
the tensor, in C order, then cast with `.astype(numpy.float32)`.  featx re-implements the same rule in
Swift (Backbones/RandomWeights.swift); the two must agree bit for bit, so do not change any existing
value without bumping the rule's name (rules for module kinds it did not cover before may be added: they
change no value it already gave).
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import math
import os
import re
import sys
import tempfile
import time
import types
from typing import Callable, Dict, Iterable, Optional, Tuple

# PyPI's torchvision wheel is built against CUDA torch; with the CPU torch wheel its fake-kernel
# registrations fail ("operator torchvision::nms does not exist").  We never need them.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402,F401
from torchvision.models import densenet as tv_densenet  # noqa: E402
from torchvision.models import resnet as tv_resnet  # noqa: E402

RULE_NAME = "featx-random-v1"

FNV_OFFSET_BASIS = 2166136261
FNV_PRIME = 16777619

# --------------------------------------------------------------------------------------------------
# the rule


def fnv1a32(data: bytes) -> int:
    """32-bit FNV-1a hash."""
    h = FNV_OFFSET_BASIS
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & 0xFFFFFFFF
    return h


def key_seed(seed: int, key: str) -> int:
    """The numpy RandomState seed used for `key`."""
    return fnv1a32(f"{seed}:{key}".encode("utf-8"))


def is_timm_rdnet_dense_block(module: nn.Module) -> bool:
    """True for timm's `timm.models.rdnet.DenseBlock` (or a subclass).  timm is not imported here: a model
    containing one can only exist once timm.models.rdnet has been imported, and torchvision-only use of this
    module needs no timm."""
    rdnet = sys.modules.get("timm.models.rdnet")
    return rdnet is not None and isinstance(module, rdnet.DenseBlock)


def _loaded_class(module_name: str, class_name: str) -> Optional[type]:
    """`module_name.class_name` if that module has been imported, else None.  timm is never imported here: a
    model holding a timm module can only exist once its defining module has been imported."""
    mod = sys.modules.get(module_name)
    return getattr(mod, class_name, None) if mod is not None else None


def _is_instance(module: nn.Module, module_name: str, class_name: str) -> bool:
    cls = _loaded_class(module_name, class_name)
    return cls is not None and isinstance(module, cls)


# token / position tensors: (defining module, class, attribute) -> parameters of that module itself
TOKEN_TENSORS = (
    ("timm.models.vision_transformer", "VisionTransformer", "cls_token"),  # [1, 1, D]
    ("timm.models.vision_transformer", "VisionTransformer", "reg_token"),  # [1, R, D]
    ("timm.models.vision_transformer", "VisionTransformer", "pos_embed"),  # [1, T, D]
    ("timm.layers.attention_pool", "AttentionPoolLatent", "latent"),  # SigLIP MAP head query [1, L, D]
    ("torchvision.models.vision_transformer", "VisionTransformer", "class_token"),  # [1, 1, D]
    ("torchvision.models.vision_transformer", "Encoder", "pos_embedding"),  # [1, T, D]
)
# layer scale vectors: (defining module, class, attribute)
LAYER_SCALE_TENSORS = (
    ("timm.layers.layer_scale", "LayerScale", "gamma"),  # ViT blocks.N.ls1.gamma / ls2.gamma [D]
    ("timm.models.convnext", "ConvNeXtBlock", "gamma"),  # stages.S.blocks.B.gamma [C]
    ("torchvision.models.convnext", "CNBlock", "layer_scale"),  # features.N.B.layer_scale [C, 1, 1]
)


def is_token_tensor(module: nn.Module, attr: str) -> bool:
    return any(a == attr and _is_instance(module, m, c) for m, c, a in TOKEN_TENSORS)


def is_layer_scale(module: nn.Module, attr: str) -> bool:
    return any(a == attr and _is_instance(module, m, c) for m, c, a in LAYER_SCALE_TENSORS)


def rule_values(module: nn.Module, attr: str, shape: Tuple[int, ...], seed: int, key: str) -> Optional[np.ndarray]:
    """The float32 array the rule gives for tensor `attr` of `module` (state_dict key `key`).

    Returns None for BatchNorm's `num_batches_tracked` (int64 scalar 0, no draw).  Raises for any
    tensor the rule does not define, so a new module kind can never get silently wrong values.
    """
    rng = np.random.RandomState(key_seed(seed, key))
    shape = tuple(int(s) for s in shape)
    if isinstance(module, nn.Conv2d) and attr == "weight":
        o, i_per_group, kh, kw = shape
        std = math.sqrt(2.0 / (i_per_group * kh * kw))
        vals = rng.normal(0.0, std, shape)
    elif isinstance(module, nn.Conv2d) and attr == "bias":
        vals = rng.uniform(-0.1, 0.1, shape)
    elif isinstance(module, nn.LayerNorm) and attr in ("weight", "bias"):
        # nn.LayerNorm and its subclasses (timm's LayerNorm2d, LayerNorm)
        vals = rng.uniform(0.5, 1.5, shape) if attr == "weight" else rng.uniform(-0.1, 0.1, shape)
    elif attr == "gamma" and is_timm_rdnet_dense_block(module):
        # layer scale of a timm RDNet DenseBlock (`...dense_blockN.gamma`, [growth_rate])
        vals = rng.uniform(0.5, 1.5, shape)
    elif isinstance(module, nn.BatchNorm2d):
        if attr == "num_batches_tracked":
            return None
        if attr in ("weight", "running_var"):
            vals = rng.uniform(0.5, 1.5, shape)
        elif attr in ("bias", "running_mean"):
            vals = rng.uniform(-0.1, 0.1, shape)
        else:
            raise ValueError(f"{RULE_NAME}: no rule for BatchNorm2d tensor {key!r}")
    elif isinstance(module, nn.Linear) and attr in ("weight", "bias"):
        fan_in = module.in_features
        bound = 1.0 / math.sqrt(fan_in)
        vals = rng.uniform(-bound, bound, shape)
    elif is_token_tensor(module, attr):
        # class / register tokens, position embeddings, SigLIP's MAP latent query
        vals = rng.uniform(-0.5, 0.5, shape)
    elif is_layer_scale(module, attr):
        # layer scale (timm LayerScale.gamma, timm ConvNeXtBlock.gamma, torchvision CNBlock.layer_scale)
        vals = rng.uniform(0.5, 1.5, shape)
    elif (isinstance(module, nn.MultiheadAttention) and attr in ("in_proj_weight", "in_proj_bias")
          and module._qkv_same_embed_dim):
        # the packed q/k/v projection [3D, D] / [3D] (torchvision ViT): the Linear rule with fan_in = D
        bound = 1.0 / math.sqrt(module.embed_dim)
        vals = rng.uniform(-bound, bound, shape)
    else:
        raise ValueError(f"{RULE_NAME}: no rule for {type(module).__name__} tensor {key!r}")
    return np.ascontiguousarray(vals.astype(np.float32))


@torch.no_grad()
def random_state_dict(model: nn.Module, seed: int) -> "collections.OrderedDict[str, torch.Tensor]":
    """Fill `model` in place with the featx-random-v1 values for `seed`; return `model.state_dict()`."""
    modules = dict(model.named_modules())
    sd = model.state_dict()
    for key, t in sd.items():
        mod_name, _, attr = key.rpartition(".")
        module = modules[mod_name]
        vals = rule_values(module, attr, tuple(t.shape), seed, key)
        if vals is None:
            t.fill_(0)  # num_batches_tracked: int64 scalar 0
            continue
        if t.dtype != torch.float32:
            raise ValueError(f"{key}: expected float32, got {t.dtype}")
        t.copy_(torch.from_numpy(vals))
    return model.state_dict()


# --------------------------------------------------------------------------------------------------
# architectures

FULL_ARCHS: Dict[str, Callable[[], nn.Module]] = {
    "densenet121": lambda: torchvision.models.densenet121(weights=None),
    "densenet161": lambda: torchvision.models.densenet161(weights=None),
    "densenet169": lambda: torchvision.models.densenet169(weights=None),
    "densenet201": lambda: torchvision.models.densenet201(weights=None),
    "resnet18": lambda: torchvision.models.resnet18(weights=None),
    "resnet34": lambda: torchvision.models.resnet34(weights=None),
    "resnet50": lambda: torchvision.models.resnet50(weights=None),
    "resnet101": lambda: torchvision.models.resnet101(weights=None),
    "resnet152": lambda: torchvision.models.resnet152(weights=None),
    "resnext50_32x4d": lambda: torchvision.models.resnext50_32x4d(weights=None),
    "resnext101_32x8d": lambda: torchvision.models.resnext101_32x8d(weights=None),
    # aux classifiers included (torchvision's IMAGENET1K_V1 files have them); transform_input=True as
    # torchvision sets it for its pretrained weights; init_weights=False (the rule overwrites every value)
    "inception_v3": lambda: torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True,
                                                            init_weights=False),
    "googlenet": lambda: torchvision.models.googlenet(weights=None, aux_logits=True, transform_input=True,
                                                      init_weights=False),
    # timm RDNet (timm names, as the hub's pytorch_model.bin / model.safetensors)
    "rdnet_tiny": lambda: timm_model("rdnet_tiny"),
    "rdnet_small": lambda: timm_model("rdnet_small"),
    "rdnet_base": lambda: timm_model("rdnet_base"),
    "rdnet_large": lambda: timm_model("rdnet_large"),
}


def timm_model(name: str, **kwargs) -> nn.Module:
    """`timm.create_model(name, pretrained=False, **kwargs)`; timm is imported on first use (after the
    torchvision workaround at the top of this file, which timm's import of torchvision needs too)."""
    import timm

    return timm.create_model(name, pretrained=False, **kwargs)


def timm_version() -> Optional[str]:
    try:
        import timm
    except ImportError:
        return None
    return timm.__version__


def build(arch: str) -> nn.Module:
    """A full-size torchvision (weights=None) or timm (pretrained=False) model, in eval mode."""
    try:
        ctor = FULL_ARCHS[arch]
    except KeyError:
        raise SystemExit(f"unknown arch {arch!r}; known: {', '.join(FULL_ARCHS)}")
    return ctor().eval()


def random_model(arch: str, seed: int) -> nn.Module:
    m = build(arch)
    random_state_dict(m, seed)
    return m


# --------------------------------------------------------------------------------------------------
# pre-2018 DenseNet key names

_NEW_DENSE_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$")
# exactly the regex torchvision's densenet._load_state_dict uses to map old names to new ones
TORCHVISION_OLD_KEY_PATTERN = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def to_old_densenet_keys(sd: "collections.OrderedDict[str, torch.Tensor]") -> "collections.OrderedDict[str, torch.Tensor]":
    """Rename DenseNet keys to the pre-2018 style (`denselayer1.norm1.weight` -> `denselayer1.norm.1.weight`).

    Like the original torchvision DenseNet checkpoints (saved with PyTorch 0.3, before BatchNorm had
    `num_batches_tracked`), the result has no `num_batches_tracked` entries and no `_metadata`
    (a plain OrderedDict).  torchvision loads it with the regex in `densenet._load_state_dict`.
    """
    out: "collections.OrderedDict[str, torch.Tensor]" = collections.OrderedDict()
    for k, v in sd.items():
        if k.endswith(".num_batches_tracked"):
            continue
        m = _NEW_DENSE_KEY.match(k)
        out[f"{m.group(1)}.{m.group(2)}.{m.group(3)}" if m else k] = v
    return out


def from_old_densenet_keys(sd):
    """What torchvision's `_load_state_dict` does to an old-style dict (for verification)."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        res = TORCHVISION_OLD_KEY_PATTERN.match(k)
        out[res.group(1) + res.group(2) if res else k] = v
    return out


# --------------------------------------------------------------------------------------------------
# writing


def atomic_write_bytes(path: str, data: bytes) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


FORMATS = ("zip", "legacy", "legacy-oldkeys")

_LEGACY_KEY_LINE = "storage_key = str(storage._cdata)"
_legacy_save_numbered = None


def _make_numbered_legacy_save():
    """torch's own `serialization._legacy_save`, with one line changed: the storage keys are numbered
    "0", "1", ... in the order the pickler meets the storages, instead of being the storages' memory
    addresses (`str(storage._cdata)`), so that the bytes are the same on every run.  Any string is a
    valid key for `torch.load`; the raw storages still follow the main pickle in the *sorted* order of
    their key strings ("0", "1", "10", "100", "101", ... "11", ...), as in every legacy file.
    Returns None (caller falls back to plain `torch.save`) if this torch's source is not as expected."""
    import inspect
    import textwrap

    try:
        src = textwrap.dedent(inspect.getsource(torch.serialization._legacy_save))
    except (OSError, TypeError, AttributeError):
        return None
    if src.count(_LEGACY_KEY_LINE) != 1:
        return None
    src = src.replace(_LEGACY_KEY_LINE, "storage_key = _featx_storage_key(storage._cdata)")
    ns = dict(torch.serialization.__dict__)
    keys: Dict[int, str] = {}
    ns["_featx_storage_key"] = lambda cdata: keys.setdefault(cdata, str(len(keys)))
    exec(compile(src, "<featx numbered _legacy_save>", "exec"), ns)
    fn = ns["_legacy_save"]

    def save(obj, f):
        keys.clear()
        try:
            fn(obj, f, torch.serialization.pickle, torch.serialization.DEFAULT_PROTOCOL)
        finally:
            keys.clear()

    return save


def _legacy_save_to(sd, path: str) -> None:
    global _legacy_save_numbered
    if _legacy_save_numbered is None:
        _legacy_save_numbered = _make_numbered_legacy_save() or False
        if _legacy_save_numbered is False:
            print("warning: torch's _legacy_save changed; legacy files will use memory-address storage "
                  "keys and differ byte-wise between runs", file=sys.stderr)
    if _legacy_save_numbered:
        with open(path, "wb") as f:
            _legacy_save_numbered(sd, f)
    else:
        torch.save(sd, path, _use_new_zipfile_serialization=False)


def save_state_dict(sd, path: str, fmt: str = "zip") -> None:
    """`torch.save(sd, path)` (zip) or with `_use_new_zipfile_serialization=False` (legacy), atomically.

    Legacy files are written by torch's own legacy writer with numbered storage keys (see
    `_make_numbered_legacy_save`) so that they are byte-for-byte reproducible.

    The zip format names its top folder after the file's stem, so the file is first written under its
    final base name in a private temporary folder next to `path` and then renamed into place: the
    bytes are exactly those `torch.save(sd, path)` writes.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if fmt == "legacy-oldkeys":
        sd = to_old_densenet_keys(sd)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix=".tmp-", dir=d)
    tmp = os.path.join(tmpdir, os.path.basename(path))
    try:
        if fmt == "zip":
            torch.save(sd, tmp)
        else:
            _legacy_save_to(sd, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        os.rmdir(tmpdir)


def file_info(path: str) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"sha256": h.hexdigest(), "size": os.path.getsize(path)}


def tensors_digest(sd) -> str:
    """sha256 over keys, dtypes, shapes and raw bytes of every tensor, in order."""
    h = hashlib.sha256()
    for k, v in sd.items():
        v = v.detach().contiguous().cpu()
        h.update(k.encode())
        h.update(str(v.dtype).encode())
        h.update(repr(tuple(v.shape)).encode())
        h.update(v.numpy().tobytes())
    return h.hexdigest()


def atomic_write_json(path: str, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


# --------------------------------------------------------------------------------------------------
# test set

TEST_SET_ARCHS = ("densenet121", "resnet18", "resnet50", "inception_v3", "googlenet", "rdnet_tiny")
# file names and formats per arch (default: zip .pth and legacy .pth)
TEST_SET_FILES = {
    "densenet121": (("{arch}-random{seed}.pth", "zip"), ("{arch}-random{seed}.legacy.pth", "legacy"),
                    ("{arch}-random{seed}.oldkeys.legacy.pth", "legacy-oldkeys")),
    "resnet18": (("{arch}-random{seed}.pth", "zip"), ("{arch}-random{seed}.legacy.pth", "legacy")),
    "resnet50": (("{arch}-random{seed}.pth", "zip"), ("{arch}-random{seed}.legacy.pth", "legacy")),
    # torch.save(state_dict) zip, aux classifier keys included, like torchvision's own files
    "inception_v3": (("{arch}-random{seed}.pth", "zip"),),
    "googlenet": (("{arch}-random{seed}.pth", "zip"),),
    # torch.save of the timm state_dict: what the hub's pytorch_model.bin is
    "rdnet_tiny": (("{arch}-random{seed}.bin", "zip"),),
}


def write_test_set(out_dir: str, seed: int = 0, verbose: bool = True) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    files = []
    t_all = time.perf_counter()
    for arch in TEST_SET_ARCHS:
        t0 = time.perf_counter()
        sd = random_state_dict(build(arch), seed)
        t_gen = time.perf_counter() - t0
        outs = [(name.format(arch=arch, seed=seed), fmt) for name, fmt in TEST_SET_FILES[arch]]
        digest = tensors_digest(sd)
        for name, fmt in outs:
            t1 = time.perf_counter()
            path = os.path.join(out_dir, name)
            save_state_dict(sd, path, fmt)
            info = file_info(path)
            entry = {
                "file": name,
                "arch": arch,
                "seed": seed,
                "rule": RULE_NAME,
                "format": fmt,
                "keys": len(sd) if fmt != "legacy-oldkeys" else len(to_old_densenet_keys(sd)),
                "parameters": int(sum(v.numel() for k, v in sd.items() if v.is_floating_point())),
                "tensors_sha256": digest if fmt != "legacy-oldkeys" else tensors_digest(to_old_densenet_keys(sd)),
                **info,
            }
            if arch.startswith("rdnet"):
                entry["note"] = ("torch.save(model.state_dict()) of timm's model (timm key names): what the hub's "
                                 "pytorch_model.bin is")
            elif arch in ("inception_v3", "googlenet"):
                entry["note"] = "aux classifier keys included (AuxLogits / aux1, aux2), as in torchvision's files"
            elif fmt == "legacy":
                entry["note"] = "legacy format written by torch's _legacy_save with storage keys numbered 0, 1, ..."
            elif fmt == "legacy-oldkeys":
                entry["note"] = ("pre-2018 DenseNet key names (denselayerN.norm.1.weight, conv.2.weight, ...), no "
                                 "num_batches_tracked entries, no _metadata: like the original torchvision files; "
                                 "torchvision's densenet._load_state_dict regex maps them back")
            files.append(entry)
            if verbose:
                print(f"wrote {path}  {info['size']:>11,d} B  sha256 {info['sha256'][:16]}…  "
                      f"({fmt}; generate {t_gen:.2f}s, save {time.perf_counter() - t1:.2f}s)")
    manifest = {
        "rule": RULE_NAME,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm_version(),
        "numpy": np.__version__,
        "files": files,
    }
    atomic_write_json(os.path.join(out_dir, "manifest.json"), manifest)
    if verbose:
        print(f"wrote {os.path.join(out_dir, 'manifest.json')}  (total {time.perf_counter() - t_all:.1f}s)")
    return manifest


def verify_test_set(out_dir: str) -> None:
    """Reload every file of the manifest with torch.load(weights_only=True) and compare with the rule."""
    t0 = time.perf_counter()
    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    refs: Dict[str, "collections.OrderedDict[str, torch.Tensor]"] = {}
    for e in manifest["files"]:
        path = os.path.join(out_dir, e["file"])
        info = file_info(path)
        if info != {"sha256": e["sha256"], "size": e["size"]}:
            raise SystemExit(f"{path}: size/sha256 differ from manifest.json")
        if e["arch"] not in refs:
            refs = {e["arch"]: random_state_dict(build(e["arch"]), e["seed"])}
        ref = refs[e["arch"]]
        sd = torch.load(path, weights_only=True, map_location="cpu")
        if e["format"] == "legacy-oldkeys":
            if any(k.endswith("num_batches_tracked") for k in sd) or not any(".norm.1." in k for k in sd):
                raise SystemExit(f"{path}: not in the old key style")
            m = build(e["arch"])
            m.load_state_dict(from_old_densenet_keys(sd), strict=True)  # what torchvision does
            sd = m.state_dict()
        if list(sd.keys()) != list(ref.keys()):
            raise SystemExit(f"{path}: key order differs from {e['arch']}")
        for k, v in ref.items():
            if sd[k].dtype != v.dtype or not torch.equal(sd[k], v):
                raise SystemExit(f"{path}: {k} differs")
        print(f"verified {path}")
    print(f"all {len(manifest['files'])} files verified ({time.perf_counter() - t0:.1f}s)")


def main(argv: Optional[Iterable[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=sorted(FULL_ARCHS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=FORMATS, default="zip")
    ap.add_argument("-o", "--output")
    ap.add_argument("--test-set", action="store_true", help="write the weight files the Swift tests need")
    ap.add_argument("--out-dir", help="directory for --test-set")
    ap.add_argument("--verify", action="store_true",
                    help="with --test-set: afterwards reload every file and compare with the rule")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    if args.test_set:
        if not args.out_dir:
            ap.error("--test-set needs --out-dir")
        write_test_set(args.out_dir, args.seed)
        if args.verify:
            verify_test_set(args.out_dir)
        return 0
    if not args.arch or not args.output:
        ap.error("give --arch and -o (or --test-set --out-dir DIR)")
    if args.format == "legacy-oldkeys" and not args.arch.startswith("densenet"):
        ap.error("legacy-oldkeys is only meaningful for DenseNet")
    t0 = time.perf_counter()
    sd = random_state_dict(build(args.arch), args.seed)
    save_state_dict(sd, args.output, args.format)
    info = file_info(args.output)
    print(f"wrote {args.output}  {args.arch} seed {args.seed} {args.format}  {info['size']:,d} B  "
          f"sha256 {info['sha256']}  ({time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
