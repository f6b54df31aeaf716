"""The Python API against the command line it wraps, on the shared conformance data.

The command line is the package's own console entry (``python -m neutrostruct._cli``), so
both sides run the same Rust library build; what is compared is that the API passes the
same requests and hands back the same results.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import zlib

import numpy as np
import pytest

import neutrostruct as ns

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance"
if not CONFORMANCE.is_dir():
    # The project's committed copy of the release folder (tests/fixtures/conformance).
    CONFORMANCE = ROOT / "tests" / "fixtures" / "conformance"
FOLDERS = sorted(p for p in CONFORMANCE.iterdir() if p.is_dir())
PUBLISHED = CONFORMANCE / "published-layout"


def cli(*args: str, cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "neutrostruct._cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def png_pixels(path: pathlib.Path) -> np.ndarray:
    """Decodes a non-interlaced 8-bit RGB or grey PNG with zlib alone (no image library)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert header is not None
    w, h = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    assert depth == 8 and interlace == 0 and colour in (0, 2)
    channels = 3 if colour == 2 else 1
    stride = w * channels
    raw = zlib.decompress(idat)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 0xFF
        else:
            # Sub, Average and Paeth depend on the pixel to the left: decoded one by one.
            cur = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                if f == 1:
                    pred = a
                elif f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out.reshape(h, w, channels) if channels == 3 else out.reshape(h, w)


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_validate_agrees_with_cli_and_finds_no_error(folder: pathlib.Path) -> None:
    api = ns.validate(folder)
    run = cli("validate", str(folder), "--format", "json")
    assert run.returncode == api["exit_code"] == 0, run.stderr
    assert api["summary"]["errors"] == 0
    report = json.loads(run.stdout)
    assert api["findings"] == report["findings"]
    assert api["summary"] == report["summary"]


def test_validate_explicit_files_agree_with_cli() -> None:
    coco = PUBLISHED / "annotations_7classes.json"
    cvat = PUBLISHED / "annotations_7classes.xml"
    api = ns.validate(coco=coco, cvat=[cvat], masks=PUBLISHED / "masks", labelset="7")
    run = cli("validate", "--coco", str(coco), "--cvat", str(cvat), "--masks", str(PUBLISHED / "masks"), "--labelset", "7", "--format", "json")
    assert run.returncode == api["exit_code"]
    assert api["findings"] == json.loads(run.stdout)["findings"]


def test_findings_have_the_json_report_keys(tmp_path: pathlib.Path) -> None:
    src = json.loads((PUBLISHED / "annotations_4classes.json").read_text())
    src["annotations"].append(dict(src["annotations"][0], id=10_000_001))
    bad = tmp_path / "dup.json"
    bad.write_text(json.dumps(src))
    api = ns.validate(coco=bad)
    assert api["exit_code"] == 1 and api["summary"]["errors"] >= 1
    codes = {f["rule"] for f in api["findings"]}
    assert "duplicate-shape" in codes or "duplicate-id" in codes
    for f in api["findings"]:
        assert {"code", "rule", "severity", "message", "file"} <= set(f)


@pytest.mark.parametrize(
    "src,to,name",
    [
        ("cvat-ellipse/annotations_4classes.xml", "coco", "out.json"),
        ("cvat-ellipse/annotations_4classes.json", "cvat", "out.xml"),
        ("datumaro-cvat/export_task_train.xml", "coco", "out.json"),
        ("datumaro-coco/instances_train.json", "cvat", "out.xml"),
        ("published-layout/annotations_7classes.xml", "yolo-seg", "yolo"),
    ],
)
def test_convert_writes_the_same_bytes_as_cli(tmp_path: pathlib.Path, src: str, to: str, name: str) -> None:
    a, b = tmp_path / "api" / name, tmp_path / "cli" / name
    a.parent.mkdir()
    b.parent.mkdir()
    done = ns.convert(CONFORMANCE / src, a, to)
    run = cli("convert", str(CONFORMANCE / src), "--to", to, "-o", str(b), "--report", "json")
    assert run.returncode == 0, run.stderr
    assert done["loss"] == json.loads(run.stdout)
    if a.is_dir():
        files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        assert files_a == files_b and files_a
        for rel in files_a:
            if rel.name == "data.yaml":
                # It names its own folder.
                continue
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    else:
        assert a.read_bytes() == b.read_bytes()


def test_convert_crowd_clear_matches_cli(tmp_path: pathlib.Path) -> None:
    src = CONFORMANCE / "cvat-ellipse" / "annotations_4classes.json"
    done = ns.convert(src, tmp_path / "a.json", "coco", crowd="clear")
    run = cli("convert", str(src), "--to", "coco", "-o", str(tmp_path / "b.json"), "--crowd", "clear", "--report", "json")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert done["loss"] == json.loads(run.stdout)
    assert all(a["iscrowd"] == 0 for a in json.loads((tmp_path / "a.json").read_text())["annotations"])


def test_read_write_round_trip_is_byte_identical(tmp_path: pathlib.Path) -> None:
    src = CONFORMANCE / "cvat-ellipse" / "annotations_4classes.xml"
    ds = ns.read(src)
    assert ds.origin == "cvat"
    assert len(ds) == len(ds.annotations) > 0
    first = ds.annotations[0]
    assert first["shape"]["type"] == "ellipse"
    assert {"cx", "cy", "rx", "ry", "rotation"} <= set(first["shape"])
    assert len(ds.categories) == 4 and all(c["name"] for c in ds.categories)
    loss = ns.write(ds, tmp_path / "back.xml", "cvat")
    assert loss["losses"] == []
    assert (tmp_path / "back.xml").read_bytes() == src.read_bytes()
    # COCO dict out and in again keeps every annotation.
    again = ns.Dataset.from_coco(ds.to_coco())
    assert len(again) == len(ds)


def test_render_mask_equals_the_cli_png(tmp_path: pathlib.Path) -> None:
    src = PUBLISHED / "annotations_7classes.json"
    ds = ns.read(src)
    out = tmp_path / "masks"
    run = cli("masks", str(src), "--out", str(out))
    assert run.returncode == 0, run.stderr
    image = ds.images[0]
    mask = ns.render_mask(ds, image["file_name"], "color")
    assert mask.dtype == np.uint8
    assert mask.shape == (image["height"], image["width"], 3)
    png = out / (pathlib.Path(image["file_name"]).stem + ".png")
    assert np.array_equal(mask, png_pixels(png))
    by_id = ns.render_mask(ds, image["id"], "color")
    assert np.array_equal(by_id, mask)
    index = ns.render_mask(ds, image["id"], "index")
    assert index.dtype == np.uint8 and index.shape == (image["height"], image["width"])
    instance = ns.render_mask(ds, image["id"], "instance")
    assert instance.dtype == np.uint16 and instance.shape == index.shape
    # Every painted class pixel belongs to some instance, and the other way round.
    assert np.array_equal(index > 0, instance > 0)


def test_rasterize_cvat_rule_reproduces_cvat_export() -> None:
    coco = json.loads((CONFORMANCE / "cvat-ellipse" / "annotations_4classes.json").read_text())
    cvat = ns.read(CONFORMANCE / "cvat-ellipse" / "annotations_4classes.xml")
    images = {i["id"]: i for i in coco["images"]}
    cvat_images = {i["id"]: i["file_name"] for i in cvat.images}
    checked = 0
    for cvat_ann, coco_ann in zip(cvat.annotations, coco["annotations"]):
        # The export keeps document order: the same shape on the same image.
        assert images[coco_ann["image_id"]]["file_name"] == cvat_images[cvat_ann["image_id"]]
        seg = coco_ann["segmentation"]
        h, w = seg["size"]
        flat = np.zeros(h * w, dtype=bool)
        pos, val = 0, False
        for n in seg["counts"]:
            flat[pos : pos + n] = val
            pos, val = pos + n, not val
        want = flat.reshape(w, h).T  # COCO RLE is column-major
        got = ns.rasterize(cvat_ann["shape"], w, h, rule="cvat")
        assert got.dtype == bool and got.shape == (h, w)
        assert np.array_equal(got, want)
        checked += 1
        if checked == 40:
            break
    assert checked == 40


def test_fit_ellipse_recovers_a_rasterized_ellipse() -> None:
    e = {"cx": 60.3, "cy": 40.7, "rx": 25.0, "ry": 12.0, "rotation": 30.0}
    mask = ns.rasterize(e, 128, 96)
    assert mask.sum() > 0
    fit = ns.fit_ellipse(mask)
    assert fit is not None
    assert abs(fit["cx"] - e["cx"]) < 0.1 and abs(fit["cy"] - e["cy"]) < 0.1
    assert abs(fit["rx"] - e["rx"]) < 0.5 and abs(fit["ry"] - e["ry"]) < 0.5
    assert abs(fit["rotation"] - e["rotation"]) < 1.0
    assert ns.fit_ellipse(np.zeros((4, 4), dtype=np.uint8)) is None


def test_statistics_and_reclassify_agree_with_cli(tmp_path: pathlib.Path) -> None:
    coco = PUBLISHED / "annotations_4classes.json"
    cvat = PUBLISHED / "annotations_4classes.xml"
    scale = PUBLISHED / "scale.xlsx"
    rows, warnings = ns.statistics(coco, scale)
    run = cli("stats", "--coco", str(coco), "--scale", str(scale), "-o", str(tmp_path / "s.json"))
    assert run.returncode == 0, run.stderr
    assert rows == json.loads((tmp_path / "s.json").read_text())
    assert isinstance(warnings, list)
    summary, seven = ns.reclassify(coco, scale, cvat=cvat, out_coco=tmp_path / "a7.json", out_cvat=tmp_path / "a7.xml")
    assert summary["cvat_errors"] == []
    run = cli("reclassify", "--coco", str(coco), "--scale", str(scale), "--cvat", str(cvat), "--out-coco", str(tmp_path / "b7.json"), "--out-cvat", str(tmp_path / "b7.xml"))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "a7.json").read_bytes() == (tmp_path / "b7.json").read_bytes()
    assert (tmp_path / "a7.xml").read_bytes() == (tmp_path / "b7.xml").read_bytes()
    # The published files hold the same 7-class labels.
    published = ns.read(PUBLISHED / "annotations_7classes.json")
    names = {c["id"]: c["name"] for c in published.categories}
    ours = {c["id"]: c["name"] for c in seven.categories}
    assert [names[a["category_id"]] for a in published.annotations] == [ours[a["category_id"]] for a in seven.annotations]
    assert sum(summary["per_class"].values()) == len(seven)


@pytest.mark.parametrize(
    "name,content,line,column",
    [
        ("broken.json", '{"images": [\n  {"id": 1,, }\n]}', 2, None),
        ("broken.xml", "<annotations>\n  <image id='1' name='a' width='1' height='1'>\n</annotations>", 3, None),
        ("empty.json", "", 1, 1),
    ],
)
def test_hostile_input_raises_input_error(tmp_path: pathlib.Path, name: str, content: str, line: int, column) -> None:
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(ns.InputError) as caught:
        ns.read(p)
    err = caught.value
    assert err.path is not None and pathlib.Path(err.path).name == name
    assert err.line == line
    if column is not None:
        assert err.column == column
    assert err.column is not None and err.column >= 1
    # The CLI refuses the same file with exit 2 and the same position.
    run = cli("convert", str(p), "--to", "coco", "-o", str(tmp_path / "o.json"))
    assert run.returncode == 2
    assert f"{name}:{err.line}:{err.column}" in run.stderr


def test_refusals_raise_input_error(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "a.xml"
    shutil.copy(CONFORMANCE / "cvat-ellipse" / "annotations_4classes.xml", src)
    with pytest.raises(ns.InputError):
        ns.convert(src, src, "cvat")  # the output is the input
    assert src.read_bytes() == (CONFORMANCE / "cvat-ellipse" / "annotations_4classes.xml").read_bytes()
    with pytest.raises(ns.InputError):
        ns.read(tmp_path / "missing.json")
    with pytest.raises(ValueError):
        ns.convert(src, tmp_path / "o", "png")
    # A zip bomb's ratio is refused, not inflated.
    import zipfile

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("annotations.xml", "<annotations>" + " " * 50_000_000 + "</annotations>")
    with pytest.raises(ns.InputError):
        ns.read(bomb)


def test_work_runs_without_the_gil() -> None:
    """While one thread validates, another Python thread keeps running."""
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        before = ticks
        ns.validate(PUBLISHED)
        during = ticks - before
    finally:
        done.set()
        t.join()
    # Holding the GIL for the whole run would let the counter advance only at the switch
    # interval checks before and after; released, it runs all along.
    assert during > 1000


def test_console_command_runs_the_cli() -> None:
    run = cli("--version")
    assert run.returncode == 0 and run.stdout.startswith("neutrostruct ")
    run = cli("rules")
    assert run.returncode == 0 and "duplicate-shape" in run.stdout
    run = cli("no-such-command")
    assert run.returncode == 2
