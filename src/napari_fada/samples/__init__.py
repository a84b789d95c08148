"""Images made in code: synthetic fetal ultrasound with exact ground truth, for demos, tests
and sample data, and images that are no ultrasound at all, for the "other" plane.

:mod:`scenes` draws the head, pelvimetry and brain planes and a cine sweep from the shapes of
:mod:`shapes`, rendered as B-mode scans by :mod:`scan`; :mod:`files` writes them in the shared
data layout (``python -m napari_fada.samples FOLDER``); :mod:`negatives` makes photos, drawings
and blank frames. The scenes are importable from here, as the sample data's manifest names them
(``napari_fada.samples:head_plane(seed=0)``).
"""

from napari_fada.samples.scenes import (
    LABEL_IDS,
    SyntheticClip,
    SyntheticSample,
    brain_plane,
    cine_clip,
    head_plane,
    pelvimetry_view,
)

__all__ = [
    "LABEL_IDS",
    "SyntheticClip",
    "SyntheticSample",
    "brain_plane",
    "cine_clip",
    "head_plane",
    "pelvimetry_view",
]
