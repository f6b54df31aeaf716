"""Shared by the baselines: stream the images and ellipses of a CVAT XML 1.1 file."""

import xml.etree.ElementTree as ET

# The published 4-class and 7-class colours (DESIGN §1), used when <meta> has no <color>.
DEFAULT_COLOURS = {
    "Primary granules": (230, 25, 75),
    "Secondary granules": (0, 130, 200),
    "Empty vesicles": (245, 130, 48),
    "Emptying vesicles": (145, 30, 180),
    "Specific granules": (230, 25, 75),
    "Non-specific primary granules": (60, 180, 75),
    "Non-specific tertiary granules": (255, 225, 25),
    "Non-specific secondary granules": (0, 130, 200),
    "Vacuoles": (70, 240, 240),
}


def _hex(c):
    c = c.strip().lstrip("#")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16))


def read(path):
    """Returns (labels, images): labels = [(name, (r, g, b))] in declaration order;
    images = [(name, width, height, [(label, cx, cy, rx, ry, rotation, z_order)])]."""
    labels = []
    images = []
    for _event, el in ET.iterparse(path, events=("end",)):
        if el.tag == "label":
            name = el.findtext("name")
            colour = el.findtext("color")
            if name is not None:
                labels.append((name, _hex(colour) if colour else DEFAULT_COLOURS.get(name, (255, 255, 255))))
        elif el.tag == "image":
            shapes = []
            for e in el.iter("ellipse"):
                a = e.attrib
                shapes.append((
                    a["label"], float(a["cx"]), float(a["cy"]), float(a["rx"]), float(a["ry"]),
                    float(a.get("rotation", "0")), int(a.get("z_order", "0")),
                ))
            images.append((el.get("name"), int(el.get("width")), int(el.get("height")), shapes))
            el.clear()
    return labels, images
