"""Baseline for `neutrostruct validate --coco`: load a COCO file with faster-coco-eval's
loader (its C++ COCO class, a drop-in for pycocotools'), which parses and indexes it.

usage: coco_load_faster.py IN.json
"""

import sys

from faster_coco_eval import COCO

coco = COCO(sys.argv[1])
print(f"coco_load_faster: {len(coco.imgs)} images, {len(coco.anns)} annotations")
