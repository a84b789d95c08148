"""COCO instances JSON: kept annotations as positives, rejected ones under their own key.

Each image's entries are serialized once, when the image is saved (:func:`coco_fragments`), and
:func:`render_coco` only numbers and joins them: rewriting ``coco.json`` after every save stays
cheap on a dataset of thousands of images. Numeric ids follow the dataset's image order and are
reassigned on every write; the stable identities are ``fada_image_id`` and the provenance's
``annotation_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from napari_fada.core import strict_json
from napari_fada.core.fada_format import annotation_box
from napari_fada.core.geometry import box_area, polygon_area
from napari_fada.core.proposal import Annotation, ImageRecord, Proposal
from napari_fada.core.vocabulary import structure_id
from napari_fada.data.formats.label_png import dataset_labels
from napari_fada.data.formats.provenance import provenance

REJECTED_KEY = "rejected_annotations"
_DECIMALS = 3


@dataclass(frozen=True)
class CocoFragments:
    """One image's COCO entries as JSON objects without their numeric ids."""

    image: str
    annotations: tuple[str, ...]
    rejected: tuple[str, ...]


def _dumps(value: Any) -> str:
    return strict_json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _r(value: float) -> float:
    return round(float(value), _DECIMALS)


def image_entry(record: ImageRecord, proposal: Proposal) -> dict[str, Any]:
    plane = proposal.plane
    return {
        "file_name": f"images/{record.image_id}.png",
        "width": record.width,
        "height": record.height,
        "fada_image_id": record.image_id,
        "sha256": record.sha256,
        "plane": plane.label if plane else None,
        "plane_score": plane.score if plane else None,
        "plane_source": plane.source if plane else None,
        "plane_status": plane.status if plane else None,
        "pixel_spacing_mm": list(record.pixel_spacing_mm) if record.pixel_spacing_mm else None,
        "source_path": record.source_path,
        "clip_id": record.clip_id,
        "frame_index": record.frame_index,
        "split": record.split,
    }


def annotation_entry(
    annotation: Annotation, record: ImageRecord, proposal: Proposal
) -> dict[str, Any] | None:
    """An instance: bbox (x, y, w, h), polygon segmentation (empty for a box), keypoints if any."""
    box = annotation_box(annotation)
    if box is None:
        return None
    polygon = annotation.polygon if annotation.polygon and len(annotation.polygon) >= 3 else None
    entry: dict[str, Any] = {
        "category_id": structure_id(annotation.label),
        "bbox": [_r(box[0]), _r(box[1]), _r(box[2] - box[0]), _r(box[3] - box[1])],
        "segmentation": [[_r(v) for point in polygon for v in point]] if polygon else [],
        "area": _r(polygon_area(polygon) if polygon else box_area(box)),
        "iscrowd": 0,
        "score": annotation.score,
    }
    if annotation.keypoints:
        entry["keypoints"] = [_r(v) for point in annotation.keypoints for v in point]
        entry["num_keypoints"] = sum(1 for _, _, v in annotation.keypoints if v > 0)
    entry["provenance"] = provenance(annotation, record, proposal)
    return entry


def _entries_of(
    annotations: Iterable[Annotation], record: ImageRecord, proposal: Proposal
) -> list[dict[str, Any]]:
    entries = (annotation_entry(a, record, proposal) for a in annotations)
    return [e for e in entries if e is not None]


def coco_entries(record: ImageRecord, proposal: Proposal) -> dict[str, Any]:
    """The image's COCO entries without numeric ids: ``image``, ``annotations``, ``rejected``."""
    rejected = [a for a in proposal.annotations if a.status == "rejected"]
    return {
        "image": image_entry(record, proposal),
        "annotations": _entries_of(proposal.kept(), record, proposal),
        "rejected": _entries_of(rejected, record, proposal),
    }


def coco_fragments(entries: dict[str, Any]) -> CocoFragments:
    """:func:`coco_entries` serialized, ready for :func:`render_coco`."""
    return CocoFragments(
        image=_dumps(entries["image"]),
        annotations=tuple(_dumps(e) for e in entries["annotations"]),
        rejected=tuple(_dumps(e) for e in entries["rejected"]),
    )


def categories(labels: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Every FADA structure (id = structure_id), plus other labels in use."""
    return [
        {"id": structure_id(name), "name": name, "supercategory": "fetal_ultrasound"}
        for name in dataset_labels(labels)
    ]


def _with_ids(fragment: str, ids: str) -> str:
    return "{" + ids + "," + fragment[1:]


def render_coco(images: Sequence[CocoFragments], labels: Iterable[str] = ()) -> Iterator[str]:
    """The text of ``coco.json`` in chunks; images numbered 1.. in order, annotations likewise."""
    info = _dumps({"description": "napari-fada dataset", "format_version": 1})
    yield f'{{"info":{info},\n"images":['
    for image_id, fragments in enumerate(images, start=1):
        yield ("\n" if image_id == 1 else ",\n") + _with_ids(fragments.image, f'"id":{image_id}')
    for key, kind in (("annotations", "annotations"), (REJECTED_KEY, "rejected")):
        yield f'],\n"{key}":['
        number = 0
        for image_id, fragments in enumerate(images, start=1):
            for item in getattr(fragments, kind):
                number += 1
                ids = f'"id":{number},"image_id":{image_id}'
                yield ("\n" if number == 1 else ",\n") + _with_ids(item, ids)
    yield '],\n"categories":' + _dumps(categories(labels)) + "}\n"
