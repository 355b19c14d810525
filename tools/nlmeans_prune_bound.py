#!/usr/bin/env python3
"""How much of OpenCV's NL-means work an exact skip could save: for each search offset d and
pixel p, whether the pair's weight is zero (the 7x7 patch distance reaches the table's cut), and
whether a cheap bound proves it before the distance is formed.

The enhance step runs `cv2.fastNlMeansDenoisingColored(frame, None, 5, 5, 7, 21)`: NL-means on
the L channel (h = 5) and on the (a, b) pair (hColor = 5) of the frame's 8-bit Lab image. A
pair's weight is the table entry at `SSD >> 6` (SSD: the integer sum of squared differences
over the 7x7 template and the channels); the table is zero from index `lmax` on, so the weight
is zero exactly when `SSD >= lmax << 6`. By Cauchy-Schwarz, `SSD >= sum_c (S_c(p) - S_c(p+d))^2
/ 49` with `S_c` the template's box sum of channel c: when that bound reaches the cut, the
weight is zero without forming the SSD. A vectorised kernel can only skip when every pixel of a
vector (here 32 neighbouring pixels of a row) is proved zero for the offset.

    python3 tools/nlmeans_prune_bound.py [IMAGE_OR_VIDEO ...]

Without arguments: four scikit-image sample photographs and the first frame of each class's
first demo video (data/demo/classical), all resized to 320x240 as the notebook does. Prints,
per frame and channel group, the fractions of (pixel, offset) pairs with zero weight, proved
zero by the bound, and of (32-pixel tile, offset) pairs proved zero as a whole.
"""

import glob
import math
import os
import sys

import cv2
import numpy as np

H, T, S, TILE = 5.0, 7, 21, 32


def lmax(channels):
    """First index of OpenCV's weight table whose value is 0 (h = 5, 7x7 template, 21 search)."""
    mult = (1 << 6) / (T * T)
    fixed = (2**31 - 1) // (S * S * 255)
    d = 0
    while True:
        w = math.exp(-(d * mult) / (H * H * channels))
        if round(fixed * w) < 0.001 * fixed:
            return d
        d += 1


def box_valid(a):
    """Exact integer 7x7 sums of every window lying inside `a` (2-D)."""
    c = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=np.int64)
    c[1:, 1:] = a.astype(np.int64).cumsum(0).cumsum(1)
    return c[T:, T:] - c[:-T, T:] - c[T:, :-T] + c[:-T, :-T]


def frames(paths):
    if not paths:
        import skimage.data as sd

        for name in ["astronaut", "coffee", "chelsea", "rocket"]:
            yield name, cv2.resize(getattr(sd, name)()[:, :, ::-1], (320, 240))
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        paths = sorted(glob.glob(os.path.join(here, "data/demo/classical/videos/*/train_000.mp4")))
    for p in paths:
        img = cv2.imread(p)
        if img is None:
            ok, img = cv2.VideoCapture(p).read()
            if not ok:
                sys.exit(f"{p}: neither an image nor a readable video")
        yield os.path.relpath(p), cv2.resize(img, (320, 240))


def main():
    r = S // 2
    for name, bgr in frames(sys.argv[1:]):
        lab = cv2.cvtColor(bgr, cv2.COLOR_LBGR2Lab).astype(np.int64)
        for group, sl in [("L", slice(0, 1)), ("ab", slice(1, 3))]:
            img = lab[:, :, sl]
            c = img.shape[2]
            cut = lmax(c) << 6
            hh, ww = img.shape[:2]
            # Reflected borders (OpenCV's BORDER_DEFAULT) wide enough for every patch of every
            # pair: the pixel p's patch and its partner's, both exact.
            b = r + T // 2
            pad = np.pad(img, ((b, b), (b, b), (0, 0)), mode="reflect")
            # Template sums at every pixel of the image and of its r-wide border: (hh + 2r,
            # ww + 2r, c).
            sums = np.stack([box_valid(pad[:, :, k]) for k in range(c)], -1)
            inner = pad[r:r + hh + T - 1, r:r + ww + T - 1]
            zero = proved = tiles = 0
            n_tiles = 0
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    q = pad[r + dy:r + dy + hh + T - 1, r + dx:r + dx + ww + T - 1]
                    ssd = sum(box_valid((inner[:, :, k] - q[:, :, k]) ** 2) for k in range(c))
                    sp = sums[r:r + hh, r:r + ww]
                    sq = sums[r + dy:r + dy + hh, r + dx:r + dx + ww]
                    # sum_c (S_p - S_q)^2 / 49 >= cut, in integers.
                    bound49 = ((sp - sq) ** 2).sum(-1)
                    z, pr = ssd >= cut, bound49 >= cut * T * T
                    assert not (pr & ~z).any(), "the bound proved a non-zero weight zero"
                    zero += z.sum()
                    proved += pr.sum()
                    wt = ww // TILE * TILE
                    t = pr[:, :wt].reshape(hh, wt // TILE, TILE).all(-1)
                    tiles += t.sum()
                    n_tiles += t.size
            total = hh * ww * S * S
            print(f"{name:40s} {group:2s}  zero weight {zero / total:5.1%}  proved by the bound "
                  f"{proved / total:5.1%}  32-pixel tiles proved {tiles / n_tiles:5.1%}")


if __name__ == "__main__":
    main()
