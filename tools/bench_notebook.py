#!/usr/bin/env python3
"""Time the seed notebook's own classical feature extraction (cells In[5]-In[6], unchanged
arithmetic) on a list of videos, per stage, and print JSON.

Used by `cargo bench --bench features`, which runs our Rust extraction on the same videos in the
same run and prints the ratios. Needs numpy, scipy, opencv-python-headless, scikit-image.

    python3 tools/bench_notebook.py [--no-enhance] VIDEO...
"""
import json
import sys
import time
from collections import defaultdict

import cv2
import numpy as np
from scipy.stats import skew
from skimage.feature import graycomatrix, graycoprops, hog, local_binary_pattern
from skimage.filters import gabor

RESIZE_W, RESIZE_H = 320, 240
T = defaultdict(float)


class timed:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t = time.perf_counter()

    def __exit__(self, *a):
        T[self.name] += time.perf_counter() - self.t


def read_all_frames(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        frames.append(fr)
    cap.release()
    return frames


def uniform_sampling(frames, fps, target_fps=1.0):
    stride = max(1, len(frames) // 10) if fps <= 0 else max(1, int(round(fps / target_fps)))
    return frames[::stride]


def enhance_frame(fr):
    den = cv2.fastNlMeansDenoisingColored(fr, None, 5, 5, 7, 21)
    ga = cv2.GaussianBlur(den, (0, 0), 1.0)
    return cv2.addWeighted(den, 1.5, ga, -0.5, 0)


def color_feats(fr, bins=16):
    rgb = cv2.cvtColor(fr, cv2.COLOR_BGR2RGB)
    hsv = cv2.cvtColor(fr, cv2.COLOR_BGR2HSV)
    out = []
    for img in (rgb, hsv):
        for ch in range(3):
            h = cv2.calcHist([img], [ch], None, [bins], [0, 256]).flatten()
            out.append(h / (h.sum() + 1e-9))
    f = rgb.astype(np.float32)
    m = []
    for ch in range(3):
        v = f[:, :, ch].reshape(-1)
        m.extend([v.mean(), v.var(), skew(v)])
    out.append(np.array(m, np.float32))
    out.append(f.reshape(-1, 3).mean(axis=0))
    return np.concatenate(out)


def glcm_f(gray):
    q = (gray // 16).astype(np.uint8)
    g = graycomatrix(q, [1, 2], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=16, symmetric=True, normed=True)
    return np.concatenate([graycoprops(g, p).flatten() for p in
                           ['contrast', 'dissimilarity', 'homogeneity', 'energy', 'correlation', 'ASM']])


def lbp_f(gray):
    lbp = local_binary_pattern(gray, 8, 1, method='uniform')
    return np.histogram(lbp.ravel(), bins=32, range=(0, 32), density=True)[0]


def gabor_f(gray):
    g = gray.astype(np.float32) / 255.0
    out = []
    for f in (0.2, 0.4):
        for t in (0, np.pi / 4, np.pi / 2):
            r, i = gabor(g, frequency=f, theta=t)
            mag = np.sqrt(r ** 2 + i ** 2)
            out.extend([mag.mean(), mag.var()])
    return np.array(out)


def shape_f(gray):
    with timed("canny+contours"):
        e = cv2.Canny(gray, 80, 160)
        proj = e.sum(axis=0).astype(np.float32)
        h, _ = np.histogram(proj, bins=16, density=True)
        e2 = cv2.Canny(gray, 80, 160)
        cnts, _ = cv2.findContours(e2, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if cnts:
            a = np.array([cv2.contourArea(c) for c in cnts])
            p = np.array([cv2.arcLength(c, True) for c in cnts])
            c = [len(cnts), a.mean(), a.var(), p.mean(), p.var(), a.sum()]
        else:
            c = [0] * 6
    with timed("hog"):
        hg = hog(gray, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                 block_norm='L2-Hys', visualize=False, feature_vector=True)
    return np.concatenate([h, np.array(c, np.float32), hg])


def motion_f(frames):
    sub = frames[:10]
    if len(sub) >= 2:
        gs = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) for f in sub]
        ds = [np.abs(b - a) for a, b in zip(gs, gs[1:])]
        np.histogram(np.concatenate([d.ravel() for d in ds]), bins=16, range=(0, 255), density=True)
        prev = cv2.cvtColor(sub[0], cv2.COLOR_BGR2GRAY)
        nxt = cv2.cvtColor(sub[1], cv2.COLOR_BGR2GRAY)
        p0 = cv2.goodFeaturesToTrack(prev, maxCorners=200, qualityLevel=0.01, minDistance=7)
        if p0 is not None:
            cv2.calcOpticalFlowPyrLK(prev, nxt, p0, None)


def video(path, enhance):
    with timed("decode"):
        cap = cv2.VideoCapture(path)
        fps = cap.get(cv2.CAP_PROP_FPS) or 0
        cap.release()
        frames = uniform_sampling(read_all_frames(path), fps)
    with timed("resize"):
        frames = [cv2.resize(f, (RESIZE_W, RESIZE_H), interpolation=cv2.INTER_AREA) for f in frames]
    if enhance:
        with timed("enhance"):
            frames = [enhance_frame(f) for f in frames]
    for f in frames:
        gray = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
        with timed("color"):
            color_feats(f)
        with timed("glcm"):
            glcm_f(gray)
        with timed("lbp"):
            lbp_f(gray)
        with timed("gabor"):
            gabor_f(gray)
        shape_f(gray)
    with timed("motion"):
        motion_f(frames)
    return len(frames)


def main():
    args = sys.argv[1:]
    enhance = "--no-enhance" not in args
    paths = [a for a in args if not a.startswith("--")]
    n_frames = 0
    t0 = time.perf_counter()
    for p in paths:
        n_frames += video(p, enhance)
    total = time.perf_counter() - t0
    json.dump({"videos": len(paths), "frames": n_frames, "total_s": total, "stages_s": T}, sys.stdout)


if __name__ == "__main__":
    main()
