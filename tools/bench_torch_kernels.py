#!/usr/bin/env python3
"""PyTorch's side of `vidcompare bench kernels`: the same workloads timed the same way, so the
two JSON files give our / torch ratios per workload on one device.

Workloads (names as `vidcompare bench kernels` writes them, path "torch"):
- the depthwise convolution (F.conv2d with groups = channels, no bias) at four EfficientNet-B0
  layer sizes on a video's frames, forward and forward + backward (sum of the output);
- torchvision's EfficientNet-B0 `features[i]` one stage at a time and whole, evaluation mode,
  no_grad, on a video's frames;
- torchvision's R3D-18 trunk (stem..layer3) and layer4 + average pooling, evaluation mode,
  no_grad, on a video's clips; the whole of both;
- one of R3D-18's layer1 convolutions (F.conv3d, 64 -> 64 channels, 3x3x3, half the side; timed
  twice, beside our training-path and inference-path convolutions) and a matrix product of the
  same size.

Timing as ours: one untimed warm-up run, then `--reps` runs, torch.cuda.synchronize() before each
clock read; median and minimum milliseconds. Random initialisation (no weight download).
PyTorch's defaults are kept: cuDNN with TF32 convolutions on Ampere and newer
(torch.backends.cudnn.allow_tf32), float32 matrix products; `--no-tf32` turns cuDNN's TF32 off.

    python3 tools/bench_torch_kernels.py --device cuda|cpu --out FILE.json \
        [--reps 5] [--size 224] [--frames 32] [--clips 2] [--clip-len 16] [--threads N] \
        [--ours OURS.json] [--only TEXT]...

--only TEXT times only the workloads whose name contains TEXT, as `vidcompare bench kernels
--only` does (`tools/alternate_kernels.py` alternates the two sides on a few workloads).

With --ours (the JSON of `vidcompare bench kernels --json`), the output adds, per workload timed
on both sides, ours / torch of the median.
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

DEPTHWISE_CASES = [
    ("stage 2 entry", 96, 112, 3, 2),
    ("stage 3 entry", 144, 56, 5, 2),
    ("stage 5", 672, 14, 5, 1),
    ("stage 6", 1152, 7, 5, 1),
]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_ms(device, reps, f):
    f()
    sync(device)
    ms = []
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        y = f()
        sync(device)
        ms.append((time.perf_counter() - t) * 1e3)
        del y
    ms.sort()
    return statistics.median(ms), ms[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--clip-len", type=int, default=16)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--no-tf32", action="store_true")
    ap.add_argument("--ours")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="time only the workloads whose name contains TEXT (repeatable)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.no_tf32:
        torch.backends.cudnn.allow_tf32 = False
    device = torch.device(a.device)
    torch.manual_seed(42)
    timings = []

    seen = []

    def timed(name, run):
        """Times the workload `name` (run() gives median and minimum ms) unless --only leaves
        it out."""
        if name not in seen:
            seen.append(name)
        if a.only and not any(p in name for p in a.only):
            return
        t = run()
        timings.append({"name": name, "path": "torch", "median_ms": t[0], "min_ms": t[1],
                        "reps": a.reps})

    for stage, c, side, k, s in DEPTHWISE_CASES:
        side = side * a.size // 224
        if side == 0:
            continue
        p = k // 2
        name = f"depthwise {stage}: {a.frames} x {c} ch, {side} px, k{k} s{s}"
        x = torch.rand(a.frames, c, side, side, device=device) * 2 - 1
        w = torch.rand(c, 1, k, k, device=device) * 2 - 1
        with torch.no_grad():
            timed(f"{name}, forward",
                 lambda: time_ms(device, a.reps, lambda: F.conv2d(x, w, stride=s, padding=p, groups=c)))
        xg = x.clone().requires_grad_(True)
        wg = w.clone().requires_grad_(True)

        def fwd_bwd():
            y = F.conv2d(xg, wg, stride=s, padding=p, groups=c)
            gx, gw = torch.autograd.grad(y.sum(), (xg, wg))
            return gw

        timed(f"{name}, forward + backward", lambda: time_ms(device, a.reps, fwd_bwd))

    net = torchvision.models.efficientnet_b0(weights=None).features.to(device).eval()
    frames = torch.rand(a.frames, 3, a.size, a.size, device=device) * 2 - 1
    tag = f"{a.frames} x {a.size} px"
    with torch.no_grad():
        x = frames
        for i, stage in enumerate(net):
            inp = x
            timed(f"EfficientNet-B0 features[{i}], {tag}", lambda: time_ms(device, a.reps, lambda: stage(inp)))
            x = stage(inp)
        timed(f"EfficientNet-B0 whole, {tag}", lambda: time_ms(device, a.reps, lambda: net(frames)))

    r3d = torchvision.models.video.r3d_18(weights=None).to(device).eval()
    clips = torch.rand(a.clips, 3, a.clip_len, a.size, a.size, device=device) * 2 - 1
    clip_tag = f"{a.clips} x {a.clip_len} frames x {a.size} px"

    def trunk(v):
        v = r3d.stem(v)
        return r3d.layer3(r3d.layer2(r3d.layer1(v)))

    with torch.no_grad():
        t = trunk(clips)
        timed(f"R3D-18 trunk (stem..layer3), {clip_tag}", lambda: time_ms(device, a.reps, lambda: trunk(clips)))
        timed(f"R3D-18 layer4 + pool, {clip_tag}",
             lambda: time_ms(device, a.reps, lambda: r3d.avgpool(r3d.layer4(t)).flatten(1)))
        timed(f"R3D-18 whole, {clip_tag}",
             lambda: time_ms(device, a.reps, lambda: r3d.avgpool(r3d.layer4(trunk(clips))).flatten(1)))

    # One of R3D-18's layer1 convolutions, as `vidcompare bench kernels` times it (with cuDNN),
    # and a matrix product of the same size.
    side = max(a.size // 2, 3)
    n, t, c = a.clips, a.clip_len, 64
    conv_tag = f"{n} x {t} frames x {side} px, 64 -> 64 ch, 3x3x3"
    x = torch.rand(n, c, t, side, side, device=device) * 2 - 1
    w = (torch.rand(c, c, 3, 3, 3, device=device) * 2 - 1) * 0.05
    cols = torch.rand(n * t * side * side, c * 27, device=device) * 2 - 1
    w_mat = w.reshape(c, c * 27).t()
    with torch.no_grad():
        timed(f"conv3d channels-last, {conv_tag}",
             lambda: time_ms(device, a.reps, lambda: F.conv3d(x, w, padding=1)))
        # The same convolution under the name of ours at inference (torch has one path).
        timed(f"conv3d channels-last, inference, {conv_tag}",
             lambda: time_ms(device, a.reps, lambda: F.conv3d(x, w, padding=1)))
        timed(f"matrix product of the same size, {conv_tag}",
             lambda: time_ms(device, a.reps, lambda: cols @ w_mat))

    for p in a.only:
        if not any(p in name for name in seen):
            sys.exit(f"bench_torch_kernels: --only {p!r}: no workload's name contains it; "
                     "the workloads are:\n  " + "\n  ".join(seen))

    result = {
        "framework": f"torch {torch.__version__}",
        "torchvision": torchvision.__version__,
        "device": a.device,
        "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "cudnn_tf32": bool(torch.backends.cudnn.allow_tf32) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "timings": timings,
    }
    if a.ours:
        ours = json.load(open(a.ours))
        ratios = []
        for t in timings:
            for o in ours.get("timings", []):
                # our "<name>, TF32" rows are compared with torch's same-named row too
                base = o["name"][:-len(", TF32")] if o["name"].endswith(", TF32") else o["name"]
                if base == t["name"]:
                    ratios.append({"name": o["name"], "path": o["path"],
                                   "ours_ms": o["median_ms"], "torch_ms": t["median_ms"],
                                   "ours_over_torch": o["median_ms"] / t["median_ms"]})
        result["ratios"] = ratios
    json.dump(result, open(a.out, "w"), indent=2)
    for r in result.get("ratios", []):
        print(f"{r['name']:<66} {r['path']:<8} {r['ours_ms']:>9.3f} {r['torch_ms']:>9.3f} "
              f"{r['ours_over_torch']:>7.2f}x")


if __name__ == "__main__":
    main()
