#!/usr/bin/env python3
"""Make the OpenCV / numpy / scikit-image reference fixtures for src/features/shape/.

The notebook's shape features (cell In[6]: edge_histogram, contour_features, hog_features) are
copied verbatim below and run on the test images; every number the Rust tests compare against
comes from them (or from the OpenCV calls inside them). Run from the repository root:

    pip install numpy opencv-python-headless scikit-image
    target/release/vidcompare demo-data /tmp/demo_shape      # only for the realistic frame
    python3 tools/fixtures_shape.py [--demo /tmp/demo_shape]

Writes into tests/fixtures/features/ (every file starts with `shape_`):

- shape_<name>.png              grey test inputs (procedural, seeded; one real demo frame);
- shape_<name>_canny.png        cv2.Canny(gray, 80, 160) of each input (compared bit for bit);
- shape_bin_<name>.png          hand-made binary images for findContours;
- shape_reference.json          per input: the notebook's edge_histogram, contour_features and
                                HOG (full vector for the small images, every 3rd / 29th value
                                for noise_97x73 / 320x240, plus f64 checksums of the whole
                                vector; as a string of shortest float32 decimals), and the contours
                                cv2.findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE) returns
                                (points in OpenCV's order, contourArea, arcLength);
- shape_timing.json             Python time per 320x240 frame of each notebook function.

The inputs are seeded (numpy default_rng), so reruns write the same files. The notebook
functions take a BGR frame; they get the grey image stacked three times, which COLOR_BGR2GRAY
maps back to the same grey (its fixed-point weights sum to 1<<14); the script asserts that.
"""
import argparse
import glob
import json
import os
import time

import cv2
import numpy as np
from skimage.feature import hog

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "features")


# ---- notebook cell In[6], verbatim -------------------------------------------------------------

def edge_histogram(frame_bgr, bins=16):
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    edges = cv2.Canny(gray, 80, 160)
    proj = edges.sum(axis=0).astype(np.float32)
    hist, _ = np.histogram(proj, bins=bins, density=True)
    return hist.astype(np.float32)


def contour_features(frame_bgr):
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    edges = cv2.Canny(gray, 80, 160)
    cnts, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if len(cnts) == 0:
        return np.zeros(6, dtype=np.float32)
    areas = np.array([cv2.contourArea(c) for c in cnts], dtype=np.float32)
    peris = np.array([cv2.arcLength(c, True) for c in cnts], dtype=np.float32)
    feats = [float(len(cnts)), float(areas.mean()), float(areas.var()), float(peris.mean()), float(peris.var()), float(areas.sum())]
    return np.array(feats, dtype=np.float32)


def hog_features(frame_bgr):
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    feat = hog(gray, orientations=9, pixels_per_cell=(8,8), cells_per_block=(2,2),
               block_norm='L2-Hys', visualize=False, feature_vector=True)
    return feat.astype(np.float32)


# ---- the same computations on an edge map the test supplies directly ---------------------------

def edge_histogram_of_edges(edges, bins=16):
    proj = edges.sum(axis=0).astype(np.float32)
    hist, _ = np.histogram(proj, bins=bins, density=True)
    return hist.astype(np.float32)


def contour_features_of_edges(edges):
    """contour_features minus its first two lines (cvtColor + Canny)."""
    cnts, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if len(cnts) == 0:
        return np.zeros(6, dtype=np.float32)
    areas = np.array([cv2.contourArea(c) for c in cnts], dtype=np.float32)
    peris = np.array([cv2.arcLength(c, True) for c in cnts], dtype=np.float32)
    feats = [float(len(cnts)), float(areas.mean()), float(areas.var()), float(peris.mean()), float(peris.var()), float(areas.sum())]
    return np.array(feats, dtype=np.float32)


def contours_record(edges, with_points=True):
    cnts, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    # float64 values as text: Rust's `str::parse::<f64>` reads Python's repr back exactly, where
    # a JSON number may come back one ulp off.
    rec = {
        "areas": " ".join(repr(float(cv2.contourArea(c))) for c in cnts),
        "perimeters": " ".join(repr(float(cv2.arcLength(c, True))) for c in cnts),
        "n_points": [int(len(c)) for c in cnts],
    }
    if with_points:
        rec["points"] = [c.reshape(-1, 2).tolist() for c in cnts]
    return rec


def f32_list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32)]


def f32_text(a):
    """float32 values as one space-separated string of their shortest round-trip decimals
    (about half the size of JSON doubles; Rust's `str::parse::<f32>` reads them back exactly)."""
    return " ".join(str(v) for v in np.asarray(a, dtype=np.float32))


# ---- inputs ------------------------------------------------------------------------------------

def procedural(w, h, seed, noise_sigma):
    """Gradient background, filled and outlined shapes, seeded Gaussian noise; grey uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 40 + 120 * x / (w - 1) + 50 * np.sin(y / 5.0)
    img = img.astype(np.float64)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    cv2.rectangle(canvas, (w // 8, h // 6), (w // 3, h // 2), 230, -1)
    cv2.circle(canvas, (2 * w // 3, h // 3), min(w, h) // 6, 20, -1)
    cv2.circle(canvas, (2 * w // 3, 2 * h // 3), min(w, h) // 5, 250, 2)
    tri = np.array([[w // 10, h - 3], [w // 2, h // 2 + 2], [w // 2 + 6, h - 2]], np.int32)
    cv2.fillPoly(canvas, [tri], 5)
    cv2.line(canvas, (0, 0), (w - 1, h - 1), 200, 1)
    cv2.line(canvas, (w - 5, 2), (w // 2, h // 3), 90, 2)
    noisy = canvas.astype(np.float64) + rng.normal(0, noise_sigma, size=(h, w))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def demo_frame(demo_root):
    videos = sorted(glob.glob(os.path.join(demo_root, "classical", "videos", "*", "*.mp4")))
    if not videos:
        raise SystemExit(f"no demo videos under {demo_root}; run `vidcompare demo-data {demo_root}`")
    cap = cv2.VideoCapture(videos[0])
    frame = None
    for _ in range(11):
        ok, frame = cap.read()
        if not ok:
            raise SystemExit(f"{videos[0]}: fewer than 11 frames")
    cap.release()
    frame = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), os.path.relpath(videos[0], demo_root)


def binary_cases():
    """Hand-made binary images for findContours (values 0 / non-zero)."""
    cases = {}
    a = np.zeros((15, 20), np.uint8)
    a[4:11, 3:13] = 255  # filled 10x7 rectangle: one contour, 4 corners, area 9*6
    cases["rect"] = a
    a = np.zeros((24, 24), np.uint8)
    a[2:22, 2:22] = 255
    a[5:19, 5:19] = 0
    a[8:16, 8:16] = 7  # any non-zero value counts as foreground
    cases["nested"] = a  # square ring with a square inside its hole: one external contour
    a = np.zeros((9, 11), np.uint8)
    a[4, 6] = 255
    cases["pixel"] = a
    a = np.zeros((20, 20), np.uint8)
    for i in range(3, 16):
        a[i, i + 1] = 255
    cases["diagonal"] = a
    a = np.full((12, 17), 255, np.uint8)
    cases["full"] = a  # touches every border: OpenCV pads with zeros, so the frame is the contour
    rng = np.random.default_rng(7)
    a = np.where(rng.random((40, 50)) < 0.35, 255, 0).astype(np.uint8)
    cv2.rectangle(a, (5, 5), (30, 25), 255, 2)
    cv2.circle(a, (38, 28), 8, 0, -1)
    cases["random"] = a
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", default="/tmp/demo_shape")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)

    frame, frame_src = demo_frame(args.demo)
    inputs = {
        "proc_64x48": procedural(64, 48, seed=1, noise_sigma=6.0),
        "proc_97x73": procedural(97, 73, seed=2, noise_sigma=12.0),
        "noise_97x73": procedural(97, 73, seed=3, noise_sigma=45.0),
        "flat_40x30": np.full((30, 40), 128, np.uint8),
        "frame_320x240": frame,
    }
    ref = {"inputs": {}, "binary": {}, "frame_source": frame_src,
           "versions": {"opencv": cv2.__version__, "numpy": np.__version__,
                        "skimage": __import__("skimage").__version__}}
    for name, gray in inputs.items():
        bgr = np.dstack([gray, gray, gray])
        assert np.array_equal(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), gray)
        cv2.imwrite(os.path.join(OUT, f"shape_{name}.png"), gray)
        edges = cv2.Canny(gray, 80, 160)
        cv2.imwrite(os.path.join(OUT, f"shape_{name}_canny.png"), edges)
        h = hog_features(bgr)
        # Full HOG vectors for the small inputs; a strided sample (plus checksums of the whole
        # vector) for the large ones, to keep the fixtures small.
        stride = {"noise_97x73": 3, "frame_320x240": 29}.get(name, 1)
        big = name == "frame_320x240"
        entry = {
            "width": int(gray.shape[1]),
            "height": int(gray.shape[0]),
            "edge_pixels": int((edges > 0).sum()),
            "edge_histogram": f32_list(edge_histogram(bgr)),
            "contour_features": f32_list(contour_features(bgr)),
            "contours": contours_record(edges, with_points=not big),
            "hog_len": int(h.size),
            "hog_sum": float(np.sum(h.astype(np.float64))),
            "hog_sumsq": float(np.sum(h.astype(np.float64) ** 2)),
        }
        entry["hog_stride"] = stride
        entry["hog"] = f32_text(h[::stride])
        ref["inputs"][name] = entry

    for name, img in binary_cases().items():
        cv2.imwrite(os.path.join(OUT, f"shape_bin_{name}.png"), img)
        entry = contours_record(img)
        entry["contour_features"] = f32_list(contour_features_of_edges(img))
        entry["edge_histogram"] = f32_list(edge_histogram_of_edges(img))
        ref["binary"][name] = entry

    with open(os.path.join(OUT, "shape_reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))

    # Python time per 320x240 frame (best of 5 runs of 20 calls), for the Rust speed comparison.
    bgr = np.dstack([frame, frame, frame])
    gray = frame

    def best(fn):
        t = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(20):
                fn()
            t.append((time.perf_counter() - t0) / 20)
        return min(t) * 1e3

    edges = cv2.Canny(gray, 80, 160)
    timing = {
        "canny_ms": best(lambda: cv2.Canny(gray, 80, 160)),
        "edge_histogram_of_edges_ms": best(lambda: edge_histogram_of_edges(edges)),
        "contour_features_of_edges_ms": best(lambda: contour_features_of_edges(edges)),
        "hog_ms": best(lambda: hog(gray, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                                   block_norm='L2-Hys', visualize=False, feature_vector=True)),
        "notebook_shape_total_ms": best(lambda: np.concatenate(
            [edge_histogram(bgr), contour_features(bgr), hog_features(bgr)])),
        "cv2_threads": cv2.getNumThreads(),
    }
    with open(os.path.join(OUT, "shape_timing.json"), "w") as f:
        json.dump(timing, f, indent=1)
    print(json.dumps(timing, indent=1))
    for name, e in ref["inputs"].items():
        print(name, "edges", e["edge_pixels"], "contours", len(e["contours"]["n_points"]),
              "cf", e["contour_features"])


if __name__ == "__main__":
    main()
