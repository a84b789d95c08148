"""The Cine section's texts and scores for the frame on screen, in the model's own names."""

from __future__ import annotations

from tests._napari.annotator.test_dock_texts import OwnRouting
from tests._napari.cine import test_cine_panel
from tests._napari.cine.test_cine_panel import stream_all

#: The Cine tests' fixtures: a DICOM clip, open in a viewer with the widget docked.
clip_path, open_clip = test_cine_panel.clip_path, test_cine_panel.open_clip


def test_best_frames_score_the_structures_the_model_routes_to(open_clip, qtbot) -> None:
    """The model answers "head" on its trans-thalamic plane: that is what a best frame shows
    (FADA's routing would look for Brain, CSP and LV and score 0.00 on every frame)."""
    widget = open_clip(OwnRouting())
    stream_all(widget, qtbot)
    cine = widget.cine
    assert cine.best_plane.currentText() == "trans-thalamic"
    listed = [cine.best_list.item(i).text() for i in range(cine.best_list.count())]
    assert len(listed) == 6 and all("structures 0.93" in text for text in listed)


def test_the_plane_over_time_names_the_frame_the_slider_is_on(open_clip, qtbot) -> None:
    widget = open_clip(OwnRouting())
    stream_all(widget, qtbot)
    viewer = widget.viewer
    for frame in (3, 2, 4, 1):
        viewer.dims.set_current_step(0, frame)
        assert viewer.dims.current_step[0] == frame
        assert widget.cine.plane_over_time.text().startswith(f"Plane over time at frame {frame}:")
