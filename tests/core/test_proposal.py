from napari_fada.core.proposal import Annotation, ModelInfo, PlaneCall, Proposal


def test_proposal_round_trips_through_a_dict():
    proposal = Proposal(
        width=800,
        height=540,
        annotations=[
            Annotation("head", box=(1, 2, 3, 4), polygon=[(1, 2), (3, 2), (3, 4)], score=0.5),
            Annotation("NTKpoints", keypoints=[(1, 2, 2)], status="rejected", flags=["clamped"]),
        ],
        plane=PlaneCall("BPD_PLANE", 0.9, {"BPD_PLANE": 0.9}, "m"),
        interpretation={"imaging_plane": "trans-thalamic"},
        model=ModelInfo("m", "scripted", "ab", "cd"),
        raw_answers={"detect": "[]"},
    )
    again = Proposal.from_dict(proposal.to_dict())
    assert again == proposal
    assert again.annotations[0].box == (1, 2, 3, 4)
    assert [a.label for a in again.kept()] == []


def test_status_changes_keep_identity_and_stamp_edit_time():
    a = Annotation("CSP", box=(0, 0, 1, 1), source="model-x")
    b = a.with_status("accepted", annotator="ann")
    assert b.id == a.id and b.status == "accepted" and b.annotator == "ann" and b.edited
    assert not b.is_manual and Annotation("LV").is_manual


def test_an_image_level_decision_round_trips_and_counts_as_decided():
    proposal = Proposal(width=8, height=8, annotations=[Annotation("head", box=(1, 1, 4, 4))])
    assert not proposal.is_decided()  # a model's proposal alone: nobody looked at it yet
    negative = Proposal(width=8, height=8, decision="nothing_to_label")
    assert negative.is_decided()
    assert Proposal.from_dict(negative.to_dict()).decision == "nothing_to_label"
    plane_only = Proposal(width=8, height=8, plane=PlaneCall("femur", status="accepted"))
    assert plane_only.is_decided()
    proposal.annotations[0].status = "rejected"
    assert proposal.is_decided()
    assert Proposal.from_dict({"width": 8, "height": 8}).decision is None  # files of before
