#!/usr/bin/env python3
"""Reference fixtures for src/video/enhance.rs (the notebook's enhance_frame).

Writes, under tests/fixtures/features/ (all images stored in RGB channel order):

  enhance_<name>.png             inputs: a noisy procedural 64x48 frame, a procedural 37x29
                                 frame (odd sizes) and a 9x7 one (smaller than the 21x21 search
                                 window, so borders fold several times); the realistic 320x240
                                 input is color_real_320x240.png from tools/fixtures_color.py
  enhance_<name>_den.png         cv2.fastNlMeansDenoisingColored(bgr, None, 5, 5, 7, 21)
  enhance_<name>_blur.png        cv2.GaussianBlur(den, (0, 0), 1.0)
  enhance_<name>_blur15.png      cv2.GaussianBlur(frame, (0, 0), 1.5)   (an 11-tap kernel)
  enhance_<name>_nlgray.png      cv2.fastNlMeansDenoising(gray, None, 12, 5, 11)
                                 (single channel, other windows)
  enhance_<name>_out.png         the notebook's enhance_frame(bgr) (In[5], verbatim below)
  enhance_reference.json         cv2.getGaussianKernel for a few sizes; checksums (the one of
                                 fixtures_color.py) of COLOR_LBGR2Lab over all 2^24 colours, of
                                 COLOR_Lab2LBGR over all 2^24 Lab byte triplets, and of the
                                 denoised and enhanced 320x240 frame (stored as checksums to keep
                                 the fixtures small)

Run from the repository root after tools/fixtures_color.py (deterministic):

    python3 tools/fixtures_enhance.py
"""
import json
import os

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "features")


def enhance_frame(frame_bgr):
    den = cv2.fastNlMeansDenoisingColored(frame_bgr, None, 5, 5, 7, 21)
    ga = cv2.GaussianBlur(den, (0, 0), 1.0)
    sharp = cv2.addWeighted(den, 1.5, ga, -0.5, 0)
    return sharp


def procedural(w, h, seed, noise):
    """Smooth gradients, a disc and a bar plus seeded Gaussian noise, RGB uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 40 + 170 * x / max(w - 1, 1)
    g = 200 - 150 * y / max(h - 1, 1)
    b = 120 + 60 * np.sin(x / 4.0 + y / 6.0)
    disc = (x - w * 0.4) ** 2 + (y - h * 0.5) ** 2 < (min(w, h) * 0.3) ** 2
    r = np.where(disc, 220, r)
    b = np.where(disc, 30, b)
    bar = (x > w * 0.7) & (x < w * 0.8)
    g = np.where(bar, 10, g)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, noise, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save_rgb(path, arr):
    """Write channels (c0, c1, c2) as the PNG's R, G, B (a grey array as grey)."""
    if arr.ndim == 3:
        arr = arr[:, :, ::-1]
    assert cv2.imwrite(path, np.ascontiguousarray(arr)), path


def load_rgb(path):
    return cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]


def cube():
    """All 2^24 byte triplets as a 4096x4096 3-channel image; pixel p = 4096 y + x holds
    (p >> 16, (p >> 8) & 255, p & 255) in channels (0, 1, 2)."""
    p = np.arange(1 << 24, dtype=np.uint32)
    t = np.stack([p >> 16, (p >> 8) & 255, p & 255], axis=-1).astype(np.uint8)
    return np.ascontiguousarray(t.reshape(4096, 4096, 3))


def cube_checksum(out):
    """Same as in fixtures_color.py."""
    flat = out.reshape(-1)
    total = np.uint64(0)
    step = 1 << 22
    for start in range(0, flat.size, step):
        k = np.arange(start, min(start + step, flat.size), dtype=np.uint64)
        wk = (k * np.uint64(2654435761) + np.uint64(12345)) & np.uint64(0xFFFFFFFF)
        total += (flat[start:start + step].astype(np.uint64) * wk).sum(dtype=np.uint64)
    return int(total)


def main():
    os.makedirs(OUT, exist_ok=True)
    small = {
        "noisy_64x48": procedural(64, 48, 11, 18),
        "odd_37x29": procedural(37, 29, 12, 8),
        "tiny_9x7": procedural(9, 7, 13, 25),
    }
    for name, rgb in small.items():
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        p = lambda suffix: os.path.join(OUT, f"enhance_{name}{suffix}.png")
        save_rgb(p(""), rgb)
        den = cv2.fastNlMeansDenoisingColored(bgr, None, 5, 5, 7, 21)
        save_rgb(p("_den"), den[:, :, ::-1])
        save_rgb(p("_blur"), cv2.GaussianBlur(den, (0, 0), 1.0)[:, :, ::-1])
        save_rgb(p("_blur15"), cv2.GaussianBlur(bgr, (0, 0), 1.5)[:, :, ::-1])
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        save_rgb(p("_nlgray"), cv2.fastNlMeansDenoising(gray, None, 12, 5, 11))
        save_rgb(p("_out"), enhance_frame(bgr)[:, :, ::-1])

    real = load_rgb(os.path.join(OUT, "color_real_320x240.png"))
    bgr = np.ascontiguousarray(real[:, :, ::-1])
    real_den = cv2.fastNlMeansDenoisingColored(bgr, None, 5, 5, 7, 21)[:, :, ::-1].copy()
    real_out = enhance_frame(bgr)[:, :, ::-1].copy()

    c = cube()
    ref = {
        "gaussian_kernels": [
            {"n": n, "sigma": s, "weights": [float(v) for v in cv2.getGaussianKernel(n, s).ravel()]}
            for n, s in [(7, 1.0), (5, 0.8), (11, 1.5), (3, 2.0)]
        ],
        "cube_checksum": {
            # Input channels (R, G, B) -> OpenCV gets BGR; output (L, a, b).
            "lrgb_to_lab": cube_checksum(cv2.cvtColor(c[:, :, ::-1].copy(), cv2.COLOR_LBGR2Lab)),
            # Input channels (L, a, b) -> OpenCV's BGR output reversed to RGB.
            "lab_to_lrgb": cube_checksum(cv2.cvtColor(c, cv2.COLOR_Lab2LBGR)[:, :, ::-1].copy()),
        },
        # RGB bytes of the realistic frame's denoised and enhanced versions.
        "real_320x240": {"den": cube_checksum(real_den), "out": cube_checksum(real_out)},
        "opencv_version": cv2.__version__,
    }
    with open(os.path.join(OUT, "enhance_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
