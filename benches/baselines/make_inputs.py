"""Writes the inputs of issue 15's benchmarks (deterministic, seed 1):

  make_inputs.py polygon OUT.json N PER_IMAGE   polygon COCO as most tools write it: N
      annotations, 16-point polygons around ellipses, PER_IMAGE per 4096×4224 image
  make_inputs.py pile OUT.xml N                 CVAT XML 1.1, one 4096×4224 image holding N
      ellipses piled on one spot (each moved and resized by up to a pixel): the pasted block
      that makes overlap checks quadratic

Plain Python (no numpy), so the bench needs nothing beyond the baseline venv.
"""

import math
import random
import sys

CLASSES = ["Primary granules", "Secondary granules", "Empty vesicles", "Emptying vesicles"]
W, H = 4096, 4224


def polygon(out_path, n, per_image):
    rng = random.Random(1)
    n_images = (n + per_image - 1) // per_image
    with open(out_path, "w") as f:
        f.write('{"images":[')
        f.write(",".join(
            f'{{"id":{i + 1},"file_name":"img_{i + 1:05d}.png","width":{W},"height":{H}}}'
            for i in range(n_images)))
        f.write('],"categories":[')
        f.write(",".join(f'{{"id":{k + 1},"name":"{c}","supercategory":""}}'
                         for k, c in enumerate(CLASSES)))
        f.write('],"annotations":[')
        for a in range(n):
            rx, ry = rng.uniform(20, 90), rng.uniform(15, 70)
            cx, cy = rng.uniform(rx + 2, W - rx - 2), rng.uniform(rx + 2, H - rx - 2)
            th = math.radians(rng.uniform(0, 180))
            c, s = math.cos(th), math.sin(th)
            pts = []
            for k in range(16):
                t = 2 * math.pi * k / 16
                u, v = rx * math.cos(t), ry * math.sin(t)
                pts.append((cx + u * c - v * s, cy + u * s + v * c))
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            x0, y0 = min(xs), min(ys)
            area = 0.5 * abs(sum(pts[i][0] * pts[i - 1][1] - pts[i - 1][0] * pts[i][1]
                                 for i in range(16)))
            seg = ",".join(f"{x:.2f},{y:.2f}" for x, y in pts)
            f.write(("," if a else "") +
                    f'{{"id":{a + 1},"image_id":{a // per_image + 1},"category_id":{rng.randint(1, 4)},'
                    f'"segmentation":[[{seg}]],"area":{area:.2f},'
                    f'"bbox":[{x0:.2f},{y0:.2f},{max(xs) - x0:.2f},{max(ys) - y0:.2f}],"iscrowd":0}}')
        f.write("]}\n")


def pile(out_path, n):
    rng = random.Random(1)
    with open(out_path, "w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
                '  <meta>\n    <task>\n      <size>1</size>\n      <mode>annotation</mode>\n      <labels>\n')
        for c in CLASSES:
            f.write(f"        <label>\n          <name>{c}</name>\n          <type>ellipse</type>\n"
                    "          <attributes>\n          </attributes>\n        </label>\n")
        f.write('      </labels>\n    </task>\n  </meta>\n'
                f'  <image id="0" name="pile.png" width="{W}" height="{H}">\n')
        for _ in range(n):
            f.write(f'    <ellipse label="{CLASSES[rng.randint(0, 1)]}" source="manual" occluded="0" '
                    f'cx="{2000 + rng.uniform(-1, 1):.2f}" cy="{2000 + rng.uniform(-1, 1):.2f}" '
                    f'rx="{40 + rng.uniform(-1, 1):.2f}" ry="{30 + rng.uniform(-1, 1):.2f}" '
                    f'rotation="{rng.uniform(0, 10):.2f}" z_order="0">\n    </ellipse>\n')
        f.write("  </image>\n</annotations>\n")


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "polygon":
        polygon(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif kind == "pile":
        pile(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(f"make_inputs.py: unknown kind {kind!r} (polygon or pile)")
