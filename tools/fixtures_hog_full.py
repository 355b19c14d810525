#!/usr/bin/env python3
"""Every HOG value of the shape fixtures' larger inputs, as scikit-image computes them.

tools/fixtures_shape.py keeps a strided sample (and checksums) of the HOG vectors of its larger
inputs; this script adds the whole vectors, from the same committed grey images
(tests/fixtures/features/shape_<name>.png, which that script wrote as OpenCV's grey conversion of
each input), with the notebook's parameters. Run from the repository root:

    pip install numpy scikit-image opencv-python-headless
    python3 tools/fixtures_hog_full.py

Writes tests/fixtures/features/shape_hog_full.json: per input, the length and every value as
float32 shortest round-trip decimals in one space-separated string.
"""
import json

import cv2
import numpy as np
from skimage.feature import hog

DIR = "tests/fixtures/features"
NAMES = ["noise_97x73", "frame_320x240"]


def main():
    out = {}
    for name in NAMES:
        gray = cv2.imread(f"{DIR}/shape_{name}.png", cv2.IMREAD_GRAYSCALE)
        h = hog(gray, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                block_norm="L2-Hys", visualize=False, feature_vector=True).astype(np.float32)
        out[name] = {"hog_len": int(h.size), "hog": " ".join(str(v) for v in h)}
    with open(f"{DIR}/shape_hog_full.json", "w") as f:
        json.dump(out, f)
        f.write("\n")
    print({k: v["hog_len"] for k, v in out.items()})


if __name__ == "__main__":
    main()
