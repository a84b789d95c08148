"""The planes of a fetal screening scan, in words, with FADA's class label beside each.

The embedded model names planes in words a sonographer uses; FADA names some of the same
planes with its own class labels (``BPD_PLANE``, ``AC_PLANE``, ``FL_PLANE``). A dataset may also
label a plane more coarsely than the model does: "brain" is a head plane of any level, so it
stands for the set of head planes. Such a coarse name is an *alias* for a set of planes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScanPlane:
    """One plane: its name, FADA's class label for it ("" where FADA has none), what it shows,
    and whether structures are outlined on it (the shared datasets' masks and the embedded
    model; on the others a plane call is all there is to propose)."""

    name: str
    fada_label: str
    description: str
    segmented: bool = False


SCAN_PLANES: tuple[ScanPlane, ...] = (
    ScanPlane("trans-thalamic", "BPD_PLANE", "head plane for HC and BPD", segmented=True),
    ScanPlane("trans-ventricular", "BPD_PLANE", "head plane through the lateral ventricles", True),
    ScanPlane("transperineal", "", "intrapartum view of the fetal head and pubic symphysis", True),
    ScanPlane("abdomen", "AC_PLANE", "abdominal circumference plane"),
    ScanPlane("femur", "FL_PLANE", "femur length plane"),
    ScanPlane("thorax", "", "four-chamber view of the heart"),
    ScanPlane("cervix", "", "maternal cervix"),
    ScanPlane("other", "Other", "any other view, or not an ultrasound image at all"),
)
PLANE_NAMES: tuple[str, ...] = tuple(p.name for p in SCAN_PLANES)
#: The plane of images that show none of the others (and of anything that is no ultrasound).
OTHER_PLANE = "other"

_HEAD_PLANES = ("trans-thalamic", "trans-ventricular")
#: Coarse plane names found in datasets, and FADA's class labels, each the set of planes it
#: stands for (a dataset labelled by FADA, or by hand with FADA's labels, trains too).
PLANE_ALIASES: dict[str, tuple[str, ...]] = {
    "brain": _HEAD_PLANES,
    "head": _HEAD_PLANES,
    "trans-cerebellar": _HEAD_PLANES,
    "BPD_PLANE": _HEAD_PLANES,
    "intrapartum": ("transperineal",),
    "four-chamber": ("thorax",),
    "AC_PLANE": ("abdomen",),
    "Abd_plane": ("abdomen",),
    "FL_PLANE": ("femur",),
    "FL": ("femur",),
    "Other": ("other",),
    "NO_PLANE": ("other",),
}


def fada_label(plane: str) -> str:
    """FADA's class label for ``plane`` ("" when FADA has none or the plane is unknown)."""
    for known in SCAN_PLANES:
        if known.name == plane:
            return known.fada_label
    return ""


def is_segmented(name: str) -> bool | None:
    """Whether structures are outlined on the plane ``name`` (or on the planes a coarse name
    stands for); None for a name that is no scan plane."""
    names = {name, *PLANE_ALIASES.get(name, ())}
    found = [p.segmented for p in SCAN_PLANES if p.name in names]
    return any(found) if found else None


def plane_set(name: str, planes: Sequence[str]) -> tuple[int, ...]:
    """Indices into ``planes`` that the dataset's plane ``name`` stands for: itself when the model
    knows it, else the planes of its alias; empty when it names none of them."""
    name = name.strip()
    if name in planes:
        return (list(planes).index(name),)
    return tuple(list(planes).index(p) for p in PLANE_ALIASES.get(name, ()) if p in planes)


def matches(predicted: str | None, truth: str, aliases: Iterable[str] = ()) -> bool:
    """Whether a predicted plane is right for the true plane name (or one of its aliases): the
    same name, or one of the planes a coarse true name stands for."""
    if predicted is None:
        return False
    names = {truth, *aliases} - {""}
    return predicted in names or any(predicted in PLANE_ALIASES.get(n, ()) for n in names)
