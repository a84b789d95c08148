"""npe2 sample data: synthetic scenes generated on the fly (a wheel install needs no files)."""

from __future__ import annotations

from typing import Any

from napari_fada import samples
from napari_fada._napari.hooks.reader import LayerData, layer_data
from napari_fada.data.loaded_image import LoadedImage


def _truth(sample: samples.SyntheticSample | samples.SyntheticClip) -> dict[str, Any]:
    return {
        "structures": list(sample.structures),
        "plane": sample.plane,
        "fada_plane_label": sample.fada_plane_label,
        "head_circumference_mm": sample.head_circumference_mm,
        "seed": sample.seed,
    }


def _still(sample: samples.SyntheticSample) -> list[LayerData]:
    loaded = LoadedImage(
        data=sample.image,
        name=sample.name,
        path=None,
        pixel_spacing_mm=sample.pixel_spacing_mm,
        metadata={"synthetic": _truth(sample)},
    )
    return [layer_data(loaded)]


def head_plane() -> list[LayerData]:
    return _still(samples.head_plane())


def pelvimetry_view() -> list[LayerData]:
    return _still(samples.pelvimetry_view())


def brain_plane() -> list[LayerData]:
    return _still(samples.brain_plane())


def cine_clip() -> list[LayerData]:
    clip = samples.cine_clip()
    loaded = LoadedImage(
        data=clip.frames,
        name=clip.name,
        path=None,
        pixel_spacing_mm=clip.pixel_spacing_mm,
        frame_interval_ms=clip.frame_interval_ms,
        is_stack=True,
        clip_id=clip.name,
        metadata={"synthetic": _truth(clip)},
    )
    return [layer_data(loaded)]
