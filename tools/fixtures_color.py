#!/usr/bin/env python3
"""Reference fixtures for src/features/convert.rs and src/features/color.rs.

Writes, under tests/fixtures/features/ (all images stored in RGB channel order):

  color_<name>.png          test frames: two procedural ones (64x48, 97x73; gradients, shapes
                            and seeded noise), one with a constant blue channel, and a realistic
                            320x240 frame (see REAL_FRAME below)
  color_proc_64x48_gray.png cv2.cvtColor(bgr, COLOR_BGR2GRAY) of one frame, for diagnostics
  color_proc_64x48_hsv.png  cv2.cvtColor(bgr, COLOR_BGR2HSV), channels H, S, V   (idem)
  color_reference.json      per frame: the notebook's color_hist_rgb, color_hist_hsv,
                            color_moments and avg_color (In[6], copied verbatim below; NaN is
                            written as null), and checksums of the gray and HSV conversions of
                            every one of the 2^24 colours (see cube_checksum)

Run from the repository root (deterministic; re-running rewrites identical files):

    python3 tools/fixtures_color.py

The realistic frame is frame 9 (counting from 0) of the demo video `up-down/train_000.mp4` made by
`vidcompare demo-data`, resized to 320x240 with INTER_AREA; it is committed, so this script
only regenerates it when the file is missing and DEMO_VIDEO points at such a video.
"""
import json
import os
import warnings

import cv2
import numpy as np
from scipy.stats import skew

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "features")
REAL_FRAME = os.path.join(OUT, "color_real_320x240.png")
DEMO_VIDEO = os.environ.get("DEMO_VIDEO", "/tmp/demo_x/classical/videos/up-down/train_000.mp4")


# ---- the notebook's functions (In[6]), verbatim ----

def color_hist_rgb(frame_bgr, bins=16):
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    feats = []
    for ch in range(3):
        hist = cv2.calcHist([rgb], [ch], None, [bins], [0, 256]).flatten()
        hist = hist / (hist.sum() + 1e-9)
        feats.append(hist)
    return np.concatenate(feats).astype(np.float32)


def color_hist_hsv(frame_bgr, bins=16):
    hsv = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2HSV)
    feats = []
    for ch in range(3):
        hist = cv2.calcHist([hsv], [ch], None, [bins], [0, 256]).flatten()
        hist = hist / (hist.sum() + 1e-9)
        feats.append(hist)
    return np.concatenate(feats).astype(np.float32)


def color_moments(frame_bgr):
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    feats = []
    for ch in range(3):
        v = rgb[:, :, ch].reshape(-1)
        feats.extend([v.mean(), v.var(), skew(v)])
    return np.array(feats, dtype=np.float32)


def avg_color(frame_bgr):
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    return rgb.reshape(-1, 3).mean(axis=0).astype(np.float32)


# ---- inputs ----

def procedural(w, h, seed):
    """Gradients, a disc, a rectangle and seeded Gaussian noise, as an RGB uint8 array."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.25) ** 2
    r = np.where(disc, 230, r)
    g = np.where(disc, 40, g)
    rect = (x > w * 0.1) & (x < w * 0.35) & (y > h * 0.55) & (y < h * 0.9)
    b = np.where(rect, 20, b)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save_rgb(path, rgb):
    """Write an array whose channels are (c0, c1, c2) as a PNG whose R, G, B are c0, c1, c2."""
    if rgb.ndim == 3:
        rgb = rgb[:, :, ::-1]
    assert cv2.imwrite(path, np.ascontiguousarray(rgb)), path


def load_rgb(path):
    return cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]


def real_frame():
    if not os.path.exists(REAL_FRAME):
        cap = cv2.VideoCapture(DEMO_VIDEO)
        frame = None
        for _ in range(10):
            ok, frame = cap.read()
            assert ok, f"cannot read {DEMO_VIDEO}; run `vidcompare demo-data /tmp/demo_x` first"
        frame = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
        save_rgb(REAL_FRAME, frame[:, :, ::-1])
    return load_rgb(REAL_FRAME)


# ---- exhaustive conversion checksums ----

def cube_bgr():
    """All 2^24 colours as a 4096x4096 BGR image; pixel p = 4096 y + x has R = p >> 16,
    G = (p >> 8) & 255, B = p & 255."""
    p = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([p >> 16, (p >> 8) & 255, p & 255], axis=-1).astype(np.uint8)
    return np.ascontiguousarray(rgb.reshape(4096, 4096, 3)[:, :, ::-1])


def cube_checksum(out):
    """sum_k out[k] * ((k * 2654435761 + 12345) mod 2^32) mod 2^64 over the flattened bytes
    (row-major, channels interleaved); any single changed byte changes it."""
    flat = out.reshape(-1)
    total = np.uint64(0)
    step = 1 << 22
    for start in range(0, flat.size, step):
        k = np.arange(start, min(start + step, flat.size), dtype=np.uint64)
        wk = (k * np.uint64(2654435761) + np.uint64(12345)) & np.uint64(0xFFFFFFFF)
        total += (flat[start:start + step].astype(np.uint64) * wk).sum(dtype=np.uint64)
    return int(total)


def jsonable(a):
    return [None if np.isnan(v) else float(v) for v in np.asarray(a, dtype=np.float32)]


def main():
    # SciPy warns about the constant channel of flatblue_64x48; its NaN skew is the point.
    warnings.simplefilter("ignore", RuntimeWarning)
    os.makedirs(OUT, exist_ok=True)
    frames = {
        "proc_64x48": procedural(64, 48, 1),
        "proc_97x73": procedural(97, 73, 2),
        "real_320x240": real_frame(),
    }
    flat_b = procedural(64, 48, 3)
    flat_b[:, :, 2] = 77
    frames["flatblue_64x48"] = flat_b

    ref = {"frames": {}}
    for name, rgb in frames.items():
        path = os.path.join(OUT, f"color_{name}.png")
        if name != "real_320x240":
            save_rgb(path, rgb)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        if name == "proc_64x48":  # a sample for diagnostics; the cube checksums cover the rest
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            save_rgb(os.path.join(OUT, f"color_{name}_gray.png"), gray)
            save_rgb(os.path.join(OUT, f"color_{name}_hsv.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV))
        ref["frames"][name] = {
            "rgb_hist": jsonable(color_hist_rgb(bgr)),
            "hsv_hist": jsonable(color_hist_hsv(bgr)),
            "moments": jsonable(color_moments(bgr)),
            "avg": jsonable(avg_color(bgr)),
        }

    cube = cube_bgr()
    ref["cube_checksum"] = {
        "gray": cube_checksum(cv2.cvtColor(cube, cv2.COLOR_BGR2GRAY)),
        "hsv": cube_checksum(cv2.cvtColor(cube, cv2.COLOR_BGR2HSV)),
    }
    ref["opencv_version"] = cv2.__version__
    with open(os.path.join(OUT, "color_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
