#!/usr/bin/env python3
"""Parity fixtures for src/deep/efficientnet.rs and src/deep/temporal.rs (tests/deep_effnet.rs).

torchvision's efficientnet_b0 and the notebook's EfficientNetTemporal (In[11]) are the reference.
Everything runs on the CPU in float32 from fixed seeds. Writes, under tests/fixtures/deep/:

  effnet_mbconv.safetensors     three MBConv blocks (seeded weights, randomised BN running stats):
                                a: expand 6, k5, stride 2, 16 -> 24, eval
                                b: expand 6, k5, stride 1, 24 -> 24 (residual), eval
                                c: expand 6, k3, stride 1, 24 -> 24 in train mode (stochastic depth p = 0):
                                   output, the BN running stats after one step, and the
                                   gradients of sum(output * g) for the input and every parameter
  effnet_depthwise.safetensors  depthwise conv (torch conv2d with groups = C), k3 s1 and k5 s2,
                                with d sum(out * g) / dx and / dw
  effnet_temporal.safetensors   temporal pooling avg / max / attn + head (eval) on random
                                (B=2, T=5, D=1280) features; head weights from the closed formula
  effnet_full.safetensors       efficientnet_b0 features[0..7], features[0..9] + pool on a
                                (2, 3, 64, 64) batch, and EfficientNetTemporal logits (B=1, T=2)
                                for every pooling; all weights from the closed formula
  effnet_keys.json              the notebook module's state_dict keys and shapes per pooling
                                (num_batches_tracked left out)

The closed formula (too many parameters to commit; tests/deep_effnet.rs implements it too):
names are sorted (byte order), tensor t of that list gets, for flat index i, a uniform number
s in [-1, 1) from an integer hash (exact in uint64 arithmetic on both sides, unlike sin; a plain
sinusoid in i would also make every weight matrix rank 2 and the network blind to its input):
  h = (i + 1) * 0x9E3779B97F4A7C15 + (t + 1) * 0xD1B54A32D192ED03      (mod 2^64)
  h ^= h >> 32;  h *= 0x94D049BB133111EB;  h ^= h >> 29
  s = (h >> 40) / 2^23 - 1        (exact in float64, then cast to float32)
and by kind of tensor:
  running_var: 1 + 0.5 * s * s     running_mean, BN/LN bias, conv/linear bias: 0.1 * s
  BN/LN weight: 1 + 0.2 * s        conv/linear weight (rank >= 2): s * sqrt(8 / fan_in)
(gain 8 keeps the random network between vanishing and exploding, so the output depends on the input)

Run:   python3 tools/fixtures_deep_effnet.py            (writes the fixtures)
       python3 tools/fixtures_deep_effnet.py --bench [--threads N]   (times torch, default 2
       threads, writes nothing; compare with the ignored timing test of tests/deep_effnet.rs)
"""

import json
import math
import os
import sys
import time
from functools import partial

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn
from torchvision.models.efficientnet import MBConv, MBConvConfig

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "deep")


# --- the notebook's model (In[11]), without the pretrained download -------------------------

class TemporalAttentionPool(nn.Module):
    def __init__(self, feat_dim):
        super().__init__()
        self.fc1 = nn.Linear(feat_dim, feat_dim // 2)
        self.fc2 = nn.Linear(feat_dim // 2, 1)

    def forward(self, feats):
        h = torch.tanh(self.fc1(feats))
        scores = self.fc2(h).squeeze(-1)
        attn = torch.softmax(scores, dim=1)
        pooled = torch.sum(feats * attn.unsqueeze(-1), dim=1)
        return pooled, attn


class EfficientNetTemporal(nn.Module):
    def __init__(self, num_classes, pooling="avg", dropout=0.3, fine_tune_last_n=2):
        super().__init__()
        self.backbone = torchvision.models.efficientnet_b0(weights=None)
        self.backbone.classifier = nn.Identity()
        self.feat_dim = 1280
        self.pooling = pooling
        if pooling == "attn":
            self.attn_pool = TemporalAttentionPool(self.feat_dim)
        self.ln = nn.LayerNorm(self.feat_dim)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feat_dim, num_classes)
        for p in self.backbone.parameters():
            p.requires_grad = False
        for block in list(self.backbone.features.children())[-fine_tune_last_n:]:
            for p in block.parameters():
                p.requires_grad = True

    def head(self, feats):
        if self.pooling == "avg":
            pooled = feats.mean(dim=1)
            attn = None
        elif self.pooling == "max":
            pooled = feats.max(dim=1).values
            attn = None
        else:
            pooled, attn = self.attn_pool(feats)
        logits = self.fc(self.drop(self.ln(pooled)))
        return logits, attn, pooled

    def forward(self, x):
        b, t, c, h, w = x.shape
        feats = self.backbone(x.view(b * t, c, h, w)).view(b, t, -1)
        logits, attn, _ = self.head(feats)
        return logits, attn


# --- helpers ------------------------------------------------------------------------------------

def hash_uniform(n, t):
    """n numbers in [-1, 1) for tensor number t (the closed formula's integer hash)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        h = i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(t + 1) * np.uint64(0xD1B54A32D192ED03)
        h ^= h >> np.uint64(32)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
    return (h >> np.uint64(40)).astype(np.float64) / float(1 << 23) - 1.0


def formula_state(named_shapes):
    """The closed-form weights (see the module doc) for [(name, shape)]."""
    names = sorted(n for n, _ in named_shapes)
    shapes = dict(named_shapes)
    out = {}
    for t, name in enumerate(names):
        shape = shapes[name]
        n = int(np.prod(shape)) if len(shape) else 1
        s = hash_uniform(n, t)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            v = 1.0 + 0.5 * s * s
        elif leaf in ("running_mean", "bias"):
            v = 0.1 * s
        elif leaf == "weight" and len(shape) == 1:
            v = 1.0 + 0.2 * s
        elif leaf == "weight":
            fan_in = int(np.prod(shape[1:]))
            v = s * math.sqrt(8.0 / fan_in)
        else:
            raise ValueError(f"no formula for {name}")
        out[name] = torch.from_numpy(v.astype(np.float32).reshape(shape))
    return out


def param_shapes(module):
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()
            if not k.endswith("num_batches_tracked")]


def load_formula(module):
    state = formula_state(param_shapes(module))
    missing, unexpected = module.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)


def randomise(module, gen):
    """Seeded weights: conv weights ~ N(0, 1/fan_in), BN affine and running stats perturbed."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))


def prefixed(prefix, state):
    return {f"{prefix}.{k}": v.detach().clone().contiguous() for k, v in state.items()
            if not k.endswith("num_batches_tracked")}


def block(expand, kernel, stride, cin, cout, sd_prob):
    cnf = MBConvConfig(expand, kernel, stride, cin, cout, 1)
    return MBConv(cnf, sd_prob, nn.BatchNorm2d)


# --- fixtures -----------------------------------------------------------------------------------

def mbconv_fixture(gen):
    out = {}
    # a: stride 2, odd input size, no residual
    a = block(6, 5, 2, 16, 24, 0.0)
    randomise(a, gen)
    a.eval()
    xa = torch.randn(2, 16, 11, 11, generator=gen)
    out.update(prefixed("a", a.state_dict()))
    out["a.input"] = xa
    with torch.no_grad():
        out["a.output"] = a(xa)
    # b: stride 1, residual (stochastic depth is the identity in eval)
    b = block(6, 5, 1, 24, 24, 0.2)
    randomise(b, gen)
    b.eval()
    xb = torch.randn(2, 24, 9, 9, generator=gen)
    out.update(prefixed("b", b.state_dict()))
    out["b.input"] = xb
    with torch.no_grad():
        out["b.output"] = b(xb)
    # c: residual block in train mode, stochastic depth p = 0: batch statistics, running stats move
    c = block(6, 3, 1, 24, 24, 0.0)
    randomise(c, gen)
    c.train()
    xc = torch.randn(3, 24, 8, 8, generator=gen)
    out.update(prefixed("c", c.state_dict()))
    out["c.input"] = xc
    xc = xc.clone().requires_grad_(True)
    yc = c(xc)
    gc = torch.randn(yc.shape, generator=gen)
    (yc * gc).sum().backward()
    out["c.output"] = yc.detach()
    out["c.g"] = gc
    out["c.grad.input"] = xc.grad
    for k, p in c.named_parameters():
        out[f"c.grad.{k}"] = p.grad
    for k, v in c.state_dict().items():
        if "running_" in k:
            out[f"c.after.{k}"] = v.clone()
    return out


def depthwise_fixture(gen):
    out = {}
    for tag, (c, h, k, s) in {"k3s1": (6, 10, 3, 1), "k5s2": (8, 11, 5, 2)}.items():
        x = torch.randn(2, c, h, h + 1, generator=gen, requires_grad=True)
        w = torch.randn(c, 1, k, k, generator=gen, requires_grad=True)
        y = nn.functional.conv2d(x, w, stride=s, padding=(k - 1) // 2, groups=c)
        g = torch.randn(y.shape, generator=gen)
        (y * g).sum().backward()
        out.update({f"{tag}.x": x.detach(), f"{tag}.w": w.detach(), f"{tag}.y": y.detach(),
                    f"{tag}.g": g, f"{tag}.dx": x.grad, f"{tag}.dw": w.grad})
    return out


def temporal_fixture(gen, n_classes=7):
    out = {}
    feats = torch.randn(2, 5, 1280, generator=gen)
    out["feats"] = feats
    for pooling in ("avg", "max", "attn"):
        m = EfficientNetTemporal(n_classes, pooling)
        head_shapes = [(k, s) for k, s in param_shapes(m) if not k.startswith("backbone.")]
        m.load_state_dict(formula_state(head_shapes), strict=False)
        m.eval()
        with torch.no_grad():
            logits, attn, pooled = m.head(feats)
        out[f"{pooling}.pooled"] = pooled
        out[f"{pooling}.logits"] = logits
        if attn is not None:
            out[f"{pooling}.attn"] = attn
    return out


def full_fixture(gen, n_classes=7):
    out = {}
    x = torch.randn(2, 3, 64, 64, generator=gen)
    out["input"] = x
    net = torchvision.models.efficientnet_b0(weights=None)
    net.classifier = nn.Identity()
    load_formula(net)
    net.eval()
    with torch.no_grad():
        trunk = net.features[:7](x)
        feats = net.features[7:](trunk)
        out["trunk"] = trunk
        out["features"] = feats
        out["pooled"] = torch.flatten(net.avgpool(feats), 1)
        assert torch.allclose(out["pooled"], net(x))
    keys = {}
    for pooling in ("avg", "max", "attn"):
        m = EfficientNetTemporal(n_classes, pooling)
        keys[pooling] = [[k, list(s)] for k, s in param_shapes(m)]
        load_formula(m)
        m.eval()
        with torch.no_grad():
            logits, attn = m(x.unsqueeze(0))
        out[f"{pooling}.logits"] = logits
        if attn is not None:
            out[f"{pooling}.attn"] = attn
    trainable = [k for k, p in EfficientNetTemporal(n_classes, "attn").named_parameters()
                 if p.requires_grad]
    return out, {"num_classes": n_classes, "keys": keys, "trainable_attn": trainable}


def time_ms(reps, f):
    """Fastest wall time of reps runs of f and the mean process CPU time per run, in ms."""
    best = float("inf")
    cpu0 = time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3, (time.process_time() - cpu0) / reps * 1e3


def bench(threads):
    """torch timings for the report: features[0..7] eval, tail forward + backward, 8 frames."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = EfficientNetTemporal(10, "attn")
    reps = 8
    for size in (112, 224):
        x = torch.randn(8, 3, size, size)
        m.eval()
        with torch.no_grad():
            trunk = m.backbone.features[:7](x)
            t_trunk = time_ms(reps, lambda: m.backbone.features[:7](x))
        m.train()
        m.backbone.features[:7].eval()
        y = torch.tensor([3])

        def forward():
            feats = m.backbone.avgpool(m.backbone.features[7:](trunk)).flatten(1).view(1, 8, -1)
            logits, _, _ = m.head(feats)
            return nn.functional.cross_entropy(logits, y)

        def step():
            m.zero_grad()
            forward().backward()

        step()
        t_fwd = time_ms(reps, forward)
        t_tail = time_ms(reps, step)
        print(f"torch {size}x{size} 8 frames, {threads} threads (best wall / mean CPU ms): "
              f"features[0..7] eval {t_trunk[0]:.1f} / {t_trunk[1]:.0f}, "
              f"tail fwd+bwd {t_tail[0]:.1f} / {t_tail[1]:.0f} "
              f"(forward alone {t_fwd[0]:.1f} / {t_fwd[1]:.0f})")


def main():
    if "--bench" in sys.argv:
        threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
        bench(threads)
        return
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240611)
    save_file(mbconv_fixture(gen), os.path.join(OUT, "effnet_mbconv.safetensors"))
    save_file(depthwise_fixture(gen), os.path.join(OUT, "effnet_depthwise.safetensors"))
    save_file(temporal_fixture(gen), os.path.join(OUT, "effnet_temporal.safetensors"))
    tensors, keys = full_fixture(gen)
    save_file(tensors, os.path.join(OUT, "effnet_full.safetensors"))
    with open(os.path.join(OUT, "effnet_keys.json"), "w") as f:
        json.dump(keys, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        if name.startswith("effnet_"):
            print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
