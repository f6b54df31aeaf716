#!/usr/bin/env python3
"""Loads COCO files written by neutrostruct with pycocotools and checks every annotation:
annToMask must decode (polygons and RLE strings), and for RLE masks the decoded pixel count
must equal the written `area`; for polygons the rasterised area must be near `area`.

Usage: python3 tests/pycocotools_check.py FILE.json [...]   (needs `pip install pycocotools`)
Run by the ignored test `coco_pycocotools::pycocotools_reads_our_output`.
"""
import sys

from pycocotools.coco import COCO

bad = 0
for path in sys.argv[1:]:
    coco = COCO(path)
    for ann in coco.dataset["annotations"]:
        m = coco.annToMask(ann)
        img = coco.imgs[ann["image_id"]]
        assert m.shape == (img["height"], img["width"]), (path, ann["id"], m.shape)
        px = int(m.sum())
        seg = ann["segmentation"]
        if isinstance(seg, dict):
            ok = px == round(ann["area"])
        elif seg:
            # A polygon is rasterised by pycocotools' own rule; allow the boundary pixels.
            perim = sum(len(r) // 2 for r in seg)
            ok = abs(px - ann["area"]) <= max(2.0, 0.5 * perim + 0.2 * ann["area"])
        else:
            ok = px == 0
        if not ok:
            bad += 1
            print(f"{path}: annotation {ann['id']}: {px} pixels, area {ann['area']}")
    print(f"{path}: {len(coco.dataset['annotations'])} annotations decoded")
sys.exit(1 if bad else 0)
