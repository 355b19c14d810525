#!/usr/bin/env python3
"""Make the OpenCV INTER_AREA reference fixtures for src/video/resize.rs.

Writes tests/fixtures/resize_src_WxH.png (procedural RGB test images) and
tests/fixtures/resize_WxH_to_wxh.png (cv2.resize(..., interpolation=cv2.INTER_AREA) of them),
all stored as RGB. Run from the repository root:

    pip install numpy opencv-python-headless
    python3 tools/make_resize_fixture.py

The inputs are computed with integer arithmetic only, so they are identical on every machine;
the outputs are whatever this OpenCV produces (the Rust tests allow one grey level of difference).
"""
import os

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

# (source size, target sizes): integer shrink (box mean), non-integer shrink (fractional
# weights), enlarge (area-mode bilinear), and shrink in one axis while enlarging the other.
CASES = [
    ((96, 72), [(48, 36), (32, 24)]),
    ((97, 73), [(40, 30), (64, 48), (131, 101), (150, 40)]),
]


def test_image(w, h):
    """Gradients, a hash-like texture and a hard-edged checker block, as an RGB uint8 array."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    texture = ((x * 73856093) ^ (y * 19349663)) % 251 % 64
    r = (x * 200) // (w - 1) + texture
    g = (y * 180) // (h - 1) + (63 - texture)
    b = ((x + y) * 5) % 256
    checker = ((x // 7 + y // 5) % 2 == 0) & (x > w // 3) & (x < 2 * w // 3)
    b = np.where(checker, 255 - b // 4, b // 2)
    img = np.stack([r, g, b], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_rgb(name, rgb):
    # OpenCV writes BGR; convert so the PNG holds the RGB values the Rust side reads.
    path = os.path.join(OUT, name)
    cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return os.path.getsize(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for (w, h), targets in CASES:
        src = test_image(w, h)
        total += save_rgb(f"resize_src_{w}x{h}.png", src)
        for tw, th in targets:
            # INTER_AREA treats channels independently, so resizing the RGB array directly equals
            # resizing the BGR frame the notebook holds and converting afterwards.
            out = cv2.resize(src, (tw, th), interpolation=cv2.INTER_AREA)
            total += save_rgb(f"resize_{w}x{h}_to_{tw}x{th}.png", out)
    print(f"OpenCV {cv2.__version__}: wrote fixtures to {os.path.normpath(OUT)} ({total} bytes)")


if __name__ == "__main__":
    main()
