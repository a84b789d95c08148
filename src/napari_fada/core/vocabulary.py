"""FADA's structure and plane vocabulary and the MAP phase (routing) of its pipeline.

Everything here follows ``fada-contract.md``: the 36 structure labels, the plane classes seen in
training, and the rules that choose which structures to ask for in the detect and segment phases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

STRUCTURES: tuple[str, ...] = (
    "AB", "B", "Brain", "C", "CRL", "CRL_KP", "CSP", "DP", "G", "H", "LV", "MDS", "MLS", "MX",
    "NB", "NT", "NTAPS", "NTKpoints", "RBP", "ScaleBar", "ScaleBarKpoints", "abdomen", "arm",
    "artery", "cardiac", "fetal_head", "head", "legs", "liver", "nasal_bone", "nasal_skin",
    "nasal_tip", "pubic_symphysis", "stomach", "thorax", "vein",
)  # fmt: skip

#: Structures that FADA answers with keypoints instead of a polygon.
KEYPOINT_STRUCTURES: frozenset[str] = frozenset({"CRL_KP", "NTKpoints", "ScaleBarKpoints"})

PLANE_LABELS: tuple[str, ...] = (
    "huvf", "huvb", "hdvf", "hdvb", "legs", "arms", "abdomen", "Abd_plane", "head", "BPD_PLANE",
    "FL_PLANE", "NO_PLANE", "AC_PLANE", "FL", "Aorta", "Flows", "V sign", "X sign", "Other",
    "liver",
)  # fmt: skip

#: The eight keys of a structurally compliant INTERPRET answer.
INTERPRETATION_KEYS: tuple[str, ...] = (
    "anatomical_structures", "fetal_orientation", "imaging_plane", "biometric_measurements",
    "gestational_age", "image_quality", "normality_assessment", "clinical_recommendations",
)  # fmt: skip


@dataclass(frozen=True)
class RoutingGroup:
    """Which structures the DETECT and SEGMENT phases ask for in one anatomical context."""

    name: str
    detect: tuple[str, ...]
    segment: tuple[str, ...]


_DOPPLER = ("artery", "liver", "stomach", "vein")

ROUTING_GROUPS: dict[str, RoutingGroup] = {
    g.name: g
    for g in (
        RoutingGroup("brain", ("Brain", "CSP", "LV"), ("Brain",)),
        RoutingGroup("cardiac", ("cardiac", "thorax"), ("cardiac", "thorax")),
        RoutingGroup("nt_nasal", ("NT", "nasal_bone", "nasal_skin", "nasal_tip"), ("NT",)),
        RoutingGroup("crl", ("B", "CRL", "H", "NB"), ()),
        RoutingGroup("doppler", _DOPPLER, _DOPPLER),
        RoutingGroup(
            "pelvimetry", ("fetal_head", "pubic_symphysis"), ("fetal_head", "pubic_symphysis")
        ),
        RoutingGroup("body_pose", ("abdomen", "arm", "head", "legs"), ()),
        RoutingGroup("femur", ("legs",), ()),
    )
}

DEFAULT_GROUP = "body_pose"

#: Plane class labels that route straight to a group.
PLANE_TO_GROUP: dict[str, str] = {
    "BPD_PLANE": "brain",
    "Aorta": "cardiac",
    "V sign": "cardiac",
    "X sign": "cardiac",
    "Flows": "doppler",
    "liver": "doppler",
    "FL_PLANE": "femur",
    "FL": "femur",
}

#: Imaging-plane phrases (matched in the interpretation's plane and orientation text).
_PLANE_PHRASES: tuple[tuple[str, str], ...] = (
    (r"trans-?\s?thalamic|trans-?\s?cerebellar|trans-?\s?ventricular|biparietal", "brain"),
    (r"four[- ]chamber|4[- ]chamber|outflow tract|three[- ]vessel|3[- ]vessel", "cardiac"),
    (r"nuchal", "nt_nasal"),
    (r"femur length|femur", "femur"),
    (r"abdominal circumference", "body_pose"),
    (r"crown[- ]rump", "crl"),
    (r"doppler|waveform", "doppler"),
    (r"cervical length|transperineal|intrapartum", "pelvimetry"),
)

#: Keywords scored over every field of the interpretation when no phrase matched.
_GROUP_KEYWORDS: dict[str, tuple[str, ...]] = {
    "brain": ("brain", "thalam", "ventric", "cerebell", "cavum", "septum", "skull", "head"),
    "cardiac": ("heart", "cardiac", "chamber", "ventricle", "atri", "aorta", "thorax"),
    "nt_nasal": ("nuchal", "nasal", "translucency", "profile"),
    "crl": ("crown", "rump", "embryo", "first trimester"),
    "doppler": ("doppler", "artery", "vein", "umbilical", "flow", "liver", "stomach"),
    "pelvimetry": ("pubic", "symphysis", "perineal", "labour", "labor", "progression"),
    "body_pose": ("abdomen", "arm", "leg", "limb", "body"),
    "femur": ("femur", "femoral"),
}


@dataclass(frozen=True)
class Route:
    """The MAP phase's answer: a group, why it was chosen, and the structures it asks for."""

    group: str
    reason: str
    detect: tuple[str, ...]
    segment: tuple[str, ...]

    @classmethod
    def of_group(cls, group: str, reason: str) -> Route:
        """The route to one of FADA's :data:`ROUTING_GROUPS`."""
        return cls(group, reason, ROUTING_GROUPS[group].detect, ROUTING_GROUPS[group].segment)


def _flatten_text(value: object) -> str:
    if isinstance(value, Mapping):
        return " ".join(f"{k} {_flatten_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " ".join(_flatten_text(v) for v in value)
    return "" if value is None else str(value)


def route(plane_label: str | None, interpretation: Mapping[str, object] | None = None) -> Route:
    """Choose the structure group for DETECT/SEGMENT as FADA's MAP phase does.

    Order: a class label that routes directly, then the interpretation's imaging plane and
    orientation phrases, then keyword scores over all its fields, then ``body_pose``. A plane
    named in words (the embedded model's "trans-thalamic", say) is matched like those phrases.
    """
    if plane_label in PLANE_TO_GROUP:
        return Route.of_group(PLANE_TO_GROUP[plane_label], f"plane class {plane_label!r}")
    interpretation = interpretation or {}
    plane_text = _flatten_text(
        [plane_label, interpretation.get("imaging_plane"), interpretation.get("fetal_orientation")]
    ).lower()
    for pattern, group in _PLANE_PHRASES:
        found = re.search(pattern, plane_text)
        if found:
            return Route.of_group(group, f"plane named {found.group(0)!r}")
    all_text = _flatten_text(interpretation).lower()
    scores = {g: sum(all_text.count(k) for k in kws) for g, kws in _GROUP_KEYWORDS.items()}
    best = max(scores, key=lambda g: scores[g])
    if scores[best] > 0:
        return Route.of_group(best, f"interpretation keywords ({scores[best]} hits)")
    return Route.of_group(DEFAULT_GROUP, "default")


def is_known_structure(label: str) -> bool:
    return label in STRUCTURES


def canonical_structure(label: str) -> str:
    """Map a label to the vocabulary's spelling when it differs only in case or separators."""
    key = re.sub(r"[\s\-]+", "_", label.strip()).lower()
    for name in STRUCTURES:
        if name.lower() == key:
            return name
    return label.strip()


#: Fixed display colours (RGB 0..1) so a structure looks the same in every layer and session.
_PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.90, 0.10, 0.29), (0.24, 0.71, 0.29), (1.00, 0.88, 0.10), (0.26, 0.39, 0.85),
    (0.96, 0.51, 0.19), (0.57, 0.12, 0.71), (0.27, 0.94, 0.94), (0.94, 0.20, 0.90),
    (0.74, 0.96, 0.05), (0.98, 0.75, 0.83), (0.00, 0.50, 0.50), (0.86, 0.75, 1.00),
    (0.60, 0.39, 0.14), (1.00, 0.98, 0.78), (0.50, 0.00, 0.00), (0.67, 1.00, 0.76),
    (0.50, 0.50, 0.00), (1.00, 0.84, 0.71), (0.00, 0.00, 0.50), (0.66, 0.66, 0.66),
)  # fmt: skip


def structure_id(label: str) -> int:
    """Stable positive integer id of a structure (its 1-based vocabulary index).

    Labels outside the vocabulary get ids after the vocabulary, derived from the text so that the
    same unknown label always gets the same id within and across sessions.
    """
    if label in STRUCTURES:
        return STRUCTURES.index(label) + 1
    digest = sum((i + 1) * ord(c) for i, c in enumerate(label))
    return len(STRUCTURES) + 1 + digest % 200


def structure_color(label: str) -> tuple[float, float, float]:
    return _PALETTE[(structure_id(label) - 1) % len(_PALETTE)]
