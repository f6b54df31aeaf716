"""Baseline for `neutrostruct reclassify`: the 4→7 class division of DESIGN §2 in plain
Python (standard library only, no numpy), reading the CVAT-style COCO JSON and the scale CSV
and writing the 7-class COCO JSON.

usage: reclassify_plain.py IN.json SCALE.csv OUT.json
"""

import csv
import json
import statistics
import sys

DEFAULT_PX_PER_UM = 375.0
SEVEN = [
    (1, "Specific granules"),
    (2, "Non-specific primary granules"),
    (3, "Non-specific tertiary granules"),
    (4, "Non-specific secondary granules"),
    (5, "Empty vesicles"),
    (6, "Emptying vesicles"),
    (7, "Vacuoles"),
]
SEVEN_ID = {n: i for i, n in SEVEN}


def load_scale(path):
    """image name → px per µm; columns matched by meaning (name, then pixels per micrometre)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().lower() for h in rows[0]]
    name_col = next(i for i, h in enumerate(header) if "name" in h or "image" in h)
    scale_col = next(i for i, h in enumerate(header) if i != name_col and ("px" in h or "pix" in h))
    return {r[name_col].strip(): float(r[scale_col]) for r in rows[1:] if len(r) > scale_col}


def stats(primary, secondary):
    granules = primary + secondary
    mean_p = sum(primary) / len(primary) if primary else None
    mean_s = sum(secondary) / len(secondary) if secondary else None
    present = [m for m in (mean_p, mean_s) if m is not None]
    return {
        "median": statistics.median(granules),
        "mean": sum(granules) / len(granules),
        "average_diameter_sg_pg": sum(present) / len(present),
    }


def main():
    src, scale_path, out = sys.argv[1:4]
    with open(src) as f:
        coco = json.load(f)
    scale = load_scale(scale_path)
    cat_name = {c["id"]: c["name"] for c in coco["categories"]}
    images = {im["id"]: im for im in coco["images"]}
    px = {}
    for iid, im in images.items():
        if im["file_name"] not in scale:
            print(f"warning: no scale for {im['file_name']}, using {DEFAULT_PX_PER_UM}", file=sys.stderr)
        px[iid] = scale.get(im["file_name"], DEFAULT_PX_PER_UM)

    diam = {}
    per_image = {}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        d = (w + h) / (2.0 * px[a["image_id"]])
        diam[a["id"]] = d
        name = cat_name[a["category_id"]]
        slot = per_image.setdefault(a["image_id"], ([], []))
        if name == "Primary granules":
            slot[0].append(d)
        elif name == "Secondary granules":
            slot[1].append(d)

    all_p = [d for p, _s in per_image.values() for d in p]
    all_s = [d for _p, s in per_image.values() for d in s]
    pooled = stats(all_p, all_s) if all_p or all_s else None
    thresholds = {}
    for iid in images:
        p, s = per_image.get(iid, ([], []))
        if p or s:
            thresholds[iid] = stats(p, s)
        else:
            print(f"warning: image {images[iid]['file_name']} has no granules; pooled statistics",
                  file=sys.stderr)
            thresholds[iid] = pooled

    for a in coco["annotations"]:
        name = cat_name[a["category_id"]]
        d = diam[a["id"]]
        t = thresholds[a["image_id"]]
        if name == "Primary granules":
            target = "Specific granules" if d <= t["median"] else "Non-specific primary granules"
        elif name == "Secondary granules":
            target = "Non-specific tertiary granules" if d <= t["median"] else "Non-specific secondary granules"
        elif name == "Empty vesicles":
            target = "Empty vesicles" if d <= t["average_diameter_sg_pg"] else "Vacuoles"
        elif name == "Emptying vesicles":
            target = "Emptying vesicles"
        else:
            raise SystemExit(f"unknown 4-class category {name!r}")
        a["category_id"] = SEVEN_ID[target]
    coco["categories"] = [{"id": i, "name": n, "supercategory": "granule/vesicle"} for i, n in SEVEN]
    with open(out, "w") as f:
        json.dump(coco, f)
    print(f"reclassify_plain: {len(coco['annotations'])} annotations")


if __name__ == "__main__":
    main()
