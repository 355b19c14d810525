#!/usr/bin/env python3
"""Write a synthetic 1080p video of a given length for the memory-in-length measurement
(benches/baseline.md, "Memory and video length"): a fixed random texture panning 3 px per frame,
25 fps, MPEG-4 Part 2 in MP4 (OpenCV's `mp4v`), so that decoding is real work and every frame
moves.

    python3 tools/make_long_video.py OUT.mp4 SECONDS

A 600 s video is about 830 MB and takes about 3.5 minutes on one core.
"""
import sys

import cv2
import numpy as np


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, seconds = sys.argv[1], float(sys.argv[2])
    w, h, fps, pan = 1920, 1080, 25, 400
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (h // 8, (w + pan) // 8, 3), dtype=np.uint8)
    texture = cv2.resize(texture, (w + pan, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not out.isOpened():
        sys.exit(f"{path}: OpenCV cannot write MPEG-4 here")
    for i in range(int(seconds * fps)):
        x = (i * 3) % pan
        out.write(np.ascontiguousarray(texture[:, x : x + w]))
    out.release()


if __name__ == "__main__":
    main()
