"""Ground truth from a folder in the shared layout: manifest.csv, images/, masks/, labels.json.

A plane-only folder (manifest.csv and images/, no ``mask`` column and no labels.json, as
``fetal-us-planes``) is read too: its samples have no mask and label no structure.

Our saved datasets are a superset of that layout, so this reads them too (their ``plane`` is
the interpretation's imaging-plane text, their ``fada_plane_label`` the accepted plane class).
Images and masks are read when asked for, so iterating over thousands of samples is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from napari_fada.core.geometry import mask_to_polygons, polygon_box
from napari_fada.core.polygon_simplify import simplify_polygon
from napari_fada.core.proposal import Annotation, ImageRecord, ModelInfo, PlaneCall, Proposal
from napari_fada.data.formats.csv_text import read_csv
from napari_fada.data.formats.manifest import HC_KEY
from napari_fada.errors import DatasetError

GROUND_TRUTH = "ground-truth"
#: Outline simplification that still rasterizes back to the exact mask: traced outlines pass at
#: least 1/(2*sqrt(2)) ~ 0.354 px from every pixel centre, so moving them by less flips none.
EXACT_TOLERANCE = 0.3
_REQUIRED = ("id", "image")


@dataclass(frozen=True)
class ReferenceSample:
    """One manifest row; ``image`` and ``mask`` read their files on each access. ``mask_path``
    is None in a plane-only folder."""

    image_id: str
    image_path: Path
    mask_path: Path | None
    structures: dict[int, str]
    width: int | None
    height: int | None
    plane: str
    fada_plane_label: str
    pixel_spacing_mm: tuple[float, float] | None
    head_circumference_mm: float | None
    split: str
    source_dataset: str
    source_file: str

    @property
    def image(self) -> np.ndarray:
        return _read_png(self.image_path)

    @property
    def has_mask(self) -> bool:
        return self.mask_path is not None

    @property
    def mask(self) -> np.ndarray:
        """``(height, width)`` label image: 0 background, values named by :attr:`structures`;
        all background for a plane-only sample."""
        if self.mask_path is None:
            image = self.image
            return np.zeros(image.shape[:2], dtype=np.uint8)
        return _read_png(self.mask_path)


def _read_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as handle:
            return np.asarray(handle)
    except (OSError, ValueError) as error:
        raise DatasetError(
            f"Cannot read {path}: {error}. Check the file or the manifest."
        ) from error


def read_structures(root: Path) -> dict[int, str]:
    """labels.json's ``{"structures": {"<id>": "<name>"}}`` as ``{id: name}``."""
    path = root / "labels.json"
    try:
        names = json.loads(path.read_text(encoding="utf-8"))["structures"]
        return {int(k): str(v) for k, v in names.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DatasetError(
            f"Cannot read the structure names in {path} ({error}): the folder needs a labels.json "
            'like {"structures": {"1": "head"}}.'
        ) from error


def _number(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def _size(text: str) -> int | None:
    value = _number(text)
    return int(value) if value is not None else None


def iter_reference(root: Path) -> Iterator[ReferenceSample]:
    """The samples of ``root`` in manifest order; DatasetError when the folder is not one."""
    root = Path(root)
    rows = read_csv(root / "manifest.csv", required=_REQUIRED)
    with_masks = bool(rows) and "mask" in rows[0]
    structures = read_structures(root) if with_masks else {}
    for row in rows:
        size = _number(row.get("pixel_size_mm", ""))
        yield ReferenceSample(
            image_id=row["id"],
            image_path=root / row["image"],
            mask_path=root / row["mask"] if with_masks and row["mask"] else None,
            structures=structures,
            width=_size(row.get("width", "")),
            height=_size(row.get("height", "")),
            plane=row.get("plane", ""),
            fada_plane_label=row.get("fada_plane_label", ""),
            pixel_spacing_mm=(size, size) if size is not None else None,
            head_circumference_mm=_number(row.get("head_circumference_mm", "")),
            split=row.get("split", ""),
            source_dataset=row.get("source_dataset", ""),
            source_file=row.get("source_file", ""),
        )


def labelled_structures(root: Path) -> dict[str, frozenset[str]]:
    """Per source dataset, the structures its masks label (the union of the manifest's
    ``structures`` column over its rows).

    The shared collections are labelled partly: HC18 marks only the skull, the brain-plane set
    only Brain, CSP and LV. A structure outside its source's set is unlabelled there, not absent.
    A source whose rows name no structure (or a manifest without the column) is left out:
    nothing is known of what it labels.
    """
    found: dict[str, set[str]] = {}
    for row in read_csv(Path(root) / "manifest.csv", required=_REQUIRED):
        names = {n.strip() for n in row.get("structures", "").split(";") if n.strip()}
        found.setdefault(row.get("source_dataset", ""), set()).update(names)
    return {source: frozenset(names) for source, names in found.items() if names}


def reference_record(sample: ReferenceSample, sha256: str = "") -> ImageRecord:
    """The sample as an :class:`ImageRecord` (sha256 left for the dataset to fill in)."""
    width, height = sample.width, sample.height
    if width is None or height is None:
        height, width = sample.mask.shape[:2]
    return ImageRecord(
        image_id=sample.image_id,
        width=width,
        height=height,
        sha256=sha256,
        source_path=sample.source_file or None,
        pixel_spacing_mm=sample.pixel_spacing_mm,
        source_dataset=sample.source_dataset or None,
        split=sample.split or None,
    )


def reference_proposal(sample: ReferenceSample) -> Proposal:
    """The label mask as accepted annotations: one per connected component, polygon and box.

    Polygons trace pixel edges, simplified only by :data:`EXACT_TOLERANCE`, so rasterizing them
    gives the mask back exactly (holes aside). The plane class becomes an accepted plane call,
    the plane text the interpretation's ``imaging_plane``, the head circumference
    ``biometry["hc_mm"]``.
    """
    mask = sample.mask
    height, width = mask.shape[:2]
    annotations = []
    for value in (int(v) for v in np.unique(mask) if v != 0):
        if value not in sample.structures:
            raise DatasetError(
                f"{sample.mask_path} has label value {value}, which labels.json does not name: "
                "add it to labels.json."
            )
        for traced in mask_to_polygons(mask == value, tolerance=0.0, min_area=0.0):
            polygon = simplify_polygon(traced, EXACT_TOLERANCE)
            annotations.append(
                Annotation(
                    label=sample.structures[value],
                    box=polygon_box(polygon),
                    polygon=polygon,
                    source=GROUND_TRUTH,
                    status="accepted",
                )
            )
    plane = sample.fada_plane_label
    hc = sample.head_circumference_mm
    return Proposal(
        width=width,
        height=height,
        annotations=annotations,
        plane=PlaneCall(plane, source=GROUND_TRUTH, status="accepted") if plane else None,
        interpretation={"imaging_plane": sample.plane} if sample.plane else None,
        biometry={HC_KEY: hc} if hc is not None else {},
        model=ModelInfo(model_id=GROUND_TRUTH, backend=GROUND_TRUTH),
    )
