"""Ground truth in the shared layout, and our datasets read back as such."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image
from skimage.measure import label as components

from napari_fada.data.dataset import Dataset
from napari_fada.data.shared_layout import (
    GROUND_TRUTH,
    ReferenceSample,
    iter_reference,
    reference_proposal,
    reference_record,
)
from napari_fada.errors import DatasetError


def _names(sample: ReferenceSample) -> np.ndarray:
    """The mask as structure names per pixel ("" for background), comparable across id schemes."""
    lookup = np.array([sample.structures.get(v, "") for v in range(256)], dtype=object)
    return lookup[sample.mask]


def test_samples_read_with_their_manifest_fields(samples_dir):
    samples = list(iter_reference(samples_dir))
    assert len(samples) == 20
    first = samples[0]
    assert (first.image_id, first.plane, first.fada_plane_label) == (
        "hc18_010_2HC", "trans-thalamic", "BPD_PLANE",
    )  # fmt: skip
    assert first.pixel_spacing_mm == (0.0799272457759, 0.0799272457759)
    assert (first.head_circumference_mm, first.split, first.source_dataset) == (
        72.87, "sample", "HC18",
    )  # fmt: skip
    assert first.image.shape == (540, 800) and first.image.dtype == np.uint8
    assert set(np.unique(first.mask)) == {0, 3}
    assert first.structures[3] == "head"
    psfhs = samples[7]
    assert (psfhs.pixel_spacing_mm, psfhs.head_circumference_mm, psfhs.fada_plane_label) == (
        None, None, "",
    )  # fmt: skip


def test_reference_proposal_has_one_accepted_annotation_per_component(samples_dir):
    for sample in list(iter_reference(samples_dir))[::3]:
        proposal = reference_proposal(sample)
        mask = sample.mask
        expected = sorted(
            (sample.structures[int(v)], int(components(mask == v, connectivity=1).max()))
            for v in np.unique(mask)
            if v
        )
        found: dict[str, int] = {}
        for annotation in proposal.annotations:
            found[annotation.label] = found.get(annotation.label, 0) + 1
            assert (annotation.status, annotation.source) == ("accepted", GROUND_TRUTH)
            xs, ys = zip(*annotation.polygon, strict=True)
            assert annotation.box == (min(xs), min(ys), max(xs), max(ys))
        assert sorted(found.items()) == expected
        assert (proposal.width, proposal.height) == (mask.shape[1], mask.shape[0])


def test_real_masks_survive_the_dataset_writer_exactly(samples_dir, tmp_path):
    dataset = Dataset.open(tmp_path / "ds")
    originals = list(iter_reference(samples_dir))
    for sample in originals:
        dataset.save(reference_record(sample), sample.image, reference_proposal(sample))
    back = {s.image_id: s for s in iter_reference(dataset.root)}
    assert list(back) == [s.image_id for s in originals]
    for sample in originals:
        saved = back[sample.image_id]
        np.testing.assert_array_equal(_names(saved), _names(sample), err_msg=sample.image_id)
        np.testing.assert_array_equal(saved.image, sample.image)
        fields = ("plane", "fada_plane_label", "pixel_spacing_mm", "head_circumference_mm")
        fields += ("split", "source_dataset", "source_file", "width", "height")
        for field in fields:
            assert getattr(saved, field) == getattr(sample, field), (sample.image_id, field)


def test_broken_folders_raise_clear_errors(samples_dir, tmp_path):
    with pytest.raises(DatasetError, match=r"manifest\.csv"):
        list(iter_reference(tmp_path))
    (tmp_path / "manifest.csv").write_text("id,image,mask\na,images/a.png,masks/a.png\n")
    with pytest.raises(DatasetError, match=r"labels\.json"):
        list(iter_reference(tmp_path))
    root = tmp_path / "copy"
    root.mkdir()
    shutil.copy(samples_dir / "labels.json", root / "labels.json")
    (root / "manifest.csv").write_text("name,file\na,b.png\n")
    with pytest.raises(DatasetError, match="lacks the column"):
        list(iter_reference(root))
    (root / "masks").mkdir()
    Image.fromarray(np.full((4, 4), 9, dtype=np.uint8)).save(root / "masks" / "a.png")
    (root / "manifest.csv").write_text("id,image,mask\na,images/a.png,masks/a.png\n")
    (sample,) = iter_reference(root)
    with pytest.raises(DatasetError, match="value 9"):
        reference_proposal(sample)
    with pytest.raises(DatasetError, match=r"images/a\.png"):
        _ = sample.image


def test_each_source_labels_only_its_own_structures(samples_dir) -> None:
    from napari_fada.data.shared_layout import labelled_structures

    assert labelled_structures(samples_dir) == {
        "HC18": {"head"},
        "PSFHS": {"pubic_symphysis", "fetal_head"},
        "fetal-head-biometry-tv": {"Brain", "CSP", "LV"},
    }


def test_a_structure_its_source_does_not_label_is_not_scored(samples_dir) -> None:
    """The embedded model's Brain inside an HC18 skull is unlabelled there, not a false positive."""
    from napari_fada.core.proposal import Annotation, Proposal
    from napari_fada.core.scoring import score_image
    from napari_fada.inspection.evaluate import dataset_items

    item = next(i for i in dataset_items(samples_dir) if i.image_id.startswith("hc18"))
    reference = item.reference()
    head = next(a for a in reference.annotations if a.label == "head")
    brain = Annotation("Brain", head.box, head.polygon, score=0.9, source="m")
    prediction = Proposal(reference.width, reference.height, [head, brain])
    assert score_image(prediction, reference).dice == {"head": 1.0}


def test_a_plane_only_folder_reads_without_masks_or_labels(tmp_path):
    """The fetal-us-planes layout: manifest.csv and images/, plane labels only."""
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((6, 8), 50, dtype=np.uint8)).save(tmp_path / "images" / "a.png")
    (tmp_path / "manifest.csv").write_text("id,image,split,plane\na,images/a.png,val,femur\n")
    (sample,) = iter_reference(tmp_path)
    assert not sample.has_mask and sample.plane == "femur" and sample.split == "val"
    assert sample.mask.shape == (6, 8) and not sample.mask.any()
    assert reference_proposal(sample).annotations == []
