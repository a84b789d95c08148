"""The predictor and a prompting session: weights files, masks pasted where the crop was, steps
back through prompts, starts from a proposal, and the provenance of the prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_fada.errors import ModelLoadError
from napari_fada.prompting.clicks import Click
from napari_fada.prompting.frame import Frame
from napari_fada.prompting.session import PromptPredictor, PromptSession, _paste, keep_object
from napari_fada.prompting.weights import load_prompt_weights, save_prompt_weights


def test_weights_round_trip_keeps_the_id_and_the_answers(tiny_weights, tmp_path):
    weights = load_prompt_weights(tiny_weights)
    assert weights.model_id.startswith("fada-prompt-1.0-")
    again = tmp_path / "again.pt"
    save_prompt_weights(weights, again)
    assert load_prompt_weights(again).model_id == weights.model_id
    x = torch.randn(1, 5, 32, 32)
    assert torch.equal(weights.build()(x), load_prompt_weights(again).build()(x))


def test_a_damaged_or_foreign_file_is_refused_with_its_name(tmp_path, tiny_weights):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(tiny_weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match=r"broken\.pt"):
        load_prompt_weights(broken)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ModelLoadError, match="not a napari-fada prompt model"):
        load_prompt_weights(foreign)
    with pytest.raises(ModelLoadError, match="not found"):
        load_prompt_weights(tmp_path / "missing.pt")


def test_crop_logits_are_pasted_on_the_pixels_the_frame_covers():
    logits = -torch.ones(1, 1, 10, 10)
    logits[0, 0, 5:, 5:] = 1.0  # the crop's bottom-right quarter
    mask = _paste(logits, Frame(cx=30.0, cy=20.0, side=20.0), 40, 60)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (20, 29, 30, 39)


def test_a_frame_over_the_edge_is_pasted_clipped():
    mask = _paste(torch.ones(1, 1, 10, 10), Frame(cx=0.0, cy=0.0, side=20.0), 40, 60)
    assert mask[:10, :10].all() and mask.sum() == 100


def test_keep_object_keeps_the_clicked_part_and_fills_holes():
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:8, 2:8] = True
    mask[4, 4] = False  # a hole
    mask[10:20, 10:20] = True  # larger, not clicked
    kept = keep_object(mask, [Click(3.5, 3.5, True)])
    assert kept[2:8, 2:8].all() and not kept[10:].any()
    assert keep_object(mask, [])[10:20, 10:20].all()  # no positive click: the largest part


def test_a_session_steps_forward_and_back(tiny_weights):
    predictor = PromptPredictor.load(tiny_weights)
    image = np.random.default_rng(0).integers(0, 255, (48, 64)).astype(np.uint8)
    session = PromptSession(predictor, predictor.encode(image))
    assert session.mask is None and session.polygon() is None
    first = session.set_box((40.0, 30.0, 10.0, 5.0))  # corners in any order
    assert first.shape == (48, 64) and first.dtype == bool
    assert session.box == (10.0, 5.0, 40.0, 30.0)
    session.add_click(Click(20.0, 20.0, True))
    session.add_click(Click(5.0, 40.0, False))
    assert [c.positive for c in session.clicks] == [True, False]
    assert session.box == (10.0, 5.0, 40.0, 30.0)  # clicks keep the box
    session.undo()
    assert [c.positive for c in session.clicks] == [True]
    session.undo()
    assert np.array_equal(session.mask, first) and session.clicks == ()
    assert session.undo() is None and session.undo() is None
    record = session.provenance()
    assert record == {
        "model": predictor.model_id, "box": None, "points": [], "from_proposal": False,
    }  # fmt: skip


def test_a_session_started_from_a_proposal_returns_to_it(tiny_weights):
    predictor = PromptPredictor.load(tiny_weights)
    image = np.full((48, 64), 100, dtype=np.uint8)
    proposal = np.zeros((48, 64), dtype=bool)
    proposal[10:30, 10:40] = True
    session = PromptSession(predictor, predictor.encode(image), start=proposal)
    assert session.polygon() is not None  # the proposal's outline before any prompt
    session.add_click(Click(45.0, 20.0, True))
    record = session.provenance()
    assert record["from_proposal"] is True
    assert record["points"] == [{"x": 45.0, "y": 20.0, "positive": True}]
    assert np.array_equal(session.undo(), proposal)


def test_encode_takes_rgb_and_refuses_other_shapes(tiny_weights):
    predictor = PromptPredictor.load(tiny_weights)
    assert predictor.encode(np.zeros((8, 9, 3), dtype=np.uint8)).width == 9
    with pytest.raises(Exception, match="2-D image"):
        predictor.encode(np.zeros(5))
