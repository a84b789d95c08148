"""Write the synthetic samples in the shared data layout, and the cine as a multi-frame DICOM.

Layout (as ``fetal-us-samples``): ``images/<id>.png`` (8-bit gray), ``masks/<id>.png`` (label
ids), ``labels.json``, ``manifest.csv``; plus ``<cine id>.dcm``, an ultrasound multi-frame
DICOM (JPEG baseline frames, PixelSpacing, FrameTime) to try the cine reader on.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, UltrasoundMultiFrameImageStorage, generate_uid

from napari_fada.samples.scenes import (
    LABEL_IDS,
    SyntheticClip,
    SyntheticSample,
    brain_plane,
    cine_clip,
    head_plane,
    pelvimetry_view,
)

MANIFEST_COLUMNS = (
    "id", "image", "mask", "source_dataset", "source_file", "subject", "split", "plane",
    "fada_plane_label", "width", "height", "pixel_size_mm", "head_circumference_mm", "structures",
)  # fmt: skip

CINE_JPEG_QUALITY = 90

#: Fixed UID root so that rewriting the sample data gives byte-identical files.
_UID_PREFIX = "1.2.826.0.1.3680043.10.1087."


def _manifest_row(sample: SyntheticSample, generator: str) -> dict[str, object]:
    height, width = sample.image.shape
    hc = sample.head_circumference_mm
    return {
        "id": sample.name,
        "image": f"images/{sample.name}.png",
        "mask": f"masks/{sample.name}.png",
        "source_dataset": "synthetic",
        "source_file": f"napari_fada.samples:{generator}(seed={sample.seed})",
        "subject": sample.name,
        "split": "sample",
        "plane": sample.plane,
        "fada_plane_label": sample.fada_plane_label,
        "width": width,
        "height": height,
        "pixel_size_mm": sample.pixel_spacing_mm[1],
        "head_circumference_mm": "" if hc is None else f"{hc:.2f}",
        "structures": ";".join(sample.structures),
    }


def _jpeg(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=CINE_JPEG_QUALITY)
    return buffer.getvalue()


def write_cine_dicom(clip: SyntheticClip, path: Path) -> Path:
    """Save a clip as an ultrasound multi-frame DICOM with pixel spacing and frame time."""
    uid = generate_uid(prefix=_UID_PREFIX, entropy_srcs=[clip.name, str(clip.seed)])
    n_frames, rows, columns = clip.frames.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.SOPClassUID, ds.SOPInstanceUID = UltrasoundMultiFrameImageStorage, uid
    ds.Modality, ds.Manufacturer = "US", "napari-fada synthetic"
    ds.SeriesDescription = f"{clip.name} (seed {clip.seed})"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, n_frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelSpacing = list(clip.pixel_spacing_mm)
    ds.FrameTime = clip.frame_interval_ms
    ds.PixelData = encapsulate([_jpeg(frame) for frame in clip.frames])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def write_sample_data(folder: Path) -> list[Path]:
    """Render every sample into ``folder`` and return the files written."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    written, rows = [], []
    for generator in (head_plane, pelvimetry_view, brain_plane):
        sample = generator()
        row = _manifest_row(sample, generator.__name__)
        for key, pixels in (("image", sample.image), ("mask", sample.mask)):
            path = folder / str(row[key])
            Image.fromarray(pixels).save(path, optimize=True)
            written.append(path)
        rows.append(row)
    labels = folder / "labels.json"
    structures = {str(i): name for name, i in LABEL_IDS.items()}
    labels.write_text(json.dumps({"structures": structures}, indent=2) + "\n")
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    clip = cine_clip()
    cine = write_cine_dicom(clip, folder / f"{clip.name}.dcm")
    return [*written, labels, manifest, cine]
