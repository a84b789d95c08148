"""The scan's planes: readable names, FADA's labels beside them, coarse dataset names."""

from __future__ import annotations

from napari_fada.core.scan_planes import (
    PLANE_NAMES,
    fada_label,
    is_segmented,
    matches,
    plane_set,
)


def test_the_whole_screening_scan_is_named():
    assert set(PLANE_NAMES) >= {
        "trans-thalamic", "trans-ventricular", "transperineal", "abdomen", "femur", "thorax",
        "cervix", "other",
    }  # fmt: skip


def test_fada_labels_stand_beside_the_planes_fada_knows():
    assert fada_label("abdomen") == "AC_PLANE"
    assert fada_label("femur") == "FL_PLANE"
    assert fada_label("trans-thalamic") == "BPD_PLANE"
    assert fada_label("cervix") == "" and fada_label("no such plane") == ""


def test_a_coarse_name_stands_for_a_set_of_planes():
    planes = ("trans-thalamic", "transperineal", "trans-ventricular", "abdomen")
    assert plane_set("brain", planes) == (0, 2)
    assert plane_set("abdomen", planes) == (3,)
    assert plane_set("femur", planes) == ()
    assert matches("trans-ventricular", "brain") and not matches("abdomen", "brain")
    assert matches("abdomen", "x", aliases=("abdomen",)) and not matches(None, "brain")
    # FADA's own class labels name the same planes.
    assert plane_set("AC_PLANE", planes) == (3,) and plane_set("BPD_PLANE", planes) == (0, 2)


def test_only_head_and_intrapartum_planes_are_outlined():
    assert is_segmented("trans-thalamic") and is_segmented("brain")
    assert is_segmented("abdomen") is False and is_segmented("other") is False
    assert is_segmented("unknown view") is None
