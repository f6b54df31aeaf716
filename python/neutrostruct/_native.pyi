# Type stubs of the Rust extension module. The public API is in __init__.py, which wraps
# these: JSON texts become dicts, bytes become numpy arrays.
from typing import List, Optional, Tuple, Union

__version__: str

class InputError(ValueError):
    """An input the library cannot use; ``path``, ``line``, ``column`` say where."""

    path: Optional[str]
    line: Optional[int]
    column: Optional[int]

class Dataset:
    @property
    def origin(self) -> str: ...
    def images_json(self) -> str: ...
    def categories_json(self) -> str: ...
    def annotations_json(self) -> str: ...
    def to_coco_json(self) -> str: ...
    def __len__(self) -> int: ...

def read(path: str, format: Optional[str] = None) -> Tuple[Dataset, str]: ...
def write(dataset: Dataset, path: str, format: str) -> str: ...
def dataset_from_coco_json(text: str) -> Dataset: ...
def convert(
    src: str,
    dst: str,
    to: str,
    from_format: Optional[str] = None,
    images: Optional[str] = None,
    labelset: Optional[str] = None,
    split: Optional[str] = None,
    seed: int = 0,
    copy_images: bool = False,
    ellipses: str = "auto",
    segmentation: str = "polygon",
    force: bool = False,
    crowd: str = "keep",
) -> str: ...
def validate_files(
    dir: Optional[str] = None,
    coco: List[str] = ...,
    cvat: List[str] = ...,
    yolo: List[str] = ...,
    masks: Optional[str] = None,
    images: Optional[str] = None,
    labelset: Optional[str] = None,
    config: Optional[str] = None,
    baseline: Optional[str] = None,
    strict: bool = False,
    source_coco: Optional[str] = None,
    scale: Optional[str] = None,
) -> str: ...
def statistics(
    coco: str, scale: str, rules: Optional[str] = None, strict: bool = False
) -> Tuple[str, List[str]]: ...
def reclassify(
    coco: str,
    scale: str,
    cvat: Optional[str] = None,
    rules: Optional[str] = None,
    strict: bool = False,
    out_coco: Optional[str] = None,
    out_cvat: Optional[str] = None,
    audit: Optional[str] = None,
) -> Tuple[str, Dataset]: ...
def render_mask(
    dataset: Dataset, image: Union[str, int], kind: str = "color", labelset: Optional[str] = None
) -> Tuple[bytes, List[int], str]: ...
def rasterize(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    rotation: float,
    width: int,
    height: int,
    rule: str = "pixel-centre",
) -> bytes: ...
def fit_ellipse(
    mask: bytes, width: int, height: int, rule: str = "pixel-centre"
) -> Optional[Tuple[float, float, float, float, float]]: ...
def run_cli(argv: List[str]) -> int: ...
