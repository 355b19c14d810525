#!/usr/bin/env python3
"""Fixtures for tests/deep_r3d.rs: 3D convolution and torchvision's R3D-18 computed by torch.

Run from the repository root:  python3 tools/fixtures_deep_r3d.py
(`--bench` instead times torch's CPU R3D-18 on the shapes of the ignored timing test in
tests/deep_r3d.rs, with 2 threads, and writes nothing.)
Needs torch, torchvision, numpy and safetensors (`pip install safetensors`). CPU, float32,
seeded: the output is deterministic. Writes under tests/fixtures/deep/:

  r3d_conv3d.safetensors   F.conv3d cases: input, weight, bias, stride, padding, output, and the
                           gradients of sum(out * g) for a fixed random g w.r.t. x, w and b.
  r3d_block.safetensors    a BasicBlock(8 -> 16, stride 2, with downsample): seeded weights, batch
                           norms with non-trivial running statistics; eval output, train output
                           (batch statistics), running statistics after the train step, and the
                           train-mode gradients of sum(out * g) w.r.t. the input and every parameter.
  r3d_model.safetensors    the whole r3d_18 with the notebook's head (LayerNorm, Dropout, Linear)
                           on two clips: trunk (layer3) output, 512-d embedding and logits in eval
                           mode, plus a training step of the cached path (trunk in eval mode,
                           layer4 batch norms in train mode, head without dropout) with the
                           cross-entropy gradients of some layer4/head parameters.
  r3d_state_dict_keys.txt  torchvision's r3d_18 state_dict keys with shapes (num_batches_tracked
                           left out), one "name d0,d1,..." per line.

The whole model has 33M parameters (130 MB), too big to commit. So its weights and inputs are
not stored: both sides build them from the closed-form formula `closed_form` below (an integer
hash of the element index and the tensor's position in the sorted key list, mapped to [-1, 1)
and scaled per kind of tensor), implemented again in tests/deep_r3d.rs. Integer arithmetic and
exact scalings make the float32 values bit-identical on both sides.
"""

import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from torchvision.models.video import resnet as video_resnet

OUT_DIR = os.path.join("tests", "fixtures", "deep")
NUM_CLASSES = 5

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

MASK64 = (1 << 64) - 1


def unit_values(tensor_index: int, count: int) -> np.ndarray:
    """Element i of tensor j: a splitmix64-style hash of (i, j) mapped to [-1, 1) (24 bits)."""
    i = np.arange(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        seed = np.full(count, (tensor_index + 1) * 0xBF58476D1CE4E5B9 & MASK64, dtype=np.uint64)
        z = (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15) + seed
        z ^= z >> np.uint64(31)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(29)
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return 2.0 * u - 1.0


def closed_form(name: str, shape, tensor_index: int) -> torch.Tensor:
    """The deterministic value of a named parameter/buffer (see the module docstring)."""
    count = int(np.prod(shape)) if len(shape) else 1
    v = unit_values(tensor_index, count)
    if name.endswith("running_var"):
        x = 1.0 + 0.5 * v
    elif name.endswith("running_mean") or name.endswith("bias"):
        x = 0.1 * v
    elif len(shape) == 1:  # batch-norm / layer-norm weight
        x = 1.0 + 0.2 * v
    else:  # conv or linear weight: uniform with variance 2 / fan_in (He)
        fan_in = int(np.prod(shape[1:]))
        x = v * np.sqrt(6.0 / fan_in)
    return torch.from_numpy(x.astype(np.float32)).reshape(tuple(shape))


# Inputs of the whole-model cases use tensor indices from this offset on.
INPUT_INDEX_BASE = 100_000


def closed_form_input(case: int, shape) -> torch.Tensor:
    v = unit_values(INPUT_INDEX_BASE + case, int(np.prod(shape)))
    return torch.from_numpy(v.astype(np.float32)).reshape(tuple(shape))


def conv3d_cases():
    """(x shape, w shape, stride, padding, bias)"""
    return [
        ((2, 3, 5, 9, 8), (4, 3, 3, 3, 3), (1, 1, 1), (1, 1, 1), True),
        # the stem's kernel/stride/padding; H and W leave different remainders under stride 2
        ((1, 3, 4, 13, 12), (5, 3, 3, 7, 7), (1, 2, 2), (1, 3, 3), False),
        # Conv3DSimple with stride 2; both spatial remainders 1
        ((2, 4, 6, 10, 8), (6, 4, 3, 3, 3), (2, 2, 2), (1, 1, 1), False),
        # the downsample: 1x1x1, stride 2, odd sizes
        ((2, 4, 5, 7, 9), (3, 4, 1, 1, 1), (2, 2, 2), (0, 0, 0), False),
        # 1x1x1 stride 1 with bias
        ((1, 5, 3, 4, 6), (2, 5, 1, 1, 1), (1, 1, 1), (0, 0, 0), True),
        # anisotropic kernel, stride and padding
        ((1, 2, 7, 11, 9), (3, 2, 2, 3, 5), (3, 1, 2), (0, 2, 1), True),
        # no padding, kernel covering all of T
        ((2, 3, 3, 6, 7), (2, 3, 3, 2, 2), (1, 1, 1), (0, 0, 0), False),
        # R3D-18's layer4 at 8 frames: one frame, so the first and last temporal taps read only
        # padding (their weight gradients are zero)
        ((2, 6, 1, 5, 4), (5, 6, 3, 3, 3), (1, 1, 1), (1, 1, 1), True),
        # its first convolution: two frames, stride 2; the first temporal tap reads only padding
        ((2, 4, 2, 6, 5), (3, 4, 3, 3, 3), (2, 2, 2), (1, 1, 1), False),
        # one row and one column, padding 2 along W: dead taps on both spatial axes
        ((1, 3, 4, 1, 2), (2, 3, 3, 3, 5), (1, 1, 1), (1, 1, 2), False),
    ]


def make_conv3d():
    torch.manual_seed(1)
    out = {}
    for i, (xs, ws, stride, padding, has_bias) in enumerate(conv3d_cases()):
        x = torch.randn(xs, requires_grad=True)
        w = (torch.randn(ws) / np.sqrt(np.prod(ws[1:]))).requires_grad_(True)
        b = (0.1 * torch.randn(ws[0])).requires_grad_(True) if has_bias else None
        y = F.conv3d(x, w, b, stride=stride, padding=padding)
        g = torch.randn(y.shape)
        (y * g).sum().backward()
        p = f"case{i}."
        out[p + "x"] = x.detach()
        out[p + "w"] = w.detach()
        out[p + "stride"] = torch.tensor(stride, dtype=torch.int64)
        out[p + "padding"] = torch.tensor(padding, dtype=torch.int64)
        out[p + "y"] = y.detach()
        out[p + "g"] = g
        out[p + "dx"] = x.grad
        out[p + "dw"] = w.grad
        if b is not None:
            out[p + "b"] = b.detach()
            out[p + "db"] = b.grad
    return out


def randomise_batch_norms(module: nn.Module):
    """Non-trivial affine parameters and running statistics for every BatchNorm3d."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.weight.copy_(0.5 + torch.rand(m.num_features))
                m.bias.copy_(0.2 * torch.randn(m.num_features))
                m.running_mean.copy_(0.2 * torch.randn(m.num_features))
                m.running_var.copy_(0.5 + torch.rand(m.num_features))


def make_block():
    torch.manual_seed(2)
    inplanes, planes, stride = 8, 16, 2
    downsample = nn.Sequential(
        nn.Conv3d(inplanes, planes, kernel_size=1, stride=(stride,) * 3, bias=False),
        nn.BatchNorm3d(planes),
    )
    block = video_resnet.BasicBlock(
        inplanes, planes, video_resnet.Conv3DSimple, stride, downsample
    )
    randomise_batch_norms(block)
    out = {}
    for k, v in block.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            out["param." + k] = v.detach().clone()
    x = torch.randn(2, inplanes, 5, 9, 10)
    out["x"] = x
    block.eval()
    with torch.no_grad():
        out["y_eval"] = block(x)
    block.train()
    xg = x.clone().requires_grad_(True)
    y = block(xg)
    g = torch.randn(y.shape)
    (y * g).sum().backward()
    out["y_train"] = y.detach()
    out["g"] = g
    out["train.dx"] = xg.grad
    for k, p in block.named_parameters():
        out["train.grad." + k] = p.grad
    for k, v in block.state_dict().items():
        if "running" in k:
            out["after_train." + k] = v.detach().clone()
    return out


def build_model():
    model = torchvision.models.video.r3d_18(weights=None)
    model.fc = nn.Sequential(nn.LayerNorm(512), nn.Dropout(0.3), nn.Linear(512, NUM_CLASSES))
    keys = sorted(k for k in model.state_dict() if not k.endswith("num_batches_tracked"))
    state = {k: closed_form(k, tuple(model.state_dict()[k].shape), j) for j, k in enumerate(keys)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    assert not unexpected, unexpected
    return model, keys


def trunk(model, x):
    x = model.stem(x)
    x = model.layer1(x)
    x = model.layer2(x)
    return model.layer3(x)


def embedding(model, t):
    return model.avgpool(model.layer4(t)).flatten(1)


# (name, input shape, trunk channels stored (None: all), labels for a training step or None)
MODEL_CASES = [
    ("a", (1, 3, 8, 112, 112), 64, None),
    ("b", (2, 3, 5, 36, 44), None, [0, 4]),
]

# Gradients stored for the training step (the first output rows of the big ones).
GRAD_PARAMS = [
    ("layer4.0.conv1.0.weight", 1),
    ("layer4.0.downsample.0.weight", 2),
    ("layer4.1.conv2.0.weight", 1),
    ("layer4.1.conv2.1.weight", None),
    ("layer4.0.conv1.1.bias", None),
    ("fc.0.weight", None),
    ("fc.0.bias", None),
    ("fc.2.weight", None),
    ("fc.2.bias", None),
]


def make_model():
    model, keys = build_model()
    out = {}
    for ci, (name, shape, trunk_channels, labels) in enumerate(MODEL_CASES):
        x = closed_form_input(ci, shape)
        model.eval()
        with torch.no_grad():
            t = trunk(model, x)
            e = embedding(model, t)
            logits = model.fc(e)
            assert torch.allclose(logits, model(x), atol=1e-5)
        out[f"{name}.trunk"] = t if trunk_channels is None else t[:, :trunk_channels].clone()
        out[f"{name}.embedding"] = e
        out[f"{name}.logits"] = logits
        if labels is None:
            continue
        # Training step of the cached path: the trunk stays in eval mode, layer4's batch norms
        # use batch statistics, the head runs without dropout (its masks are ours, not torch's).
        train_model = copy.deepcopy(model)
        train_model.zero_grad()
        train_model.layer4.train()
        e = embedding(train_model, t)
        logits = train_model.fc[2](train_model.fc[0](e))
        loss = F.cross_entropy(logits, torch.tensor(labels))
        loss.backward()
        out[f"{name}.train.labels"] = torch.tensor(labels, dtype=torch.int64)
        out[f"{name}.train.logits"] = logits.detach()
        out[f"{name}.train.loss"] = loss.detach().reshape(1)
        params = dict(train_model.named_parameters())
        for pname, rows in GRAD_PARAMS:
            grad = params[pname].grad
            out[f"{name}.train.grad.{pname}"] = grad if rows is None else grad[:rows].clone()
        sd = train_model.state_dict()
        out[f"{name}.train.after.layer4.1.conv2.1.running_var"] = sd[
            "layer4.1.conv2.1.running_var"
        ].clone()
    shapes = {k: tuple(model.state_dict()[k].shape) for k in keys}
    return out, keys, shapes


def bench():
    """torch CPU timing of the cached-path halves, as `r3d18_cpu_timing` in tests/deep_r3d.rs
    (the best of 5 runs each)."""
    import time

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    model, _ = build_model()
    labels = torch.tensor([1])

    def best_of(reps, f):
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return min(times)

    for t in (8, 16):
        x = closed_form_input(0, (1, 3, t, 112, 112))
        model.eval()
        with torch.no_grad():
            tr = trunk(model, x)
            trunk_s = best_of(5, lambda: trunk(model, x))

        def step():
            model.zero_grad()
            model.layer4.train()
            model.fc.train()
            loss = F.cross_entropy(model.fc(embedding(model, tr)), labels)
            loss.backward()

        step()
        train_s = best_of(5, step)
        print(
            f"torch 3x{t}x112x112: trunk {trunk_s:.3f} s, "
            f"embedding+head+backward {train_s:.3f} s"
        )


def main():
    if "--bench" in sys.argv[1:]:
        bench()
        return
    os.makedirs(OUT_DIR, exist_ok=True)

    def save(tensors, file_name):
        tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
        path = os.path.join(OUT_DIR, file_name)
        save_file(tensors, path)
        print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")

    save(make_conv3d(), "r3d_conv3d.safetensors")
    save(make_block(), "r3d_block.safetensors")
    model_out, keys, shapes = make_model()
    save(model_out, "r3d_model.safetensors")
    path = os.path.join(OUT_DIR, "r3d_state_dict_keys.txt")
    with open(path, "w") as f:
        for k in keys:
            f.write(f"{k} {','.join(str(d) for d in shapes[k])}\n")
    print(f"{path}: {len(keys)} keys")
    for name, _, _, _ in MODEL_CASES:
        for part in ("trunk", "embedding", "logits"):
            t = model_out[f"{name}.{part}"]
            print(f"case {name} {part}: shape {tuple(t.shape)}, max |x| {t.abs().max():.4g}")


if __name__ == "__main__":
    main()
