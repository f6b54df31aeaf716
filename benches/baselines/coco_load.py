"""Baseline for `neutrostruct validate --coco`: load a COCO file with pycocotools, which
parses the JSON and builds its indexes (what every training script does first).

usage: coco_load.py IN.json
"""

import sys

from pycocotools.coco import COCO

coco = COCO(sys.argv[1])
print(f"coco_load: {len(coco.imgs)} images, {len(coco.anns)} annotations")
