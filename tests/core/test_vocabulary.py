import pytest

from napari_fada.core.vocabulary import (
    PLANE_LABELS,
    ROUTING_GROUPS,
    STRUCTURES,
    canonical_structure,
    route,
    structure_color,
    structure_id,
)


def test_vocabulary_sizes_follow_the_contract():
    assert len(STRUCTURES) == 36
    assert len(set(STRUCTURES)) == 36
    assert len(PLANE_LABELS) == 20
    for group in ROUTING_GROUPS.values():
        assert set(group.detect) <= set(STRUCTURES)
        assert set(group.segment) <= set(group.detect) | set(STRUCTURES)


def test_specific_plane_labels_route_directly():
    assert route("BPD_PLANE").group == "brain"
    assert route("V sign").group == "cardiac"
    assert route("liver").detect == ("artery", "liver", "stomach", "vein")
    assert route("FL").segment == ()


def test_interpretation_plane_text_routes():
    assert route("head", {"imaging_plane": "Trans-cerebellar plane"}).group == "brain"
    assert route("Other", {"imaging_plane": "four-chamber view"}).group == "cardiac"
    assert route("Other", {"fetal_orientation": "nuchal translucency"}).group == "nt_nasal"
    assert route("Other", {"imaging_plane": "intrapartum transperineal"}).group == "pelvimetry"


def test_keyword_scores_then_default():
    answer = {"anatomical_structures": ["umbilical artery", "flow"], "imaging_plane": "unclear"}
    assert route("Other", answer).group == "doppler"
    chosen = route("NO_PLANE", {"imaging_plane": "unclear"})
    assert chosen.group == "body_pose"
    assert chosen.reason == "default"


def test_structure_ids_are_stable_and_distinct():
    ids = [structure_id(s) for s in STRUCTURES]
    assert ids == list(range(1, 37))
    assert structure_id("unknown thing") == structure_id("unknown thing") > 36
    assert structure_id("unknown thing") < 256
    assert structure_color("head") == structure_color("head")


def test_canonical_structure_fixes_case_and_separators():
    assert canonical_structure("Pubic Symphysis") == "pubic_symphysis"
    assert canonical_structure("brain") == "Brain"
    assert canonical_structure("nasal-bone") == "nasal_bone"
    assert canonical_structure("spleen") == "spleen"


@pytest.mark.parametrize(
    ("plane", "group"),
    [("trans-thalamic", "brain"), ("trans-ventricular", "brain"), ("transperineal", "pelvimetry")],
)
def test_a_plane_named_in_words_routes_like_an_imaging_plane_phrase(plane, group):
    found = route(plane)
    assert found.group == group
    assert plane in found.reason
