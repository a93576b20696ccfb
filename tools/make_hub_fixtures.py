#!/usr/bin/env python3
"""Hugging Face hub config fixtures for timm models (Tests/Fixtures/hub/), written offline by timm's own code.

    .cache/venv/bin/python tools/make_hub_fixtures.py

Writes
  hub/<org>--<name>/config.json  timm.models._hub.save_config_for_hf(model, path): the function timm's
                                 push_to_hf_hub / save_for_hf use to write a hub repo's config.json, called
                                 on timm.create_model('<name>', pretrained=False) (which carries the tag's
                                 pretrained_cfg); the bytes are exactly what that function writes
  hub/transforms.json            per model: timm.data.resolve_data_config({}, model=model) and the eval
                                 transform create_transform(**cfg) as a list of steps with their parameters;
                                 plus featx's torchvision presets for comparison
  hub/state_dict_compat.json     timm vs torchvision state_dict keys / shapes (inception_v3, densenet121,
                                 resnet18, resnet50) and what timm's forward_features returns relative to
                                 torchvision's modules, measured with the same featx-random-v1 weights

No network access: pretrained=False, nothing is downloaded.  Deterministic.
"""
from __future__ import annotations

import collections
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_weights as mw  # noqa: E402  (also applies the torchvision import workaround)
import make_reference as mr  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from torchvision import transforms as T  # noqa: E402

import timm  # noqa: E402
from timm.data import create_transform, resolve_data_config  # noqa: E402
from timm.models._hub import save_config_for_hf  # noqa: E402

HUB_DIR = os.path.join(mr.REPO, "Tests", "Fixtures", "hub")

# hub repo id -> timm model name with tag
HUB_MODELS = collections.OrderedDict([
    ("timm/resnet50.a1_in1k", "resnet50.a1_in1k"),
    ("timm/densenet121.tv_in1k", "densenet121.tv_in1k"),
    ("timm/inception_v3.tv_in1k", "inception_v3.tv_in1k"),
    ("timm/resnet18.a1_in1k", "resnet18.a1_in1k"),
    ("naver-ai/rdnet_tiny.nv_in1k", "rdnet_tiny.nv_in1k"),
])


def jsonable(o):
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, torch.Tensor):
        return o.tolist()
    return o


def step_desc(s) -> dict:
    """One transform step with its exact parameters."""
    name = type(s).__name__
    d = collections.OrderedDict(step=name, cls=f"{type(s).__module__}.{name}")
    if isinstance(s, T.Resize):
        d.update(size=jsonable(s.size), interpolation=s.interpolation.value, max_size=s.max_size,
                 antialias=s.antialias,
                 meaning="shorter side to `size` keeping aspect (torchvision Resize with an int), PIL resampling "
                         "on a PIL image (antialiased)" if isinstance(s.size, int) else "resize to (h, w)")
    elif isinstance(s, T.CenterCrop):
        d.update(size=jsonable(s.size))
    elif isinstance(s, T.Normalize):
        for k in ("mean", "std"):
            v = getattr(s, k)
            if torch.is_tensor(v):
                d[f"{k}_given_as"] = f"torch tensor {str(v.dtype).replace('torch.', '')}"
                d[k] = v.tolist()
            else:
                d[f"{k}_given_as"] = "Python floats (float64)"
                d[k] = [float(e) for e in v]
            # F.normalize on a float32 image uses torch.as_tensor(v, dtype=float32)
            d[f"{k}_float32"] = torch.as_tensor(v, dtype=torch.float32).tolist()
        d["inplace"] = s.inplace
        d["meaning"] = "x = (x - mean) / std per channel, float32"
    elif name in ("MaybeToTensor", "ToTensor"):
        d.update(meaning="PIL uint8 HWC -> float32 CHW / 255 (torchvision F.to_tensor)")
    else:
        raise SystemExit(f"unexpected transform step {s!r}")
    d["repr"] = repr(s)
    return d


def make_configs() -> dict:
    os.makedirs(HUB_DIR, exist_ok=True)
    transforms = collections.OrderedDict()
    for repo_id, name in HUB_MODELS.items():
        model = timm.create_model(name, pretrained=False)
        pc = model.pretrained_cfg
        assert pc.get("hf_hub_id") == repo_id, (name, pc.get("hf_hub_id"))
        assert f"{pc['architecture']}.{pc['tag']}" == name, pc
        org, repo = repo_id.split("/")
        d = os.path.join(HUB_DIR, f"{org}--{repo}")
        os.makedirs(d, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=d, prefix=".tmp-") as tmp:
            p = os.path.join(tmp, "config.json")
            save_config_for_hf(model, p)
            with open(p, "rb") as f:
                data = f.read()
        mw.atomic_write_bytes(os.path.join(d, "config.json"), data)
        cfg = resolve_data_config({}, model=model)
        tf = create_transform(**cfg)
        steps = [step_desc(s) for s in tf.transforms]
        crop_pct = cfg["crop_pct"]
        img = cfg["input_size"][1:]
        transforms[repo_id] = collections.OrderedDict(
            model=name,
            config=f"{org}--{repo}/config.json",
            config_sha256=mr.sha256(data),
            architecture=pc["architecture"],
            tag=pc["tag"],
            resolve_data_config=jsonable(cfg),
            scale_size=[math.floor(x / crop_pct) for x in img],
            scale_size_rule="math.floor(input_size[i] / crop_pct) (timm transforms_imagenet_eval); with a square "
                            "input and crop_mode 'center' one int: Resize(scale) of the shorter side, then "
                            "CenterCrop(input_size)",
            eval_transform=steps,
            num_features=model.num_features,
            num_classes=model.num_classes,
        )
        print(f"hub: {repo_id}: config.json {len(data)} B; {' | '.join(s['repr'].splitlines()[0] for s in steps)}")
        del model
    presets = collections.OrderedDict(
        note="featx's torchvision-side presets (tools/make_reference.py, tools/make_family_reference.py), for "
             "comparison: these are NOT what timm's configs above resolve to",
        imagenet=[step_desc(s) for s in (T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                                         T.Normalize(mr.IMAGENET_MEAN, mr.IMAGENET_STD))],
        inception=[step_desc(s) for s in (T.Resize(342), T.CenterCrop(299), T.ToTensor(),
                                          T.Normalize(mr.IMAGENET_MEAN, mr.IMAGENET_STD))],
    )
    obj = collections.OrderedDict(
        format="featx-hub-transforms-v1",
        generator="tools/make_hub_fixtures.py",
        versions=dict(mr.versions(), timm=timm.__version__),
        how="model = timm.create_model(name, pretrained=False); cfg = timm.data.resolve_data_config({}, model=model); "
            "tf = timm.data.create_transform(**cfg) (is_training=False: transforms_imagenet_eval)",
        models=transforms,
        torchvision_presets=presets,
    )
    mw.atomic_write_json(os.path.join(HUB_DIR, "transforms.json"), obj)
    return obj


# --------------------------------------------------------------------------------------------------
# timm vs torchvision


def key_diff(tv_sd, tm_sd) -> dict:
    tvk, tmk = list(tv_sd), list(tm_sd)
    only_tv = [k for k in tvk if k not in tm_sd]
    only_tm = [k for k in tmk if k not in tv_sd]
    shape = [{"key": k, "torchvision": list(tv_sd[k].shape), "timm": list(tm_sd[k].shape)}
             for k in tvk if k in tm_sd and tuple(tv_sd[k].shape) != tuple(tm_sd[k].shape)]
    common_tv = [k for k in tvk if k in tm_sd]
    common_tm = [k for k in tmk if k in tv_sd]
    return collections.OrderedDict(
        torchvision_entries=len(tvk), timm_entries=len(tmk),
        only_torchvision=only_tv, only_timm=only_tm, shape_differences=shape,
        same_order_of_common_keys=common_tv == common_tm,
        identical=not only_tv and not only_tm and not shape and tvk == tmk,
    )


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def make_compat() -> dict:
    torch.set_num_threads(1)
    x01 = torch.from_numpy(np.random.RandomState(11).uniform(0.0, 1.0, (2, 3, 224, 224)).astype(np.float32))
    x01_299 = torch.from_numpy(np.random.RandomState(12).uniform(0.0, 1.0, (2, 3, 299, 299)).astype(np.float32))
    imnet = lambda x: T.Normalize(mr.IMAGENET_MEAN, mr.IMAGENET_STD)(x)  # noqa: E731
    out = collections.OrderedDict()
    with torch.no_grad():
        # densenet121
        tv = mw.random_model("densenet121", 0)
        tm = timm.create_model("densenet121.tv_in1k", pretrained=False).eval()
        kd = key_diff(tv.state_dict(), tm.state_dict())
        tm.load_state_dict(tv.state_dict(), strict=True)
        x = imnet(x01)
        f_tv, f_tm = tv.features(x), tm.forward_features(x)
        norm5 = type(tm.features.norm5)
        out["densenet121"] = collections.OrderedDict(
            timm_model="densenet121.tv_in1k", torchvision="torchvision.models.densenet121(weights=None)",
            keys=kd,
            forward_features=collections.OrderedDict(
                timm_norm5=f"{norm5.__module__}.{norm5.__name__} (act {type(tm.features.norm5.act).__name__})",
                equals_torchvision_features=bool(torch.equal(f_tm, f_tv)),
                equals_relu_of_torchvision_features=bool(torch.equal(f_tm, F.relu(f_tv))),
                max_rel_diff_vs_relu=rel_diff(f_tm, F.relu(f_tv)),
                pre_logits_equals_torchvision_relu_avgpool=bool(torch.equal(
                    tm.forward_head(f_tm, pre_logits=True), F.adaptive_avg_pool2d(F.relu(f_tv), 1).flatten(1))),
                note="timm's DenseNet norm5 is BatchNormAct2d (BatchNorm2d + ReLU): forward_features = "
                     "ReLU(torchvision model.features(x)); torchvision applies that ReLU in DenseNet.forward",
            ),
        )
        del tv, tm
        # inception_v3
        tv = mw.random_model("inception_v3", 0)  # aux_logits=True, transform_input=True
        tm = timm.create_model("inception_v3.tv_in1k", pretrained=False).eval()  # aux_logits default False
        tm_aux = timm.create_model("inception_v3.tv_in1k", pretrained=False, aux_logits=True).eval()
        kd = key_diff(tv.state_dict(), tm.state_dict())
        kd_aux = key_diff(tv.state_dict(), tm_aux.state_dict())
        tm_aux.load_state_dict(tv.state_dict(), strict=True)
        missing, unexpected = tm.load_state_dict(tv.state_dict(), strict=False)
        assert not missing, missing
        pooled = {}
        tv.avgpool.register_forward_hook(lambda m, i, o: pooled.__setitem__("tv", o.flatten(1)))
        tv(imnet(x01_299))
        y_tm = tm.forward_head(tm.forward_features(T.Normalize((0.5,) * 3, (0.5,) * 3)(x01_299)), pre_logits=True)
        out["inception_v3"] = collections.OrderedDict(
            timm_model="inception_v3.tv_in1k",
            torchvision="torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, "
                        "init_weights=False)",
            keys_vs_timm_default=kd,
            keys_vs_timm_aux_logits_true=kd_aux,
            timm_load_state_dict_of_torchvision_file=collections.OrderedDict(
                aux_logits_false={"strict": False, "unexpected": len(unexpected), "missing": len(missing),
                                  "note": "timm's _create_inception_v3 loads the tv_in1k file with strict=False "
                                          "when aux_logits=False (only tv_in1k has AuxLogits weights)"},
                aux_logits_true={"strict": True, "ok": True}),
            forward=collections.OrderedDict(
                torchvision="x = Normalize(ImageNet mean/std)(px/255), then transform_input inside forward",
                timm="x = Normalize((0.5,)*3, (0.5,)*3)(px/255) from the tv_in1k pretrained_cfg; no transform_input",
                pre_logits_max_rel_diff=rel_diff(y_tm, pooled["tv"]),
                note="the two normalisations are the same affine map of px/255 up to float32 rounding, so the "
                     "pooled features agree to rounding (random weights, random input)",
            ),
        )
        del tv, tm, tm_aux
        # resnets
        for arch, tname in (("resnet18", "resnet18.a1_in1k"), ("resnet50", "resnet50.a1_in1k")):
            tv = mw.random_model(arch, 0)
            tm = timm.create_model(tname, pretrained=False).eval()
            kd = key_diff(tv.state_dict(), tm.state_dict())
            tm.load_state_dict(tv.state_dict(), strict=True)
            x = imnet(x01)
            y_tv = mr.resnet_avgpool(tv, x)
            y_tm = tm.forward_head(tm.forward_features(x), pre_logits=True)
            out[arch] = collections.OrderedDict(
                timm_model=tname, torchvision=f"torchvision.models.{arch}(weights=None)", keys=kd,
                pre_logits_equals_torchvision_avgpool=bool(torch.equal(y_tm, y_tv)),
                pre_logits_max_rel_diff=rel_diff(y_tm, y_tv))
            del tv, tm
    obj = collections.OrderedDict(
        format="featx-timm-torchvision-compat-v1",
        generator="tools/make_hub_fixtures.py",
        versions=dict(mr.versions(), timm=timm.__version__),
        weights="featx-random-v1 seed 0 torchvision state_dicts (tools/make_weights.py), loaded into the timm models",
        inputs="x01 = RandomState(11).uniform(0, 1, (2,3,224,224)) float32 (RandomState(12), 299x299 for inception), "
               "i.e. px/255 stand-ins",
        models=out,
    )
    mw.atomic_write_json(os.path.join(HUB_DIR, "state_dict_compat.json"), obj)
    for a, e in out.items():
        k = e.get("keys") or e.get("keys_vs_timm_default")
        print(f"compat: {a}: keys identical {k['identical']}; only torchvision {len(k['only_torchvision'])}, "
              f"only timm {len(k['only_timm'])}, shape diffs {len(k['shape_differences'])}")
    return obj


def main() -> int:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    make_configs()
    make_compat()
    return 0


if __name__ == "__main__":
    sys.exit(main())
