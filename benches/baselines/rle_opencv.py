"""Baseline for `neutrostruct convert --from cvat --to coco --segmentation rle`: rasterise each
CVAT ellipse with OpenCV and write a COCO JSON whose segmentations are compressed RLE made by
pycocotools, with area and bbox from the mask.

usage: rle_opencv.py ANNOTATIONS.xml OUT.json [--mode box|full]

--mode box (default, the fast way; box + offset like CVAT's own <mask> RLE): draw the ellipse
  into an array the size of its box, turn the box's column-major runs into whole-image runs
  with numpy (box + offset), and let pycocotools compress them (frPyObjects).
--mode full: draw into a whole-image mask (reused, cleared after each shape) and call
  pycocotools.mask.encode on it. Much slower on 4096×4224 images; for reference.
"""

import argparse
import json
import math

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from cvat_ellipses import read

SHIFT = 4
ONE = 1 << SHIFT


def ellipse_box(cx, cy, rx, ry, rot, w, h):
    t = math.radians(rot)
    c, s = math.cos(t), math.sin(t)
    hw = math.hypot(rx * c, ry * s)
    hh = math.hypot(rx * s, ry * c)
    x0 = max(0, int(math.floor(cx - hw)) - 1)
    y0 = max(0, int(math.floor(cy - hh)) - 1)
    x1 = min(w, int(math.ceil(cx + hw)) + 1)
    y1 = min(h, int(math.ceil(cy + hh)) + 1)
    return x0, y0, x1, y1


def draw(canvas, cx, cy, rx, ry, rot, ox, oy):
    centre = (int(round((cx - 0.5 - ox) * ONE)), int(round((cy - 0.5 - oy) * ONE)))
    axes = (int(round(rx * ONE)), int(round(ry * ONE)))
    cv2.ellipse(canvas, centre, axes, rot, 0, 360, 1, -1, cv2.LINE_8, SHIFT)


def rle_box(cx, cy, rx, ry, rot, w, h):
    x0, y0, x1, y1 = ellipse_box(cx, cy, rx, ry, rot, w, h)
    if x1 <= x0 or y1 <= y0:
        return mask_utils.frPyObjects({"counts": [w * h], "size": [h, w]}, h, w)
    bh, bw = y1 - y0, x1 - x0
    box = np.zeros((bh, bw), np.uint8)
    draw(box, cx, cy, rx, ry, rot, x0, y0)
    padded = np.zeros((bw, bh + 2), np.int8)
    padded[:, 1:-1] = box.T
    cols, rows = np.nonzero(np.diff(padded, axis=1))
    lin = (cols.astype(np.int64) + x0) * h + (rows.astype(np.int64) + y0)
    counts = np.diff(np.concatenate(([0], lin, [w * h])))
    return mask_utils.frPyObjects({"counts": counts.tolist(), "size": [h, w]}, h, w)


class FullCanvas:
    """A whole-image mask in Fortran (column-major) order, as pycocotools.mask.encode wants
    it, drawn through its C-order transpose: the ellipse mirrored across the diagonal."""

    def __init__(self):
        self.t = None

    def rle(self, cx, cy, rx, ry, rot, w, h):
        if self.t is None or self.t.shape != (w, h):
            self.t = np.zeros((w, h), np.uint8)
        x0, y0, x1, y1 = ellipse_box(cx, cy, rx, ry, rot, w, h)
        draw(self.t, cy, cx, rx, ry, 90.0 - rot, 0, 0)
        r = mask_utils.encode(self.t.T[:, :, np.newaxis])[0]
        self.t[x0:x1, y0:y1] = 0
        return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("xml")
    p.add_argument("out")
    p.add_argument("--mode", choices=["box", "full"], default="box")
    args = p.parse_args()
    labels, images = read(args.xml)
    cat_id = {name: i + 1 for i, (name, _c) in enumerate(labels)}
    full = FullCanvas()
    out_images, out_anns = [], []
    ann_id = 1
    for img_id, (name, w, h, shapes) in enumerate(images, start=1):
        out_images.append({"id": img_id, "file_name": name, "width": w, "height": h})
        for label, cx, cy, rx, ry, rot, _z in shapes:
            if args.mode == "box":
                r = rle_box(cx, cy, rx, ry, rot, w, h)
            else:
                r = full.rle(cx, cy, rx, ry, rot, w, h)
            out_anns.append({
                "id": ann_id,
                "image_id": img_id,
                "category_id": cat_id[label],
                "segmentation": {"size": [h, w], "counts": r["counts"].decode("ascii")},
                "area": float(mask_utils.area(r)),
                "bbox": [float(v) for v in mask_utils.toBbox(r)],
                "iscrowd": 0,
            })
            ann_id += 1
    cats = [{"id": i, "name": n, "supercategory": ""} for n, i in cat_id.items()]
    with open(args.out, "w") as f:
        json.dump({"images": out_images, "annotations": out_anns, "categories": cats}, f)
    print(f"rle_opencv ({args.mode}): {len(out_images)} images, {len(out_anns)} annotations")


if __name__ == "__main__":
    main()
