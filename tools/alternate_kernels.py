#!/usr/bin/env python3
"""Our forward passes against PyTorch's, alternating the two sides round by round, so that a
ratio is not a measure of the machine's drift.

A CPU's speed can drift by 2x over minutes (shared hosts, frequency limits); one run of each side
minutes apart then compares two machines. Here each round runs `vidcompare bench kernels --only
...` and `tools/bench_torch_kernels.py --only ...` on the same few workloads (by default the
whole EfficientNet-B0 and the whole R3D-18 forward pass, evaluation mode, no gradients), each
in a fresh process with the same thread count, seconds apart; ours runs first in odd rounds and
torch first in even ones. Each side's figure in a round is its median over --reps timed runs
after a warm-up, as the two benches time them. The summary gives, per workload, the ratio
ours / torch of every round, their median, minimum and maximum, and each side's median over the
rounds.

    python3 tools/alternate_kernels.py --out FILE.json [--rounds 6] [--threads N]
        [--device cpu|cuda] [--bin target/release/vidcompare] [--size 112] [--frames 8]
        [--clips 1] [--clip-len 8] [--reps 5] [--only TEXT]...

The sizes default to the quick profile (112 px, 8 frames, one 8-frame clip); the notebook's are
--size 224 --frames 32 --clips 2 --clip-len 16. On a GPU (--device cuda, the binary built with
the `cuda` feature) both sides run there; torch keeps its default TF32 convolutions, and ours are
compared by name (our "..., TF32" rows are left out here: `bench kernels` prints them). --threads
sets the CPU threads of both sides either way. Needs python3 with torch and torchvision.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ONLY = ["EfficientNet-B0 whole", "R3D-18 whole"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(cmd, env=None):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit(f"alternate_kernels: {' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}")


def timings(path, want_path):
    """name -> median ms of the rows on `want_path` ("fast" for ours, "torch")."""
    with open(path) as f:
        rows = json.load(f)["timings"]
    return {r["name"]: r["median_ms"] for r in rows if r["path"] == want_path}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--bin", default="target/release/vidcompare")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--clips", type=int, default=1)
    ap.add_argument("--clip-len", type=int, default=8)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", action="append", default=[], metavar="TEXT")
    a = ap.parse_args()
    if a.rounds < 1 or a.reps < 1 or a.threads < 1:
        sys.exit("alternate_kernels: --rounds, --reps and --threads must be at least 1")
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"alternate_kernels: no executable at {a.bin}")
    only = a.only or DEFAULT_ONLY
    sizes = ["--size", str(a.size), "--frames", str(a.frames), "--clips", str(a.clips),
             "--clip-len", str(a.clip_len), "--reps", str(a.reps)]
    filters = [x for p in only for x in ("--only", p)]
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        ours_json, torch_json = os.path.join(tmp, "ours.json"), os.path.join(tmp, "torch.json")

        def ours():
            run([a.bin, "bench", "kernels", "--device", a.device, *sizes, *filters,
                 "--json", ours_json], env=env)
            return timings(ours_json, "fast")

        def torch():
            run([sys.executable, os.path.join(HERE, "bench_torch_kernels.py"), "--device", a.device,
                 "--out", torch_json, "--threads", str(a.threads), *sizes, *filters])
            return timings(torch_json, "torch")

        for r in range(a.rounds):
            if r % 2 == 0:
                o = ours()
                t = torch()
            else:
                t = torch()
                o = ours()
            rounds.append({"round": r + 1, "first": "ours" if r % 2 == 0 else "torch",
                           "ours_ms": o, "torch_ms": t})
            print(f"round {r + 1}/{a.rounds}: " + ", ".join(
                f"{n}: {o[n]:.1f} / {t[n]:.1f} ms" for n in o if n in t), flush=True)

    names = [n for n in rounds[0]["ours_ms"] if n in rounds[0]["torch_ms"]]
    summary = []
    for n in names:
        ratios = [r["ours_ms"][n] / r["torch_ms"][n] for r in rounds]
        summary.append({
            "name": n,
            "rounds": len(ratios),
            "ours_median_ms": statistics.median(r["ours_ms"][n] for r in rounds),
            "torch_median_ms": statistics.median(r["torch_ms"][n] for r in rounds),
            "ratios": ratios,
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        })
    result = {
        "device": a.device,
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": a.threads,
        "sizes": {"size": a.size, "frames": a.frames, "clips": a.clips,
                  "clip_len": a.clip_len, "reps": a.reps},
        "only": only,
        "rounds": rounds,
        "summary": summary,
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\n{'workload':<44} {'ours ms':>9} {'torch ms':>9} {'ratio':>7} {'range':>13}"
          f"  ({a.rounds} rounds, {a.threads} thread{'s' if a.threads > 1 else ''})")
    for s in summary:
        print(f"{s['name']:<44} {s['ours_median_ms']:>9.1f} {s['torch_median_ms']:>9.1f} "
              f"{s['ratio_median']:>6.2f}x {s['ratio_min']:>5.2f}-{s['ratio_max']:.2f}x")


if __name__ == "__main__":
    main()
