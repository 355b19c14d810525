#!/usr/bin/env python3
"""Reference fixtures for src/features/motion (tests/features_motion.rs).

Re-runnable and deterministic:

    python3 tools/fixtures_motion.py [--video /tmp/demo_x/classical/videos/circle/test_000.mp4]

Writes under tests/fixtures/features/ (every file prefixed `motion_`):

- motion_scene_{64x48,97x73}_{0,1,2}.png: procedural grey frames (gradient, soft-edged shapes,
  seeded noise), the scene moving by (+2, +1) px per frame.
- motion_real_320x240_{0,1,24}.png: frames 0, 1 and 24 (one second apart at 24 fps) of the
  320x240 demo video (`vidcompare demo-data`, seed 42, circle/test_000.mp4), converted with
  cv2.cvtColor(BGR2GRAY). Only regenerated when --video is given.
- motion_pyrdown_97x73_l{1,2}.png: cv2.pyrDown of scene 97x73 frame 0, twice.
- motion_reference.json: per input image, samples of cv2.cornerMinEigenVal(img, 3, 3) and its
  exact sum; cv2.goodFeaturesToTrack(img, 200, 0.01, 7); for frame pairs, cv2.calcOpticalFlowPyrLK
  on those corners (tracked positions, status); the notebook's frame_diff_features and
  lucas_kanade_sparse (copied verbatim from cell In[6]) on frame lists; and Horn-Schunck flows and
  features from the independent numpy implementation below (same scheme as the Rust doc comment
  of src/features/motion/horn_schunck.rs).

numpy and opencv-python-headless are needed (made with OpenCV 5.0.0 on an AVX-512 machine, whose
float rounding the Rust corner code reproduces).
"""

import argparse
import json
import os

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "features")


# ---------------------------------------------------------------- inputs


def scene(w, h, dx, dy, seed):
    """A grey frame of a scene translated by (dx, dy) px, plus per-frame noise (seeded)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    x = x - dx
    y = y - dy
    img = 60 + 80 * x / w + 40 * y / h
    rng = np.random.default_rng(1234)  # the shapes are the same in every frame
    for _ in range(7):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(3, w / 5), rng.uniform(3, h / 5)
        val = rng.uniform(-70, 90)
        if rng.random() < 0.5:  # soft-edged rectangle
            m = np.clip(rx - np.abs(x - cx) + 0.5, 0, 1) * np.clip(ry - np.abs(y - cy) + 0.5, 0, 1)
        else:  # soft-edged ellipse
            r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
            m = np.clip((1 - r) * min(rx, ry) + 0.5, 0, 1)
        img += val * m
    img += 25 * np.sin(x * 0.45) * np.cos(y * 0.35)
    img += np.random.default_rng(seed).normal(0, 3, size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def save_png(name, img):
    cv2.imwrite(os.path.join(OUT, name), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def load_png(name):
    return cv2.imread(os.path.join(OUT, name), cv2.IMREAD_GRAYSCALE)


# ---------------------------------------------------------------- notebook cell In[6], verbatim
# (the functions take BGR frames; the fixtures hold grey frames, so they are passed through
# cvtColor(GRAY2BGR), which BGR2GRAY maps back to the same grey values exactly).


def frame_diff_features(frames_bgr, bins=16):
    if len(frames_bgr) < 2:
        return np.zeros(8 + bins, dtype=np.float32)
    diffs = []
    mags = []
    for i in range(1, len(frames_bgr)):
        g1 = cv2.cvtColor(frames_bgr[i - 1], cv2.COLOR_BGR2GRAY).astype(np.float32)
        g2 = cv2.cvtColor(frames_bgr[i], cv2.COLOR_BGR2GRAY).astype(np.float32)
        d = np.abs(g2 - g1)
        diffs.append(d)
        mags.append(d.mean())
    mags = np.array(mags, dtype=np.float32)
    hist, _ = np.histogram(np.concatenate([d.ravel() for d in diffs]), bins=bins, range=(0, 255), density=True)
    stats = np.array([
        mags.mean(), mags.std(), mags.min(), mags.max(),
        np.percentile(mags, 25), np.percentile(mags, 50), np.percentile(mags, 75),
        float(len(frames_bgr))
    ], dtype=np.float32)
    return np.concatenate([stats, hist.astype(np.float32)]).astype(np.float32)


def lucas_kanade_sparse(frames_bgr, max_corners=200):
    if len(frames_bgr) < 2:
        return np.zeros(10, dtype=np.float32)
    prev = cv2.cvtColor(frames_bgr[0], cv2.COLOR_BGR2GRAY)
    nxt = cv2.cvtColor(frames_bgr[1], cv2.COLOR_BGR2GRAY)
    p0 = cv2.goodFeaturesToTrack(prev, maxCorners=max_corners, qualityLevel=0.01, minDistance=7)
    if p0 is None:
        return np.zeros(10, dtype=np.float32)
    p1, st, err = cv2.calcOpticalFlowPyrLK(prev, nxt, p0, None)
    good0 = p0[st == 1]
    good1 = p1[st == 1]
    flow = good1 - good0
    mag = np.linalg.norm(flow, axis=1)
    ang = np.arctan2(flow[:, 1], flow[:, 0])
    feats = np.array([
        mag.mean(), mag.std(), mag.min(), mag.max(),
        np.cos(ang).mean(), np.sin(ang).mean(),
        float(len(mag)), float(np.median(mag)),
        float(np.percentile(mag, 75)), float(np.percentile(mag, 25))
    ], dtype=np.float32)
    return feats


def bgr(g):
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


# ---------------------------------------------------------------- Horn-Schunck, numpy reference


def hs_shift(a, dy, dx):
    """a[y + dy, x + dx] with indices clamped to the image."""
    h, w = a.shape
    ys = np.minimum(np.arange(h) + dy, h - 1)
    xs = np.minimum(np.arange(w) + dx, w - 1)
    return a[np.ix_(ys, xs)]


def hs_derivatives(i1, i2):
    """Horn & Schunck's Ex, Ey, Et: first differences averaged over the 2x2x2 cube."""
    a1, b1, c1, d1 = i1, hs_shift(i1, 0, 1), hs_shift(i1, 1, 0), hs_shift(i1, 1, 1)
    a2, b2, c2, d2 = i2, hs_shift(i2, 0, 1), hs_shift(i2, 1, 0), hs_shift(i2, 1, 1)
    ex = 0.25 * ((b1 - a1) + (d1 - c1) + (b2 - a2) + (d2 - c2))
    ey = 0.25 * ((c1 - a1) + (d1 - b1) + (c2 - a2) + (d2 - b2))
    et = 0.25 * ((a2 - a1) + (c2 - c1) + (b2 - b1) + (d2 - d1))
    return ex, ey, et


def hs_average(f):
    """The paper's local average: 1/6 edge neighbours, 1/12 diagonal ones, border replicated."""
    p = np.pad(f, 1, mode="edge")
    edge = p[:-2, 1:-1] + p[1:-1, 2:] + p[2:, 1:-1] + p[1:-1, :-2]
    diag = p[:-2, :-2] + p[:-2, 2:] + p[2:, 2:] + p[2:, :-2]
    return edge / 6.0 + diag / 12.0


def bilinear(img, xs, ys):
    h, w = img.shape
    xs = np.clip(xs, 0, w - 1)
    ys = np.clip(ys, 0, h - 1)
    x0 = np.floor(xs).astype(int)
    y0 = np.floor(ys).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx, fy = xs - x0, ys - y0
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bot = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bot * fy


def pyr_down_float(img):
    k = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16.0
    h, w = img.shape
    p = np.pad(img, 2, mode="reflect")  # numpy 'reflect' is BORDER_REFLECT_101
    rows = sum(k[i] * p[:, i:i + w] for i in range(5))
    full = sum(k[i] * rows[i:i + h, :] for i in range(5))
    return full[::2, ::2]


def horn_schunck_ref(prev, nxt, alpha, iterations, levels, min_size):
    p1 = [prev.astype(np.float64)]
    p2 = [nxt.astype(np.float64)]
    while len(p1) < max(levels, 1):
        h, w = p1[-1].shape
        if min((w + 1) // 2, (h + 1) // 2) < max(min_size, 2):
            break
        p1.append(pyr_down_float(p1[-1]))
        p2.append(pyr_down_float(p2[-1]))
    u = v = None
    for lvl in range(len(p1) - 1, -1, -1):
        i1, i2 = p1[lvl], p2[lvl]
        h, w = i1.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        if u is None:
            u0, v0 = np.zeros((h, w)), np.zeros((h, w))
        else:
            u0 = 2 * bilinear(u, xx * 0.5, yy * 0.5)
            v0 = 2 * bilinear(v, xx * 0.5, yy * 0.5)
        i2w = bilinear(i2, xx + u0, yy + v0)
        ex, ey, et = hs_derivatives(i1, i2w)
        den = alpha * alpha + ex * ex + ey * ey
        u, v = u0.copy(), v0.copy()
        for _ in range(iterations):
            ub, vb = hs_average(u), hs_average(v)
            t = (ex * (ub - u0) + ey * (vb - v0) + et) / den
            u, v = ub - ex * t, vb - ey * t
    return u, v


def hs_summary(u, v, mag_bins=16, ang_bins=16, mag_range=8.0):
    """The 38-value layout of horn_schunck_features (see the Rust doc of flow_summary)."""
    m = np.sqrt(u * u + v * v).ravel()
    width = mag_range / mag_bins
    idx = np.minimum((m / width).astype(int), mag_bins - 1)
    mag_hist = np.bincount(idx, minlength=mag_bins) / (m.size * width)
    ang = np.arctan2(v.ravel(), u.ravel())
    t = (ang + np.pi) / (2 * np.pi)
    aidx = np.minimum((t * ang_bins).astype(int), ang_bins - 1)
    ang_hist = np.bincount(aidx[m > 0], weights=m[m > 0], minlength=ang_bins)
    if ang_hist.sum() > 0:
        ang_hist = ang_hist / ang_hist.sum()
    return np.concatenate([[m.mean(), m.std(), np.median(m), m.max()], mag_hist, ang_hist,
                           [u.mean(), v.mean()]])


# ---------------------------------------------------------------- OpenCV references


def corner_record(img, rng):
    eig = cv2.cornerMinEigenVal(img, 3, 3)
    h, w = img.shape
    ys = rng.integers(0, h, 300)
    xs = rng.integers(0, w, 300)
    corners = cv2.goodFeaturesToTrack(img, maxCorners=200, qualityLevel=0.01, minDistance=7)
    corners = [] if corners is None else corners.reshape(-1, 2).tolist()
    return {
        "eig_sum": float(eig.astype(np.float64).sum()),
        "eig_max": float(eig.max()),
        "eig_samples": [[int(x), int(y), float(eig[y, x])] for x, y in zip(xs, ys)],
        "corners": corners,
    }


def lk_record(prev, nxt):
    p0 = cv2.goodFeaturesToTrack(prev, maxCorners=200, qualityLevel=0.01, minDistance=7)
    p1, st, _err = cv2.calcOpticalFlowPyrLK(prev, nxt, p0, None)
    return {
        "points": p0.reshape(-1, 2).tolist(),
        "tracked": p1.reshape(-1, 2).tolist(),
        "status": st.ravel().astype(int).tolist(),
    }


def hs_record(prev, nxt, alpha, iterations, levels, min_size, rng):
    u, v = horn_schunck_ref(prev, nxt, alpha, iterations, levels, min_size)
    h, w = prev.shape
    ys = rng.integers(0, h, 200)
    xs = rng.integers(0, w, 200)
    return {
        "params": {"alpha": alpha, "iterations": iterations, "levels": levels, "min_size": min_size},
        "mean_u": float(u.mean()),
        "mean_v": float(v.mean()),
        "samples": [[int(x), int(y), float(u[y, x]), float(v[y, x])] for x, y in zip(xs, ys)],
        "features": hs_summary(u, v).tolist(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", help="the 320x240 demo video to take motion_real_* frames from")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)

    for w, h in [(64, 48), (97, 73)]:
        for t in range(3):
            save_png(f"motion_scene_{w}x{h}_{t}.png", scene(w, h, 2.0 * t, 1.0 * t, seed=100 + t))
    if args.video:
        cap = cv2.VideoCapture(args.video)
        frames = []
        while len(frames) < 25:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
        for t in (0, 1, 24):
            save_png(f"motion_real_320x240_{t}.png", cv2.cvtColor(frames[t], cv2.COLOR_BGR2GRAY))

    s64 = [load_png(f"motion_scene_64x48_{t}.png") for t in range(3)]
    s97 = [load_png(f"motion_scene_97x73_{t}.png") for t in range(3)]
    real = {t: load_png(f"motion_real_320x240_{t}.png") for t in (0, 1, 24)}

    l1 = cv2.pyrDown(s97[0])
    save_png("motion_pyrdown_97x73_l1.png", l1)
    save_png("motion_pyrdown_97x73_l2.png", cv2.pyrDown(l1))

    imgs = {f"scene_64x48_{t}": s64[t] for t in range(3)}
    imgs.update({f"scene_97x73_{t}": s97[t] for t in range(3)})
    imgs.update({f"real_320x240_{t}": real[t] for t in (0, 1, 24)})

    def pair(prev, nxt, rec):
        return dict(prev=prev, next=nxt, **rec)

    rng = np.random.default_rng(7)
    ref = {
        "opencv": cv2.__version__,
        "corners": {k: corner_record(imgs[k], rng) for k in
                    ["scene_64x48_0", "scene_97x73_0", "real_320x240_0", "real_320x240_24"]},
        "lk": [pair(a, b, lk_record(imgs[a], imgs[b])) for a, b in
               [("scene_64x48_0", "scene_64x48_1"), ("scene_97x73_0", "scene_97x73_2"),
                ("real_320x240_0", "real_320x240_1"), ("real_320x240_0", "real_320x240_24")]],
        "lucas_kanade_sparse": [
            pair(a, b, {"features": lucas_kanade_sparse([bgr(imgs[a]), bgr(imgs[b])]).tolist()})
            for a, b in [("scene_97x73_0", "scene_97x73_1"), ("real_320x240_0", "real_320x240_1"),
                         ("real_320x240_0", "real_320x240_24")]],
        "frame_diff_features": [
            {"frames": names, "bins": bins,
             "features": frame_diff_features([bgr(imgs[n]) for n in names], bins=bins).tolist()}
            for names, bins in [
                (["scene_64x48_0", "scene_64x48_1", "scene_64x48_2"], 16),
                (["scene_97x73_0", "scene_97x73_1", "scene_97x73_2", "scene_97x73_0"], 10),
                (["real_320x240_0", "real_320x240_1", "real_320x240_24"], 16)]],
        "horn_schunck": [
            pair(a, b, hs_record(imgs[a], imgs[b], alpha, iters, levels, 16, rng))
            for a, b, alpha, iters, levels in [
                ("scene_64x48_0", "scene_64x48_1", 10.0, 100, 1),
                ("scene_97x73_0", "scene_97x73_1", 10.0, 100, 3),
                ("real_320x240_0", "real_320x240_1", 10.0, 100, 4)]],
    }
    with open(os.path.join(OUT, "motion_reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
