#!/usr/bin/env python3
"""COCO `area` of the polygons neutrostruct writes, checked against pycocotools.

pycocotools computes a polygon annotation's area by rasterising it: `annToRLE` (each ring
through `frPyObjects`, the rings merged) and `maskUtils.area`. This script writes a CVAT file
of random ellipses (tiny to large, every rotation, many crossing the image border), boxes and
polygons, converts it with `neutrostruct convert --to coco`, and compares every written
`area` with pycocotools' pixel count of the written segmentation.

With `--fixture PATH` it also writes the cases `cargo test` checks without Python
(`tests/coco_polygon_area.rs`): random polygons (self-intersecting, outside the image, several
rings) and a sample of the written ones, each with pycocotools' area.

Usage: /work/pyvenv/bin/python benches/polygon_area_pycocotools.py BINARY [--n 600] [--seed 1]
       [--fixture tests/fixtures/pycocotools_polygon_areas.json]
"""
import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pycocotools.mask as mask_utils
from pycocotools.coco import COCO


def cvat_file(rng, n, sizes):
    per_image = max(1, n // len(sizes))
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>"]
    for i, (w, h) in enumerate(sizes):
        out.append(f'  <image id="{i}" name="im{i}.png" width="{w}" height="{h}">')
        for k in range(per_image):
            kind = rng.random()
            if kind < 0.8:
                r = rng.choice([rng.uniform(0.3, 3), rng.uniform(3, 20), rng.uniform(20, 80)])
                rx, ry = r, r * rng.uniform(0.3, 1.0)
                cx, cy = rng.uniform(-15, w + 15), rng.uniform(-15, h + 15)
                rot = rng.uniform(0, 360)
                out.append(
                    f'    <ellipse label="Primary granules" source="manual" occluded="0" '
                    f'cx="{cx:.2f}" cy="{cy:.2f}" rx="{rx:.2f}" ry="{ry:.2f}" '
                    f'rotation="{rot:.2f}" z_order="0">\n    </ellipse>'
                )
            elif kind < 0.9:
                x, y = rng.uniform(-10, w), rng.uniform(-10, h)
                out.append(
                    f'    <box label="Secondary granules" source="manual" occluded="0" '
                    f'xtl="{x:.2f}" ytl="{y:.2f}" xbr="{x + rng.uniform(0.5, 40):.2f}" '
                    f'ybr="{y + rng.uniform(0.5, 40):.2f}" z_order="0">\n    </box>'
                )
            else:
                pts = ";".join(
                    f"{rng.uniform(-10, w + 10):.2f},{rng.uniform(-10, h + 10):.2f}"
                    for _ in range(rng.randint(3, 9))
                )
                out.append(
                    f'    <polygon label="Empty vesicles" source="manual" occluded="0" '
                    f'points="{pts}" z_order="0">\n    </polygon>'
                )
        out.append("  </image>")
    out.append("</annotations>")
    return "\n".join(out) + "\n"


def pyco_area(rings, h, w):
    return int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(rings, h, w))))


def shoelace(rings):
    total = 0.0
    for r in rings:
        xs, ys = r[0::2], r[1::2]
        n = len(xs)
        total += abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2
    return total


def random_cases(rng, count):
    cases = []
    for _ in range(count):
        w, h = rng.randint(1, 120), rng.randint(1, 120)
        rings = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            k = rng.randint(3, 12)
            # Coordinates on a 0.1 grid sometimes (ties with the ×5 grid), else anything.
            if rng.random() < 0.3:
                ring = [round(rng.uniform(-20, max(w, h) + 20), 1) for _ in range(2 * k)]
            else:
                ring = [round(rng.uniform(-20, max(w, h) + 20), 4) for _ in range(2 * k)]
            rings.append(ring)
        cases.append({"h": h, "w": w, "rings": rings, "area": pyco_area(rings, h, w)})
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fixture")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sizes = [(320, 240), (97, 131), (640, 660), (50, 40)]
    with tempfile.TemporaryDirectory() as tmp:
        xml, js = Path(tmp) / "in.xml", Path(tmp) / "out.json"
        xml.write_text(cvat_file(rng, args.n, sizes))
        subprocess.run(
            [args.binary, "convert", "--to", "coco", str(xml), "-o", str(js)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        coco = COCO(str(js))
    anns = coco.dataset["annotations"]
    equal, border, border_equal, shoelace_equal, exact_off = 0, 0, 0, 0, []
    written = []
    for a in anns:
        img = coco.imgs[a["image_id"]]
        h, w = img["height"], img["width"]
        px = int(mask_utils.area(coco.annToRLE(a)))
        x, y, bw, bh = a["bbox"]
        crosses = x < 0 or y < 0 or x + bw > w or y + bh > h
        border += crosses
        if px == a["area"]:
            equal += 1
            border_equal += crosses
        else:
            print(f"annotation {a['id']}: written area {a['area']}, pycocotools {px}")
        shoelace_equal += round(shoelace(a["segmentation"])) == px
        ns = a.get("neutrostruct", {})
        if ns.get("type") == "ellipse":
            exact_off.append(math.pi * ns["rx"] * ns["ry"] - px)
        written.append({"h": h, "w": w, "rings": a["segmentation"], "area": px})
    exact_off.sort()
    print(f"{equal}/{len(anns)} written areas equal pycocotools' pixel count "
          f"({border_equal}/{border} of the polygons crossing the image border)")
    print(f"for comparison: round(shoelace) equals it for {shoelace_equal}/{len(anns)}; "
          f"pi*rx*ry (the old area) minus it, median {exact_off[len(exact_off) // 2]:.2f} px "
          f"over {len(exact_off)} ellipses")
    if args.fixture:
        small = [c for c in written if sum(len(r) for r in c["rings"]) <= 80]
        sample = rng.sample(small, min(120, len(small)))
        cases = random_cases(rng, 300) + sample
        Path(args.fixture).write_text(
            json.dumps({"generated_by": "benches/polygon_area_pycocotools.py --seed "
                        f"{args.seed}", "cases": cases}, separators=(",", ":")) + "\n"
        )
        print(f"fixture: {len(cases)} cases -> {args.fixture}")
    sys.exit(0 if equal == len(anns) else 1)


if __name__ == "__main__":
    main()
