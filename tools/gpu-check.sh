#!/usr/bin/env bash
# One prepared GPU check: train and evaluate the four deep models on a GPU and write one JSON of
# per-model training time per epoch, inference time per video, memory and accuracy.
#
#   tools/gpu-check.sh [--device cuda|cpu] [--profile notebook|quick] [--bin PATH]
#                      [--data DIR] [--out DIR] [--no-torch] [--torch-timeout SECONDS]
#                      [--threads N] [--epochs N]
#
# Defaults: --device cuda --profile notebook (224 px, 32 frames, 16-frame clips, 6 epochs),
# --bin target-cuda/release/vidcompare (or target/release/vidcompare for --device cpu),
# --data data/demo/deep, --out ${OUT:-gpu-check}. `--device cpu --profile quick` is the dry run
# on a machine without a GPU: the same JSON with CPU figures.
#
# On the GPU machine (no network, no Rust): build here with tools/build-cuda.sh, carry the binary
# and the demo data (see the README's "GPU" section), run this script there. It first checks that
# every shared library the binary needs is found (the CUDA 13 libraries are looked up in the
# Python environment's nvidia wheels) and stops with the list of missing ones otherwise. With
# --device cuda, nvidia-smi samples the card's memory in use every 0.2 s during the run: the JSON
# gives the device-wide peak (the process is the only one on the card), labelled as such. Each
# model's own "GPU peak" comes from the CUDA driver (its memory pool's high-water mark, see
# src/deep/device_memory.rs); the script checks that every deep model has one and that none is
# above the card's peak in use, and exits 3 when a check fails.
# When python3 can import torch, torchvision and cv2 (and --no-torch is not given), the notebook's
# own deep code (tools/bench_notebook_deep.py) runs on the same data, device and profile after
# each of our models, on that model alone (within --torch-timeout seconds per model, default
# 300), and the JSON adds its figures and our/torch ratios per model. The models alternate
# (ours, torch's, next model) so that each ratio compares runs minutes apart: a machine's speed
# can drift by 2x over a longer run. --threads N runs both sides with N CPU threads (RAYON_NUM_THREADS for ours,
# torch.set_num_threads and cv2.setNumThreads for the notebook's): the CPU side-by-side at equal
# thread counts (benches/cpu/).
set -euo pipefail

device=cuda
profile=notebook
bin=""
data=data/demo/deep
out="${OUT:-gpu-check}"
torch=1
torch_timeout=300
threads=""
epochs=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --profile) profile="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --no-torch) torch=0; shift ;;
        --torch-timeout) torch_timeout="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --epochs) epochs="$2"; shift 2 ;;
        *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [[ -z "$bin" ]]; then
    if [[ "$device" == cpu ]]; then bin=target/release/vidcompare; else bin=target-cuda/release/vidcompare; fi
fi
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
log="$out/gpu-check.log"
: > "$log"
say() { echo "gpu-check: $*" | tee -a "$log" >&2; }

[[ -x "$bin" ]] || { say "no executable at $bin"; exit 1; }
[[ -f "$data/splits/train.txt" ]] || { say "no dataset at $data (splits/train.txt missing)"; exit 1; }

# The CUDA 13 runtime libraries of the Python environment's nvidia wheels, when present.
cu13=$(python3 -c "import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], 'cu13', 'lib'))" 2>/dev/null || true)
if [[ -n "$cu13" && -d "$cu13" ]]; then
    export LD_LIBRARY_PATH="$cu13:${LD_LIBRARY_PATH:-}"
    say "CUDA libraries from $cu13"
fi
missing=$(ldd "$bin" 2>&1 | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
if [[ -n "$missing" ]]; then
    say "the binary cannot start here: missing shared libraries: $missing"
    python3 - "$out/gpu-check.json" "$missing" <<'PY'
import json, sys
json.dump({"ok": False, "missing_libraries": sys.argv[2].split()}, open(sys.argv[1], "w"), indent=2)
PY
    exit 1
fi

gpu_name=""
sampler=""
if [[ "$device" == cuda ]]; then
    gpu_name=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)
    say "GPU: ${gpu_name:-nvidia-smi not available}"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 200 \
            > "$out/gpu-memory.csv" 2>/dev/null &
        sampler=$!
    fi
fi

# Enhancement (the notebook's non-local means on every sampled frame) is off on both sides, as
# tools/bench_notebook_deep.py turns it off: the check times the networks, and end to end is
# decoding plus the forward pass on both sides.
# Equal thread counts on both sides: rayon (ours, candle's CPU kernels included) and torch/OpenCV.
torch_threads=()
if [[ -n "$threads" ]]; then
    export RAYON_NUM_THREADS="$threads"
    torch_threads=(--threads "$threads")
    say "$threads thread(s) on both sides"
fi

# --epochs N trains N epochs on both sides instead of the profile's (the notebook profile's 6 take
# hours on a CPU); each side's per-epoch time is what the JSON compares.
epoch_args=()
torch_epochs=()
if [[ -n "$epochs" ]]; then
    epoch_args=(--set "epochs=$epochs")
    torch_epochs=(--epochs "$epochs")
    say "$epochs epoch(s) on both sides"
fi

work="$(mktemp -d)"
# The binary's built-in report templates (an empty folder): a checkout's templates/ may be newer
# than a carried binary.
mkdir -p "$work/builtin"
trap 'rm -rf "$work"; [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true' EXIT
run_torch=0
if [[ "$torch" == 1 ]] && python3 -c "import torch, torchvision, cv2" 2>/dev/null; then
    run_torch=1
fi
# One model at a time, ours then the notebook's PyTorch code on the same model, so that each
# ratio compares runs minutes apart rather than the two halves of a long run (a machine's speed
# can drift by 2x over tens of minutes). Our runs share one frame cache.
models=(avg max attn r3d)
torch_names=(Deep-2D-Avg Deep-2D-Max Deep-2D-Attn Deep-3D-R3D18)
status=0
ours_seconds=0
for i in "${!models[@]}"; do
    m="${models[$i]}"
    sed "s/deep::models()/[\"$m\"]/" "$here/gpu-check.rhai" > "$work/gpu-check-$m.rhai"
    # The script must have taken the model list: otherwise each run would train all four.
    grep -q "\[\"$m\"\]" "$work/gpu-check-$m.rhai" \
        || { echo "gpu-check: $here/gpu-check.rhai no longer loops over deep::models()" >&2; exit 2; }
    start=$(date +%s.%N)
    set +e
    "$bin" run "$work/gpu-check-$m.rhai" --quiet \
        --set "data_root_deep=$data" --set "data_root_classical=$data" \
        --set "device=$device" --set "deep_profile=$profile" --set enhance=false \
        --set "report_dir=$out/reports/$m" --set run_name=gpu-check \
        --set "cache_dir=$work/cache" "${epoch_args[@]}" --templates "$work/builtin" 2>&1 \
        | tee -a "$log"
    st=${PIPESTATUS[0]}
    set -e
    end=$(date +%s.%N)
    ours_seconds=$(python3 -c "print($ours_seconds + $end - $start)")
    say "${torch_names[$i]}: our run finished with status $st in $(python3 -c "print(round($end - $start, 1))") s"
    [[ "$st" != 0 ]] && status=$st
    if [[ "$run_torch" == 1 ]]; then
        say "${torch_names[$i]}: the notebook's PyTorch code on the same data (timeout ${torch_timeout} s)"
        timeout "$torch_timeout" python3 "$here/bench_notebook_deep.py" --data "$data" \
            --device "$device" --profile "$profile" --models "${torch_names[$i]}" \
            --out "$out/torch-notebook-$m.json" "${torch_threads[@]}" "${torch_epochs[@]}" 2>&1 \
            | tee -a "$log" || say "the PyTorch run stopped early"
    fi
done
[[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true

checks=0
python3 - "$out" "$device" "$profile" "$gpu_name" "$status" "$ours_seconds" "${models[@]}" <<'PY' || checks=$?
import json, os, sys
out, device, profile, gpu_name, status, ours_seconds = sys.argv[1:7]
model_runs = sys.argv[7:]
result = {
    "ok": status == "0",
    "device": device,
    "gpu": gpu_name or None,
    "profile": profile,
    "threads": int(os.environ["RAYON_NUM_THREADS"]) if os.environ.get("RAYON_NUM_THREADS") else None,
    "run_seconds": round(float(ours_seconds), 2),
    "models": [],
}
ours = []
for run in model_runs:
    models_path = os.path.join(out, "reports", run, "gpu-check", "models.json")
    if os.path.exists(models_path):
        ours += json.load(open(models_path))["models"]
for m in ours:
    e, d = m["efficiency"], m.get("details") or {}
    epochs = len(d.get("training_curves") or [])
    result["models"].append({
        "model": m["name"],
        "kind": m.get("kind"),
        "accuracy": m["metrics"]["accuracy"],
        "macro_f1": m["metrics"]["f1"],
        "epochs": epochs,
        "train_time_s": e["train_time_s"],
        "train_s_per_epoch": e["train_time_s"] / epochs if epochs else None,
        "forward_s_per_video": e["infer_time_s_per_video"],
        "end_to_end_s_per_video": e.get("infer_time_s_per_video_e2e"),
        # On the GPU: the model's own peak of the driver's memory pool ("GPU peak");
        # host heap or resident set otherwise, as memory_kind says.
        "memory_mb": e.get("memory_mb"),
        "memory_kind": e.get("memory_kind"),
        "host_rss_peak_mb": e.get("rss_peak_mb"),
        "params": e.get("params"),
        "device_used": d.get("device"),
    })
samples = os.path.join(out, "gpu-memory.csv")
if os.path.exists(samples):
    used = []
    for line in open(samples):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[1].isdigit():
            used.append(int(parts[1]))
    if used:
        result["gpu_memory_used_mib"] = {
            "peak": max(used),
            "idle_at_start": used[0],
            "samples": len(used),
            "what": "memory in use on the whole card (nvidia-smi, every 0.2 s) during the run; "
                    "the run was the only process on it",
        }
# The notebook's runs, one file per model, merged into one (torch-notebook.json).
t = None
for run in model_runs:
    path = os.path.join(out, f"torch-notebook-{run}.json")
    if os.path.exists(path):
        one = json.load(open(path))
        if t is None:
            t = one
        else:
            t["models"] += one.get("models", [])
if t is not None:
    json.dump(t, open(os.path.join(out, "torch-notebook.json"), "w"), indent=2)
    result["torch"] = {k: t.get(k) for k in ("framework", "torchvision", "device", "gpu", "profile")}
    ratio = lambda a, b: (a / b) if (a is not None and b) else None
    for m in result["models"]:
        tm = next((x for x in t.get("models", []) if x.get("model") == m["model"]), None)
        if tm is None:
            continue
        m["torch"] = tm
        # Ours counts validation (and computing the frozen trunk once) in its training time, so
        # torch's side is its training loop with validation, per epoch.
        loop, ep = tm.get("train_loop_with_val_s"), tm.get("epochs")
        m["torch_train_with_val_s_per_epoch"] = (loop / ep) if (loop is not None and ep) else None
        m["ours_over_torch"] = {
            "train_s_per_epoch": ratio(m["train_s_per_epoch"], m["torch_train_with_val_s_per_epoch"]),
            "forward_s_per_video": ratio(m["forward_s_per_video"], tm.get("forward_s_per_video")),
            "gpu_peak_mb": ratio(m["memory_mb"], tm.get("gpu_peak_mb"))
            if m["memory_kind"] == "GPU peak" else None,
        }
# What the GPU run must show: every deep model's memory read from the device, and no model's
# own peak above what the whole card had in use at its busiest (nvidia-smi also counts the CUDA
# context, cuBLAS's workspace and the pool's cached memory, so it can only be larger).
if device == "cuda":
    checks = []
    card = result.get("gpu_memory_used_mib")
    for m in (m for m in result["models"] if m["kind"] == "Deep"):
        checks.append({
            "check": f"{m['model']}: memory read from the GPU",
            "ok": m["memory_kind"] == "GPU peak" and (m["memory_mb"] or 0) > 0,
            "value": [m["memory_kind"], m["memory_mb"]],
        })
        if card and m["memory_kind"] == "GPU peak":
            checks.append({
                "check": f"{m['model']}: own GPU peak within the card's peak in use",
                "ok": m["memory_mb"] <= card["peak"] - card["idle_at_start"],
                "value": [m["memory_mb"], card["peak"] - card["idle_at_start"]],
            })
    result["checks"] = checks
    result["ok"] = result["ok"] and all(c["ok"] for c in checks)
json.dump(result, open(os.path.join(out, "gpu-check.json"), "w"), indent=2)
print(json.dumps(result, indent=2))
sys.exit(0 if result["ok"] else 3)
PY
# The run's own status first; a run that finished but failed a check exits 3.
[[ "$status" == 0 ]] && status=$checks
exit "$status"
