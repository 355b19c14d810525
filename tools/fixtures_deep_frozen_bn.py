#!/usr/bin/env python3
"""Fixtures for `frozen_bn = train` (tests/it/deep_frozen_bn.rs): frozen layers in torch's
training mode, as the notebook's `model.train()` runs them.

Run from the repository root:  python3 tools/fixtures_deep_frozen_bn.py
Needs torch, torchvision, numpy and safetensors. CPU, float32, deterministic. Writes
tests/fixtures/deep/frozen_bn.safetensors with:

  r3d.*     the whole r3d_18 with the notebook's head, weights from the closed form of
            tools/fixtures_deep_r3d.py, frozen as the notebook freezes it (requires_grad only on
            layer4 and fc), in model.train(), two Adam steps (the notebook's lr 1e-4, weight decay 1e-4) on two
            batches of two clips (2, 3, 4, 32, 32) (closed-form inputs, cases 10 and 11):
              step{1,2}.trunk      layer3's output in training mode (batch statistics)
              step{1,2}.logits     logits, step{1,2}.loss cross-entropy, step{1,2}.labels
              step1.grad.NAME      gradients of the first step (first rows of big tensors)
              step{1,2}.after.NAME parameters (first rows of big ones) and running statistics
                                   after the step, trunk and layer4 batch norms alike
              eval.logits          model.eval() logits of the first batch after both steps (the
                                   updated running statistics at work)
            The head's dropout is left out (its masks are ours, not torch's): torch runs
            `fc[2](fc[0](embedding))`, as tools/fixtures_deep_r3d.py does for its training step.
  effnet.*  efficientnet_b0 (closed-form weights of tools/fixtures_deep_effnet.py), features[0..7]
            (the frozen trunk) in training mode under torch.no_grad(), two passes on batches of
            2 videos x 2 frames of 32x32 (`x.view(b * t, c, h, w)`, inputs stored as
            effnet.input{1,2}, (2, 2, 3, 32, 32)): the running statistics of every BatchNorm of
            features.0, features.1 and features.2 after each pass (effnet.after{1,2}.NAME).
            Stochastic depth draws from torch's generator, so only the layers before the first
            residual branch that can be dropped (features.2.1's own BatchNorms included, the drop
            comes after them) are reproducible across implementations.
"""

import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures_deep_effnet as effnet_fx  # noqa: E402
import fixtures_deep_r3d as r3d_fx  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "deep",
                   "frozen_bn.safetensors")
LR = 1e-4  # the notebook's
WEIGHT_DECAY = 1e-4
R3D_SHAPE = (2, 3, 4, 32, 32)
R3D_BATCHES = [(10, [1, 3]), (11, [4, 0])]
# Parameters stored after each step (None: all rows) and gradients of the first step.
R3D_PARAMS = [
    ("layer4.0.conv1.0.weight", 1),
    ("layer4.0.downsample.0.weight", 2),
    ("layer4.1.conv2.0.weight", 1),
    ("layer4.0.conv1.1.weight", None),
    ("layer4.1.conv2.1.bias", None),
    ("fc.0.weight", None),
    ("fc.0.bias", None),
    ("fc.2.weight", None),
    ("fc.2.bias", None),
]
# Running statistics stored after each step: the trunk's (frozen) and layer4's.
R3D_BUFFERS = [
    "stem.1",
    "layer1.0.conv1.1",
    "layer2.0.downsample.1",
    "layer3.1.conv2.1",
    "layer4.0.conv1.1",
    "layer4.1.conv2.1",
]


def r3d_fixture():
    torch.manual_seed(0)
    model, _ = r3d_fx.build_model()
    # The notebook: everything frozen but layer4 and fc.
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("layer4.") or name.startswith("fc.")
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=LR,
                           weight_decay=WEIGHT_DECAY)
    model.train()
    out = {}
    trunk_out = {}
    model.layer3.register_forward_hook(lambda m, i, o: trunk_out.__setitem__("t", o.detach()))
    first_x = None
    for step, (case, labels) in enumerate(R3D_BATCHES, start=1):
        x = r3d_fx.closed_form_input(case, R3D_SHAPE)
        if first_x is None:
            first_x = x
        opt.zero_grad()
        emb = model.avgpool(model.layer4(model.layer3(model.layer2(model.layer1(model.stem(x))))))
        logits = model.fc[2](model.fc[0](emb.flatten(1)))
        y = torch.tensor(labels)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        p = f"r3d.step{step}."
        out[p + "trunk"] = trunk_out["t"].clone()
        out[p + "logits"] = logits.detach().clone()
        out[p + "loss"] = loss.detach().reshape(1)
        out[p + "labels"] = y.to(torch.int64)
        params = dict(model.named_parameters())
        if step == 1:
            for name, rows in R3D_PARAMS:
                g = params[name].grad
                out[p + "grad." + name] = (g if rows is None else g[:rows]).clone()
            # frozen parameters get no gradient
            assert params["stem.0.weight"].grad is None
            assert params["layer3.1.conv2.0.weight"].grad is None
        opt.step()
        for name, rows in R3D_PARAMS:
            v = params[name].detach()
            out[p + "after." + name] = (v if rows is None else v[:rows]).clone()
        sd = model.state_dict()
        for bn in R3D_BUFFERS:
            for stat in ("running_mean", "running_var"):
                out[p + f"after.{bn}.{stat}"] = sd[f"{bn}.{stat}"].clone()
    model.eval()
    with torch.no_grad():
        out["r3d.eval.logits"] = model(first_x)
    return out


def effnet_fixture():
    torch.manual_seed(0)
    net = torchvision.models.efficientnet_b0(weights=None)
    net.classifier = nn.Identity()
    effnet_fx.load_formula(net)
    trunk = net.features[:7]
    trunk.train()
    gen = torch.Generator().manual_seed(20251204)
    out = {}
    for step in (1, 2):
        x = torch.randn(2, 2, 3, 32, 32, generator=gen)
        out[f"effnet.input{step}"] = x
        with torch.no_grad():
            trunk(x.view(4, 3, 32, 32))
        for name, v in net.state_dict().items():
            stage = name.split(".")[1] if name.startswith("features.") else None
            if stage in ("0", "1", "2") and "running_" in name:
                out[f"effnet.after{step}.{name}"] = v.clone()
    return out


def main():
    tensors = {}
    tensors.update(r3d_fixture())
    tensors.update(effnet_fixture())
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    save_file(tensors, OUT)
    os.chmod(OUT, 0o644)
    print(f"{os.path.normpath(OUT)}: {len(tensors)} tensors, {os.path.getsize(OUT)} bytes")
    for k in ("r3d.step1.loss", "r3d.step2.loss"):
        print(k, float(tensors[k]))


if __name__ == "__main__":
    main()
