"""neutrostruct: convert and validate ellipse annotation datasets shaped like TEM-NeutroStruct.

The work is done by the Rust library (``neutrostruct._native``), which releases the GIL while
it reads, converts, validates and renders. Results come back as plain Python objects: dicts
with the same keys as the command line's JSON outputs, and numpy arrays for masks.

    >>> import neutrostruct as ns
    >>> ds = ns.read("annotations.xml")
    >>> report = ns.validate("release/")
    >>> report["summary"]["errors"]
    0
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._native import InputError

__all__ = [
    "Dataset",
    "InputError",
    "read",
    "write",
    "convert",
    "validate",
    "statistics",
    "reclassify",
    "render_mask",
    "rasterize",
    "fit_ellipse",
    "__version__",
]

__version__: str = _native.__version__

PathLike = Union[str, "os.PathLike[str]"]


def _path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


class Dataset:
    """An annotation dataset (images, categories, annotations), held by the Rust library.

    The lists are built on first access, as plain dicts; the dataset itself is not changed
    through them. To change a dataset, edit ``to_coco()`` and make a new one with
    ``Dataset.from_coco``.
    """

    __slots__ = ("_native", "_images", "_categories", "_annotations")

    def __init__(self, native: "_native.Dataset") -> None:
        self._native = native
        self._images: Optional[List[Dict[str, Any]]] = None
        self._categories: Optional[List[Dict[str, Any]]] = None
        self._annotations: Optional[List[Dict[str, Any]]] = None

    @property
    def images(self) -> List[Dict[str, Any]]:
        """The images: ``id``, ``file_name``, ``width``, ``height``, ``subset``."""
        if self._images is None:
            self._images = json.loads(self._native.images_json())
        return self._images

    @property
    def categories(self) -> List[Dict[str, Any]]:
        """The categories: ``id``, ``name``, ``supercategory``, ``color`` (RGB or None)."""
        if self._categories is None:
            self._categories = json.loads(self._native.categories_json())
        return self._categories

    @property
    def annotations(self) -> List[Dict[str, Any]]:
        """The annotations: ``id``, ``image_id``, ``category_id``, ``shape`` (a dict with its
        ``type``: ellipse ``cx, cy, rx, ry, rotation``; polygon ``rings``; box; mask; …),
        ``occluded``, ``z_order``, ``attributes``."""
        if self._annotations is None:
            self._annotations = json.loads(self._native.annotations_json())
        return self._annotations

    @property
    def origin(self) -> str:
        """The format the dataset was read from (``coco`` or ``cvat``)."""
        return self._native.origin

    def to_coco(self) -> Dict[str, Any]:
        """The dataset as the COCO JSON object this library writes."""
        return json.loads(self._native.to_coco_json())

    @classmethod
    def from_coco(cls, coco: Dict[str, Any]) -> "Dataset":
        """A dataset from a COCO JSON object (for example an edited ``to_coco()``)."""
        return cls(_native.dataset_from_coco_json(json.dumps(coco)))

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return (
            f"<neutrostruct.Dataset from {self.origin}: {len(self.images)} images, "
            f"{len(self.categories)} categories, {len(self)} annotations>"
        )


def read(path: PathLike, format: Optional[str] = None) -> Dataset:
    """Reads a COCO JSON, CVAT XML or CVAT zip file; ``format`` (``"coco"``/``"cvat"``) is
    told from the content when omitted. Raises ``InputError`` with ``path``, ``line`` and
    ``column`` for a file that does not parse."""
    native, _loss = _native.read(_path(path), format)
    return Dataset(native)


def write(dataset: Dataset, path: PathLike, format: str) -> Dict[str, Any]:
    """Writes ``dataset`` as ``"coco"`` or ``"cvat"``; returns the lossiness (counts in and
    out, and every loss with its code), as ``convert --report json`` prints it."""
    return json.loads(_native.write(dataset._native, _path(path), format))


def convert(
    src: PathLike,
    dst: PathLike,
    to: str,
    *,
    from_format: Optional[str] = None,
    images: Optional[PathLike] = None,
    labelset: Optional[str] = None,
    split: Optional[str] = None,
    seed: int = 0,
    copy_images: bool = False,
    ellipses: str = "auto",
    segmentation: str = "polygon",
    force: bool = False,
    crowd: str = "keep",
) -> Dict[str, Any]:
    """Converts ``src`` into ``dst`` as ``to`` (coco, cvat, masks, yolo, yolo-seg, yolo-obb,
    voc), with the command line's defaults. Returns ``{"loss": lossiness, "notes": [...],
    "from": ..., "to": ...}``; ``loss`` is what ``convert --report json`` prints. A folder
    output that this library did not write before is refused (``InputError``) unless
    ``force``. ``crowd="clear"`` writes ``iscrowd: 0`` (CVAT's COCO export marks every
    mask as crowd, which trainers skip); it is reported as a note, not a loss."""
    return json.loads(
        _native.convert(
            _path(src),
            _path(dst),
            to,
            from_format=from_format,
            images=_path(images),
            labelset=labelset,
            split=split,
            seed=seed,
            copy_images=copy_images,
            ellipses=ellipses,
            segmentation=segmentation,
            force=force,
            crowd=crowd,
        )
    )


def validate(
    path_or_dir: Optional[PathLike] = None,
    *,
    coco: Union[PathLike, Sequence[PathLike], None] = None,
    cvat: Union[PathLike, Sequence[PathLike], None] = None,
    yolo: Union[PathLike, Sequence[PathLike], None] = None,
    masks: Optional[PathLike] = None,
    images: Optional[PathLike] = None,
    labelset: Optional[str] = None,
    config: Optional[PathLike] = None,
    baseline: Optional[PathLike] = None,
    strict: bool = False,
    source_coco: Optional[PathLike] = None,
    scale: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Validates a dataset folder and/or files. Returns the JSON report's object
    (``findings`` as dicts with the report's keys, ``summary``), plus ``exit_code`` (what
    the command line would exit with) and ``notes``."""

    def many(v: Union[PathLike, Sequence[PathLike], None]) -> List[str]:
        if v is None:
            return []
        if isinstance(v, (str, os.PathLike)):
            return [os.fspath(v)]
        return [os.fspath(p) for p in v]

    return json.loads(
        _native.validate_files(
            dir=_path(path_or_dir),
            coco=many(coco),
            cvat=many(cvat),
            yolo=many(yolo),
            masks=_path(masks),
            images=_path(images),
            labelset=labelset,
            config=_path(config),
            baseline=_path(baseline),
            strict=strict,
            source_coco=_path(source_coco),
            scale=_path(scale),
        )
    )


def statistics(
    coco: PathLike,
    scale: PathLike,
    *,
    rules: Optional[PathLike] = None,
    strict: bool = False,
) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Per-image granule statistics of a 4-class COCO with its scale table: the rows of
    ``stats -o stats.json``, and the warnings (images that took the default scale)."""
    table, warnings = _native.statistics(_path(coco), _path(scale), _path(rules), strict)
    return json.loads(table), list(warnings)


def reclassify(
    coco: PathLike,
    scale: PathLike,
    *,
    cvat: Optional[PathLike] = None,
    rules: Optional[PathLike] = None,
    strict: bool = False,
    out_coco: Optional[PathLike] = None,
    out_cvat: Optional[PathLike] = None,
    audit: Optional[PathLike] = None,
) -> Tuple[Dict[str, Any], Dataset]:
    """The 4→7 class division. Writes the outputs given (nothing when the CVAT shapes do not
    match one-to-one: see ``cvat_errors``) and returns a summary (``per_class``,
    ``warnings``, ``cvat_errors``, ``written``) and the 7-class dataset."""
    summary, native = _native.reclassify(
        _path(coco),
        _path(scale),
        cvat=_path(cvat),
        rules=_path(rules),
        strict=strict,
        out_coco=_path(out_coco),
        out_cvat=_path(out_cvat),
        audit=_path(audit),
    )
    return json.loads(summary), Dataset(native)


def render_mask(
    dataset: Dataset,
    image: Union[str, int],
    kind: str = "color",
    *,
    labelset: Optional[str] = None,
) -> np.ndarray:
    """The mask of one image (its file name or id), painted as ``masks`` paints it:
    ``"color"`` gives ``uint8`` of shape ``(height, width, 3)``; ``"index"`` ``uint8`` and
    ``"instance"`` ``uint16`` of shape ``(height, width)``. No PNG is written."""
    raw, shape, dtype = _native.render_mask(dataset._native, image, kind, labelset)
    return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).astype(
        np.uint16 if kind == "instance" else np.uint8, copy=False
    )


def rasterize(
    ellipse: Union[Dict[str, float], Sequence[float]],
    width: int,
    height: int,
    rule: str = "pixel-centre",
) -> np.ndarray:
    """The pixels of one ellipse (``{"cx","cy","rx","ry","rotation"}`` or a 5-sequence) as a
    ``bool`` array of shape ``(height, width)``. ``rule="pixel-centre"`` is this library's
    rule (a pixel is inside when its centre is); ``"cvat"`` is CVAT's COCO export
    (``cv2.ellipse`` on rounded parameters)."""
    if isinstance(ellipse, dict):
        cx, cy, rx, ry, rot = (float(ellipse[k]) for k in ("cx", "cy", "rx", "ry", "rotation"))
    else:
        cx, cy, rx, ry, rot = (float(v) for v in ellipse)
    raw = _native.rasterize(cx, cy, rx, ry, rot, width, height, rule)
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width).astype(bool)


def fit_ellipse(mask: np.ndarray, rule: str = "pixel-centre") -> Optional[Dict[str, float]]:
    """The ellipse with the second moments of the nonzero pixels of a 2-D mask
    (``cx, cy, rx, ry, rotation``; ``rx ≥ ry``), or None when the mask is empty."""
    a = np.ascontiguousarray(np.asarray(mask) != 0, dtype=np.uint8)
    if a.ndim != 2:
        raise ValueError(f"fit_ellipse: a 2-D mask is needed, got shape {a.shape}")
    h, w = a.shape
    fit = _native.fit_ellipse(a.tobytes(), w, h, rule)
    if fit is None:
        return None
    return dict(zip(("cx", "cy", "rx", "ry", "rotation"), fit))
