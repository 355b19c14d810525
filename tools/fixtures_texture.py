#!/usr/bin/env python3
"""Reference fixtures for src/features/texture.rs (GLCM, LBP and Gabor texture features).

Computes, with scikit-image exactly as the seed notebook's cell In[6] does, the three texture
feature vectors for a few grey test images, and writes them under tests/fixtures/features/:

  texture_<name>.png   the 8-bit grey input (grey made with cv2.cvtColor(BGR2GRAY), so the Rust
                       tests do not depend on the crate's colour converter)
  texture_<name>.json  {"glcm": 48 floats, "lbp": 32 floats, "gabor": 12 floats (the notebook's
                       float32 path), "gabor_f64": 6 x [mean, var] (skimage on a float64 image,
                       for a tight check of the filter itself), "lbp_codes": per-row strings of
                       the uniform LBP code map (digits 0..9; small images only)}

Inputs: procedural BGR images (gradients + shapes + seeded noise) of 64x48 and 97x73, a 7x5 image
smaller than every Gabor kernel (exercises the periodic reflect border), a constant image, and
frame 10 of a 320x240 demo video made by `target/release/vidcompare demo-data /tmp/demo_tex`.

Usage (from the crate root):  python3 tools/fixtures_texture.py [--demo /tmp/demo_tex]
Deterministic: re-running rewrites identical files. It also prints skimage's time per 320x240
frame for each feature (to compare with `cargo test --release --test features_texture -- --ignored
--nocapture`).
Versions used to make the committed files: see "versions" in each JSON.
"""

import argparse
import json
import os
import time

import cv2
import numpy as np
import scipy
import skimage
from skimage.feature import graycomatrix, graycoprops, local_binary_pattern
from skimage.filters import gabor

OUT = os.path.join("tests", "fixtures", "features")
DEMO_VIDEO = os.path.join("classical", "videos", "circle", "test_000.mp4")


def glcm_features(gray):
    # Notebook In[6] glcm_features, on an already grey image (its `grayscaleprops` is a typo for
    # graycoprops, which is what ran).
    gray_q = (gray // 16).astype(np.uint8)
    glcm = graycomatrix(gray_q, distances=[1, 2], angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
                        levels=16, symmetric=True, normed=True)
    feats = []
    for p in ['contrast', 'dissimilarity', 'homogeneity', 'energy', 'correlation', 'ASM']:
        feats.extend(graycoprops(glcm, p).flatten())
    return np.array(feats, dtype=np.float32)


def lbp_codes(gray):
    return local_binary_pattern(gray, 8, 1, method='uniform')


def lbp_features(gray):
    lbp = lbp_codes(gray)
    hist, _ = np.histogram(lbp.ravel(), bins=32, range=(0, 32), density=True)
    return hist.astype(np.float32)


FREQS = (0.2, 0.4)
THETAS = (0, np.pi / 4, np.pi / 2)


def gabor_features(gray):
    # Notebook path: float32 image, so skimage builds a complex64 kernel and returns float32.
    g = gray.astype(np.float32) / 255.0
    feats = []
    for f in FREQS:
        for t in THETAS:
            real, imag = gabor(g, frequency=f, theta=t)
            mag = np.sqrt(real ** 2 + imag ** 2)
            feats.extend([mag.mean(), mag.var()])
    return np.array(feats, dtype=np.float32)


def gabor_f64(gray):
    g = gray.astype(np.float64) / 255.0
    out = []
    for f in FREQS:
        for t in THETAS:
            real, imag = gabor(g, frequency=f, theta=t)
            mag = np.sqrt(real ** 2 + imag ** 2)
            out.append([float(mag.mean()), float(mag.var())])
    return out


def procedural_bgr(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3), np.float64)
    img[..., 0] = 255.0 * x / max(w - 1, 1)
    img[..., 1] = 255.0 * y / max(h - 1, 1)
    img[..., 2] = 127.5 + 100.0 * np.sin(x / 3.0) * np.cos(y / 5.0)
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.circle(img, (w // 3, h // 2), min(w, h) // 4, (30, 200, 90), -1)
    cv2.rectangle(img, (w // 2, h // 5), (w - 4, h // 2), (220, 40, 160), -1)
    cv2.line(img, (0, h - 1), (w - 1, 0), (250, 250, 250), 1)
    noise = rng.integers(-25, 26, size=img.shape)
    return np.clip(img.astype(np.int32) + noise, 0, 255).astype(np.uint8)


def demo_frame(demo_root):
    path = os.path.join(demo_root, DEMO_VIDEO)
    cap = cv2.VideoCapture(path)
    frame = None
    for _ in range(11):
        ok, frame = cap.read()
        if not ok:
            raise SystemExit(f"cannot read frame 10 of {path}")
    return frame


def write_case(name, gray, with_codes):
    cv2.imwrite(os.path.join(OUT, f"texture_{name}.png"), gray)
    back = cv2.imread(os.path.join(OUT, f"texture_{name}.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint8 and back.ndim == 2 and np.array_equal(back, gray)
    doc = {
        "versions": {"skimage": skimage.__version__, "scipy": scipy.__version__,
                     "numpy": np.__version__, "cv2": cv2.__version__},
        "width": int(gray.shape[1]),
        "height": int(gray.shape[0]),
        "glcm": [float(v) for v in glcm_features(gray)],
        "lbp": [float(v) for v in lbp_features(gray)],
        "gabor": [float(v) for v in gabor_features(gray)],
        "gabor_f64": gabor_f64(gray),
    }
    if with_codes:
        codes = lbp_codes(gray).astype(np.int64)
        assert codes.min() >= 0 and codes.max() <= 9
        doc["lbp_codes"] = ["".join(str(v) for v in row) for row in codes]
    with open(os.path.join(OUT, f"texture_{name}.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"texture_{name}: {gray.shape[1]}x{gray.shape[0]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", default="/tmp/demo_tex", help="folder made by `vidcompare demo-data`")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)

    gray = lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    write_case("proc_64x48", gray(procedural_bgr(64, 48, 1)), True)
    write_case("proc_97x73", gray(procedural_bgr(97, 73, 2)), True)
    write_case("tiny_7x5", gray(procedural_bgr(7, 5, 3)), True)
    write_case("const_40x30", np.full((30, 40), 137, np.uint8), True)
    frame = gray(demo_frame(args.demo))
    assert frame.shape == (240, 320)
    write_case("demo_320x240", frame, False)

    # skimage's cost for the notebook's six Gabor filters on one 320x240 frame.
    reps = 5
    t0 = time.perf_counter()
    for _ in range(reps):
        gabor_features(frame)
    per_frame = (time.perf_counter() - t0) / reps
    print(f"skimage gabor_features on 320x240: {per_frame * 1e3:.1f} ms per frame")
    t0 = time.perf_counter()
    for _ in range(reps):
        glcm_features(frame)
    print(f"skimage glcm_features on 320x240: {(time.perf_counter() - t0) / reps * 1e3:.2f} ms")
    t0 = time.perf_counter()
    for _ in range(reps):
        lbp_features(frame)
    print(f"skimage lbp_features on 320x240: {(time.perf_counter() - t0) / reps * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
