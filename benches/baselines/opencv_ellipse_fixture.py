#!/usr/bin/env python3
"""Draws random ellipses exactly as CVAT's COCO export does and writes the fixture that
`tests/raster_cvat_export.rs` checks `src/raster_cvat_export.rs` against, pixel for pixel.

CVAT's export of an ellipse: Python's round() (half to even) of the centre and the semi-axes,
then cv2.ellipse(mask, (cx, cy), (rx, ry), rotation, 0, 360, 255, thickness=-1) on a uint8
mask of the image's size, then pycocotools' RLE of that mask.

Usage (the venv decides the OpenCV version):
    /work/pyvenv4/bin/python benches/baselines/opencv_ellipse_fixture.py OUT.jsonl [--cases N]

Each line is a JSON array
    [w, h, cx, cy, rx, ry, rotation, area, bx, by, bw, bh, fnv64_hex]
or the same with a 14th element, pycocotools' compressed counts string, for every 40th case
(those the Rust test compares in full). cx..rotation are CVAT's floats (repr, so they parse to
the same doubles); area and bbox are pycocotools' `area` and `toBbox`; the hash is FNV-1a 64
over the uncompressed column-major counts as little-endian u32.
The first line is a header object naming the generator and the OpenCV version.
"""
import argparse
import json
import random

import cv2
import numpy as np
from pycocotools import mask as mask_utils

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv64(counts):
    h = FNV_OFFSET
    for c in counts:
        for b in int(c).to_bytes(4, "little"):
            h ^= b
            h = (h * FNV_PRIME) & MASK64
    return h


def column_major_counts(mask):
    flat = (np.asfortranarray(mask).reshape(-1, order="F") != 0).astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        runs = [0] + runs
    return runs


def value(rng, lo, hi):
    """A coordinate: a float, a whole number, or a half-integer (round-half-even ties)."""
    kind = rng.random()
    if kind < 0.2:
        return float(rng.randint(int(lo), int(hi))) + 0.5
    if kind < 0.35:
        return float(rng.randint(int(lo), int(hi)))
    return round(rng.uniform(lo, hi), rng.choice([1, 2, 3, 6]))


def rotation(rng):
    kind = rng.random()
    if kind < 0.2:
        return float(rng.randint(-800, 800))
    if kind < 0.4:
        return rng.randint(-800, 800) + 0.5  # cvRound ties to even
    if kind < 0.5:
        return rng.choice([0.0, 90.0, 180.0, 270.0, 360.0, -90.0, -360.0, 450.0, 720.0])
    return round(rng.uniform(-800.0, 800.0), rng.choice([1, 2, 4, 7]))


def case(rng, i):
    r = rng.random()
    if i % 300 == 0:
        w, h = 4096, 4224
    elif r < 0.7:
        w, h = rng.randint(1, 120), rng.randint(1, 120)
    elif r < 0.95:
        w, h = rng.randint(100, 600), rng.randint(100, 600)
    else:
        w, h = rng.randint(600, 2000), rng.randint(600, 2000)
    big = max(w, h)
    size = rng.random()
    if size < 0.3:
        amax = 3
    elif size < 0.65:
        amax = 30
    elif size < 0.9:
        amax = min(300, max(4, big))
    else:
        amax = 1500
    rx = abs(value(rng, 0, amax))
    ry = abs(value(rng, 0, amax)) if rng.random() < 0.85 else rx
    where = rng.random()
    if where < 0.5:  # inside or near it
        cx, cy = value(rng, 0, w), value(rng, 0, h)
    elif where < 0.85:  # straddling a border or a corner
        cx = rng.choice([value(rng, -amax, amax), value(rng, w - amax, w + amax), value(rng, 0, w)])
        cy = rng.choice([value(rng, -amax, amax), value(rng, h - amax, h + amax), value(rng, 0, h)])
    else:  # centre outside, maybe reaching in
        cx = value(rng, -2 * amax - 5, w + 2 * amax + 5)
        cy = value(rng, -2 * amax - 5, h + 2 * amax + 5)
    return w, h, cx, cy, rx, ry, rotation(rng)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--cases", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w") as f:
        header = {"generator": "benches/baselines/opencv_ellipse_fixture.py",
                  "opencv": cv2.__version__, "seed": args.seed, "cases": args.cases}
        f.write(json.dumps(header) + "\n")
        for i in range(args.cases):
            w, h, cx, cy, rx, ry, rot = case(rng, i)
            mask = np.zeros((h, w), dtype=np.uint8)
            centre = (round(cx), round(cy))
            axes = (round(rx), round(ry))
            cv2.ellipse(mask, centre, axes, rot, 0, 360, 255, thickness=-1)
            rle = mask_utils.encode(np.asfortranarray(mask))
            area = int(mask_utils.area(rle))
            bbox = [int(v) for v in mask_utils.toBbox(rle)]
            counts = column_major_counts(mask)
            assert sum(counts[1::2]) == area
            row = [w, h, cx, cy, rx, ry, rot, area, *bbox, format(fnv64(counts), "016x")]
            if i % 40 == 0:
                row.append(rle["counts"].decode("ascii"))
            f.write(json.dumps(row, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
