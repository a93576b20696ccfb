#!/usr/bin/env python3
"""timm's config.json files and evaluation transforms, the ground truth of featx's `--weights hf-hub:`.

    .cache/venv/bin/python tools/make_timm_fixtures.py          # rewrite Tests/Fixtures/timm/
    .cache/venv/bin/python tools/make_timm_fixtures.py --check  # only compare disk with timm

Writes Tests/Fixtures/timm/:

- configs/<model>.json: the config.json timm's `push_to_hf_hub` / `save_for_hf` writes for real pretrained
  tags (timm's own `save_config_for_hf` on `create_model(tag, pretrained=False)`, whose pretrained_cfg
  comes from timm's registry: no download), for the tags Tests/Fixtures/hub/ (tools/make_hub_fixtures.py)
  does not already hold; for those it holds, the tool checks that they are what timm writes and uses them.
- transforms.json: for each of those and for hand-written configs (the legacy single-dict form, missing
  and null fields, squash, crop_pct 1, other sizes, border, non-square inputs), timm's resolved data
  config (`resolve_data_config({}, model=model)` on `create_model('local-dir:FOLDER')`) and the
  transform `create_transform(**data_config)` (is_training False) builds, step by step.

- tiny_resnet.timm.bin + tiny_resnet.timm.json: `torch.save(model.state_dict())` of a small timm ResNet
  (timm.models.resnet.ResNet, BasicBlock, one block per stage, seeded init), i.e. what a timm-saved
  pytorch_model.bin holds, and every tensor's shape and sha256 (float32 or int64 little-endian bytes): for
  the test that featx's restricted unpickler reads such a file with no new globals (the tool asserts the
  pickle calls only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.FloatStorage /
  LongStorage, as torchvision's files do).
- rdnet_naver_style.pth: a NAVER-style RDNet checkpoint in miniature, `{"model": {"stem.stem.0.weight": …,
  …}, "epoch": 300}`: the wrapper timm's rdnet `checkpoint_filter_fn` unwraps and the `stem.stem.` names it
  renames to `stem.` (small random tensors); rdnet_naver_style.json: the keys timm's filter makes of it.

It also checks that the Hugging Face cache layout featx's tests build (refs/main holding the commit,
snapshots/<commit>/ files as relative symlinks into blobs/) is one huggingface_hub and timm resolve
offline: `timm.create_model('hf-hub:timm/resnet18.a1_in1k', pretrained=True)` with HF_HUB_OFFLINE=1 loads
from it, with model.safetensors preferred over pytorch_model.bin.

Deterministic: a second run writes byte-identical files.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import timm  # noqa: E402
import torch  # noqa: E402
from timm.data import create_transform, resolve_data_config  # noqa: E402
from timm.models._hub import save_config_for_hf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "Tests" / "Fixtures" / "timm"

# Real pretrained tags: config.json as the hub holds them.
TAGS = [
    "resnet18.a1_in1k",
    "resnet50.a1_in1k",
    "resnet50.tv2_in1k",
    "resnext50_32x4d.a1h_in1k",
    "densenet121.tv_in1k",
    "inception_v3.tv_in1k",
    "rdnet_tiny.nv_in1k",
    "vit_tiny_patch16_224.augreg_in21k_ft_in1k",
]

# Hand-written configs: what timm does with each (featx must do the same or refuse).
CFG = {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.95, "crop_mode": "center"}
SYNTHETIC = {
    "legacy_single_dict": {"architecture": "resnet18", "num_classes": 10, "input_size": [3, 256, 256], "crop_pct": 0.9,
                           "interpolation": "bilinear", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    "empty_pretrained_cfg": {"architecture": "resnet18", "num_classes": 1000, "pretrained_cfg": {}},
    "null_fields": {"architecture": "resnet18", "pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": None,
                                                                   "crop_pct": None, "crop_mode": None, "mean": None, "std": None}},
    "squash": {"architecture": "resnet18", "pretrained_cfg": {**CFG, "crop_mode": "squash", "crop_pct": 0.875}},
    "squash_non_square": {"architecture": "resnet18", "pretrained_cfg": {**CFG, "crop_mode": "squash", "input_size": [3, 192, 256]}},
    "crop_pct_1": {"architecture": "resnet50", "pretrained_cfg": {**CFG, "crop_pct": 1.0, "input_size": [3, 288, 288]}},
    "crop_pct_0_875_bilinear": {"architecture": "densenet121", "pretrained_cfg": {**CFG, "crop_pct": 0.875, "interpolation": "bilinear"}},
    "odd_size": {"architecture": "resnet18", "pretrained_cfg": {**CFG, "input_size": [3, 299, 299], "crop_pct": 0.8975}},
    "border": {"architecture": "resnet18", "pretrained_cfg": {**CFG, "crop_mode": "border"}},
    "center_non_square": {"architecture": "resnet18", "pretrained_cfg": {**CFG, "input_size": [3, 192, 256]}},
    "lanczos": {"architecture": "resnet18", "pretrained_cfg": {**CFG, "interpolation": "lanczos"}},
}


def describe(transform) -> list[dict]:
    """The steps of a torchvision Compose as plain data."""
    steps = []
    for t in transform.transforms:
        name = type(t).__name__
        if name == "Resize":
            size = t.size if isinstance(t.size, int) else list(t.size)
            steps.append({"Resize": {"size": size, "interpolation": t.interpolation.value}})
        elif name == "CenterCrop":
            steps.append({"CenterCrop": list(t.size)})
        elif name == "Normalize":
            # The tensors timm builds (float32), as Python floats.
            steps.append({"Normalize": {"mean": [float(v) for v in torch.as_tensor(t.mean)],
                                        "std": [float(v) for v in torch.as_tensor(t.std)]}})
        elif name in ("MaybeToTensor", "ToTensor"):
            steps.append({"ToTensor": {}})
        else:
            steps.append({name: repr(t)})
    return steps


def timm_transform(config: dict) -> dict:
    """What timm makes of a config.json: the data config and the eval transform."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.json").write_text(json.dumps(config))
        model = timm.create_model("local-dir:" + folder, pretrained=False)
    data = resolve_data_config({}, model=model)
    return {
        "data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(data.items())},
        "transform": describe(create_transform(**data, is_training=False)),
    }


HUB = REPO / "Tests" / "Fixtures" / "hub"


def hub_fixture(tag: str) -> Path:
    """Where tools/make_hub_fixtures.py keeps a tag's config.json (it may not exist)."""
    org = "naver-ai" if tag.startswith("rdnet") else "timm"
    return HUB / f"{org}--{tag}" / "config.json"


def hub_config(tag: str) -> dict:
    model = timm.create_model(tag, pretrained=False)
    with tempfile.TemporaryDirectory() as folder:
        save_config_for_hf(model, Path(folder, "config.json"))
        return json.loads(Path(folder, "config.json").read_text())


def check_cache_layout() -> None:
    """timm + huggingface_hub load `hf-hub:` weights offline from the layout featx's tests make."""
    code = r"""
import hashlib, json, os, sys, types
from pathlib import Path
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
import timm, torch, safetensors.torch
cache, config = Path(sys.argv[1]), json.loads(sys.argv[2])
repo = cache / "models--timm--resnet18.a1_in1k"
commit = "0123456789abcdef0123456789abcdef01234567"
def put(name, data):
    sha = hashlib.sha256(data).hexdigest()
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "blobs" / sha).write_bytes(data)
    link = repo / "snapshots" / commit / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("../..") / "blobs" / sha)
torch.manual_seed(0)
safe = timm.create_model("resnet18").state_dict()
torch.manual_seed(1)
legacy = timm.create_model("resnet18").state_dict()
put("config.json", json.dumps(config).encode())
put("model.safetensors", safetensors.torch.save(safe))
import io
buf = io.BytesIO(); torch.save(legacy, buf); put("pytorch_model.bin", buf.getvalue())
(repo / "refs").mkdir()
(repo / "refs" / "main").write_text(commit)
model = timm.create_model("hf-hub:timm/resnet18.a1_in1k", pretrained=True)
loaded = model.state_dict()["conv1.weight"]
assert torch.equal(loaded, safe["conv1.weight"]), "model.safetensors is not the file timm loaded"
assert not torch.equal(loaded, legacy["conv1.weight"])
print("ok")
"""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=cache, HF_HUB_DISABLE_TELEMETRY="1")
        out = subprocess.run([sys.executable, "-c", code, cache, json.dumps(hub_config("resnet18.a1_in1k"))],
                             env=env, capture_output=True, text=True)
        if out.returncode != 0 or out.stdout.strip() != "ok":
            sys.exit(f"timm did not load hf-hub weights from the test cache layout:\n{out.stderr[-2000:]}")


def timm_saved_bin() -> tuple[bytes, bytes]:
    """A small timm ResNet's state_dict saved as timm saves weights, and its tensors' sha256."""
    import io
    import pickletools
    import zipfile

    from timm.models.resnet import BasicBlock, ResNet

    torch.manual_seed(0)
    model = ResNet(block=BasicBlock, layers=[1, 1, 1, 1], channels=(8, 16, 16, 16), num_classes=10)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that every tensor's bytes are distinct
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.num_batches_tracked.fill_(7)
    state = model.state_dict()
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    archive = zipfile.ZipFile(io.BytesIO(data))
    pickle = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    globals_ = {str(arg) for op, arg, _ in pickletools.genops(pickle) if op.name in ("GLOBAL", "STACK_GLOBAL", "INST")}
    allowed = {"collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch FloatStorage", "torch LongStorage"}
    assert globals_ <= allowed and not any(op.name == "STACK_GLOBAL" for op, _, _ in pickletools.genops(pickle)), globals_
    tensors = [
        {"key": k, "shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch."),
         "sha256": hashlib.sha256(v.contiguous().numpy().astype("<f4" if v.is_floating_point() else "<i8").tobytes()).hexdigest()}
        for k, v in state.items()
    ]
    info = {"generator": "tools/make_timm_fixtures.py", "pickle_globals": sorted(globals_), "tensors": tensors}
    return data, (json.dumps(info, indent=1) + "\n").encode()


def rdnet_naver_style() -> tuple[bytes, bytes]:
    """{"model": state_dict with NAVER's stem.stem. names, "epoch": 300}, as torch.save writes it."""
    import collections
    import io

    torch.manual_seed(0)
    state = collections.OrderedDict(
        [
            ("stem.stem.0.weight", torch.randn(4, 3, 4, 4)),
            ("stem.stem.0.bias", torch.randn(4)),
            ("stem.stem.1.weight", torch.ones(4)),
            ("stem.stem.1.bias", torch.zeros(4)),
            ("stages.0.blocks.0.stem.stem.weight", torch.randn(4)),  # str.replace renames every occurrence
            ("head.fc.weight", torch.randn(10, 4)),
        ]
    )
    buf = io.BytesIO()
    torch.save({"model": state, "epoch": 300}, buf)
    from timm.models.rdnet import checkpoint_filter_fn

    filtered = checkpoint_filter_fn(torch.load(io.BytesIO(buf.getvalue()), weights_only=True), None)
    info = {"generator": "tools/make_timm_fixtures.py", "checkpoint_filter_fn_keys": list(filtered)}
    return buf.getvalue(), (json.dumps(info, indent=1) + "\n").encode()


def build() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files["tiny_resnet.timm.bin"], files["tiny_resnet.timm.json"] = timm_saved_bin()
    files["rdnet_naver_style.pth"], files["rdnet_naver_style.json"] = rdnet_naver_style()
    cases = []
    for tag in TAGS:
        config = hub_config(tag)
        shared = hub_fixture(tag)
        if shared.is_file():
            assert json.loads(shared.read_text()) == config, f"{shared} is not what timm writes for {tag}"
            file = "../" + shared.relative_to(OUT.parent).as_posix()
        else:
            file = f"configs/{tag}.json"
            files[file] = (json.dumps(config, indent=2) + "\n").encode()
        cases.append({"name": tag, "config_file": file, **timm_transform(config)})
    for name, config in SYNTHETIC.items():
        try:
            result = timm_transform(json.loads(json.dumps(config)))
        except Exception as error:  # timm refuses it too
            result = {"timm_error": f"{type(error).__name__}: {error}"}
        cases.append({"name": name, "config": config, **result})
    manifest = {
        "generator": "tools/make_timm_fixtures.py",
        "timm": timm.__version__,
        "torch": torch.__version__,
        "cases": cases,
    }
    files["transforms.json"] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare the files on disk with a fresh build")
    args = parser.parse_args()
    check_cache_layout()
    files = build()
    if args.check:
        bad = [n for n, data in files.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != data]
        for n in bad:
            print(f"differs: {n}")
        return 1 if bad else 0
    for n, data in files.items():
        (OUT / n).parent.mkdir(parents=True, exist_ok=True)
        (OUT / n).write_bytes(data)
    digest = hashlib.sha256(b"".join(files[n] for n in sorted(files))).hexdigest()[:12]
    print(f"wrote {len(files)} files to {OUT} (content {digest}); the hub cache layout loads in timm offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
