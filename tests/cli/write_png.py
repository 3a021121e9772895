#!/usr/bin/env python3
"""Writes an 8-bit PNG of seeded pseudo-random pixels with the standard library only (tests).

    write_png.py OUT HEIGHT WIDTH CHANNELS SEED      CHANNELS: 1 grey, 2 grey+alpha, 3 RGB
Prints nothing; the pixels are pixels(height, width, channels, seed) below, which the tests that
check predictions recompute.
"""
import random
import struct
import sys
import zlib


def pixels(height, width, channels, seed):
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(height * width * channels))


def write_png(path, height, width, channels, data):
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    stride = width * channels
    raw = b"".join(b"\x00" + data[r * stride:(r + 1) * stride] for r in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


if __name__ == "__main__":
    out, h, w, c, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    write_png(out, h, w, c, pixels(h, w, c, seed))
