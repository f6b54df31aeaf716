"""The documentation's Python example, run as written.

The example in the README (or the docs page it moved to) is what a new user pastes first, so
it must work after ``pip install .``: this test takes the block as it stands in the Markdown,
prepares the files it names (a small synthetic release, made by the package's own command
line), and runs it. When the example changes, the test runs the new text; nothing here
copies it.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def examples() -> list[tuple[str, str]]:
    """Every ```python block that imports the package, with the file it is in."""
    found = []
    for page in DOCS:
        if not page.is_file():
            continue
        for block in FENCE.findall(page.read_text(encoding="utf-8")):
            if "import neutrostruct" in block:
                found.append((page.name, block))
    return found


def test_the_docs_have_a_python_example() -> None:
    assert examples(), f"no ```python block importing neutrostruct in {[p.name for p in DOCS]}"


@pytest.mark.parametrize("page,block", examples(), ids=lambda v: v if v.endswith(".md") else "")
def test_python_example_runs_as_written(page: str, block: str, tmp_path: pathlib.Path, monkeypatch) -> None:
    release = tmp_path / "release"
    made = subprocess.run(
        [sys.executable, "-m", "neutrostruct._cli", "synth", "--layout", "published",
         "--images", "2", "--per-image", "30", "--width", "512", "--height", "512",
         "--out", str(release)],
        capture_output=True, text=True,
    )
    assert made.returncode == 0, made.stderr
    # The example names the 4-class files and the scale sheet in the working directory, and
    # the whole release as `release/`.
    for name in ["annotations_4classes.json", "annotations_4classes.xml", "scale.xlsx"]:
        shutil.copy(release / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, f"{page} (python example)", "exec"), {"__name__": "__docs__"})
    # What the example writes is there (it prints the rest).
    for written in re.findall(r"[\"']([\w./-]+\.(?:json|xml))[\"']", block):
        assert (tmp_path / written).is_file(), f"{page}: the example should have written {written}"
