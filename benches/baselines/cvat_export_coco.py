#!/usr/bin/env python3
"""Writes the COCO file CVAT's export would write for a CVAT XML 1.1 file of ellipses:
Python round() (half to even) of centre and semi-axes, cv2.ellipse(..., thickness=-1) on a
mask the size of the image, pycocotools RLE, area and bbox of the mask, and
attributes {occluded, rotation}. Used to time and measure `convert --from coco --to cvat`
on an honest export (e.g. of `neutrostruct synth`'s XML).

    /work/pyvenv4/bin/python benches/baselines/cvat_export_coco.py IN.xml OUT.json

One full-size mask per image is reused (drawn, read back in the ellipse's box, cleared), so
the cost follows the ellipses, not 24k full-image masks.
"""
import json
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np
from pycocotools import mask as mask_utils


def main():
    src, out = sys.argv[1], sys.argv[2]
    root = ET.parse(src).getroot()
    labels = [l.findtext("name") for l in root.iter("label")]
    cats = {name: i + 1 for i, name in enumerate(dict.fromkeys(labels))}
    images, anns = [], []
    for image in root.iter("image"):
        img_id = len(images) + 1
        w, h = int(image.get("width")), int(image.get("height"))
        images.append({"id": img_id, "width": w, "height": h, "file_name": image.get("name")})
        mask = np.zeros((h, w), dtype=np.uint8)
        for el in image.iter("ellipse"):
            cx, cy = float(el.get("cx")), float(el.get("cy"))
            rx, ry = float(el.get("rx")), float(el.get("ry"))
            rot = float(el.get("rotation", "0"))
            centre, axes = (round(cx), round(cy)), (round(rx), round(ry))
            cv2.ellipse(mask, centre, axes, rot, 0, 360, 255, thickness=-1)
            reach = max(axes) + 2
            x0, x1 = max(0, centre[0] - reach), min(w, centre[0] + reach + 1)
            y0, y1 = max(0, centre[1] - reach), min(h, centre[1] + reach + 1)
            counts = [w * h]
            area, bbox = 0, [0, 0, 0, 0]
            if x0 < x1 and y0 < y1:
                crop = mask[y0:y1, x0:x1]
                ys, xs = np.nonzero(crop)
                if xs.size:
                    # Column-major linear indices in the full image, sorted.
                    lin = np.sort((xs + x0).astype(np.int64) * h + (ys + y0))
                    breaks = np.flatnonzero(np.diff(lin) != 1) + 1
                    starts = lin[np.concatenate(([0], breaks))]
                    ends = lin[np.concatenate((breaks - 1, [lin.size - 1]))] + 1
                    counts, pos = [], 0
                    for s, e in zip(starts.tolist(), ends.tolist()):
                        counts += [s - pos, e - s]
                        pos = e
                    counts.append(w * h - pos)
                crop[:] = 0
            rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
            area = int(mask_utils.area(rle))
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            anns.append({
                "id": len(anns) + 1, "image_id": img_id,
                "category_id": cats[el.get("label")],
                "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")},
                "area": float(area), "bbox": bbox, "iscrowd": 1,
                "attributes": {"occluded": el.get("occluded") == "1", "rotation": rot},
            })
    doc = {"licenses": [{"name": "", "id": 0, "url": ""}], "info": {},
           "categories": [{"id": i, "name": n, "supercategory": ""} for n, i in cats.items()],
           "images": images, "annotations": anns}
    with open(out, "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
