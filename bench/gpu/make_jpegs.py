"""Writes N JPEG files (quality 90) in 10 class folders under ROOT for the end-to-end loader benchmark:
smooth random colour fields with class-dependent stripes, so file sizes and decode cost are those of
photos (not of flat colour or white noise).

Usage: make_jpegs.py ROOT N SIZE, SIZE one of
  320        every image 320 x 320
  640x480    every image 640 wide, 480 high
  300-500    each side drawn uniformly from 300..500 (ImageNet-like variety)"""
import os
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image

root, n, size = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def dimensions(rng):
    if "x" in size:
        w, h = size.split("x")
        return int(w), int(h)
    if "-" in size:
        lo, hi = (int(v) for v in size.split("-"))
        return int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
    return int(size), int(size)


def make(i):
    rng = np.random.default_rng(i)
    c = i % 10
    w, h = dimensions(rng)
    small = rng.integers(0, 256, (max(h // 16, 2), max(w // 16, 2), 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC)).astype(np.int16)
    yy = np.arange(h)[:, None]
    img = img + (40 * np.sin(yy * (c + 1) * 0.05))[..., None].astype(np.int16)
    img = img + rng.integers(-12, 12, img.shape, dtype=np.int16)
    path = os.path.join(root, f"class{c}", f"{i:06d}.jpg")
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)


for c in range(10):
    os.makedirs(os.path.join(root, f"class{c}"), exist_ok=True)
with Pool(os.cpu_count()) as pool:
    pool.map(make, range(n), chunksize=64)
