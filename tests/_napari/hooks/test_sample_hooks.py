"""The npe2 sample hooks give scaled image layers with the reader's source record."""

from __future__ import annotations

import numpy as np
import pytest

from napari_fada._napari.hooks import samples as sample_hooks
from napari_fada._napari.hooks.source import SOURCE_KEY, source_of


@pytest.mark.parametrize(
    ("hook", "shape", "spacing"),
    [
        (sample_hooks.head_plane, (540, 800), 0.12),
        (sample_hooks.pelvimetry_view, (256, 256), 0.3),
        (sample_hooks.brain_plane, (661, 959), 0.1),
    ],
)
def test_still_hooks_give_one_scaled_image_layer(hook, shape, spacing) -> None:
    ((data, kwargs, kind),) = hook()
    assert kind == "image" and data.shape == shape and data.dtype == np.uint8
    assert kwargs["scale"] == (spacing, spacing) and kwargs["rgb"] is False
    source = kwargs["metadata"][SOURCE_KEY]
    assert source.path is None and source.pixel_spacing_mm == (spacing, spacing)
    assert source.is_stack is False
    assert source.details["synthetic"]["structures"]


@pytest.mark.qt
def test_samples_open_in_a_viewer(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    (head,) = viewer.open_sample("napari-fada", "head")
    np.testing.assert_allclose(head.scale, (0.12, 0.12))
    assert source_of(head).details["synthetic"]["head_circumference_mm"] > 100
    (cine,) = viewer.open_sample("napari-fada", "cine")
    assert cine.data.shape == (24, 300, 400) and cine.ndim == 3
    np.testing.assert_allclose(cine.scale, (1.0, 0.2, 0.2))
    source = source_of(cine)
    assert source is not None and source.is_stack is True and source.clip_id
    assert len(source.details["synthetic"]["head_circumference_mm"]) == 24
