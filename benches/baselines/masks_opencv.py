"""Baseline for `neutrostruct masks --kind color`: draw every CVAT ellipse with cv2.ellipse
(filled, label colour) into an RGB canvas per image and cv2.imwrite a PNG.

usage: masks_opencv.py ANNOTATIONS.xml OUT_DIR [--shard K --shards N]
Image i is drawn by shard i % N, so N processes split the images between them.
"""

import argparse
import os

import cv2
import numpy as np

from cvat_ellipses import read

SHIFT = 4  # sub-pixel precision of cv2.ellipse: coordinates in 1/16 px
ONE = 1 << SHIFT


def main():
    p = argparse.ArgumentParser()
    p.add_argument("xml")
    p.add_argument("out")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--shards", type=int, default=1)
    args = p.parse_args()
    labels, images = read(args.xml)
    bgr = {name: (c[2], c[1], c[0]) for name, c in labels}
    os.makedirs(args.out, exist_ok=True)
    written = 0
    for i, (name, w, h, shapes) in enumerate(images):
        if i % args.shards != args.shard:
            continue
        canvas = np.zeros((h, w, 3), np.uint8)
        # Paint order: ascending z_order, ties in document order (a stable sort).
        for label, cx, cy, rx, ry, rot, _z in sorted(shapes, key=lambda s: s[6]):
            # OpenCV's pixel centres are at integer coordinates, CVAT's at +0.5.
            centre = (int(round((cx - 0.5) * ONE)), int(round((cy - 0.5) * ONE)))
            axes = (int(round(rx * ONE)), int(round(ry * ONE)))
            cv2.ellipse(canvas, centre, axes, rot, 0, 360, bgr.get(label, (255, 255, 255)), -1,
                        cv2.LINE_8, SHIFT)
        stem = os.path.splitext(os.path.basename(name))[0]
        cv2.imwrite(os.path.join(args.out, stem + ".png"), canvas)
        written += 1
    print(f"masks_opencv: shard {args.shard}/{args.shards}: {written} images")


if __name__ == "__main__":
    main()
