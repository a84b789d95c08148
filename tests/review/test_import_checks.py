"""Importing never reads outside the source folder, refuses ids and numbers it cannot trust with
a message naming the file, and keeps only finite geometry inside the image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from napari_fada.data.importers.to_dataset import import_folder
from napari_fada.errors import DatasetError
from tests.review.test_importers import coco_document, gray, loaded, write_png


def _refused(source: Path, target: Path, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        import_folder(source, target)
    assert not (target / "images").exists()  # nothing copied


def _coco(tmp_path: Path, document: dict, raw: str | None = None) -> Path:
    source = tmp_path / "coco"
    write_png(source / "a.png", gray(1))
    write_png(source / "scans" / "b.png", gray(2))
    (source / "instances.json").write_text(raw or json.dumps(document))
    return source


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_a_coco_file_name_outside_the_folder_is_refused(tmp_path: Path, where: str) -> None:
    secret = tmp_path / "private" / "secret.png"
    write_png(secret, gray(9))
    document = coco_document()
    name = "../private/secret.png" if where == "relative" else str(secret)
    document["images"][1]["file_name"] = name
    _refused(_coco(tmp_path, document), tmp_path / "review", "leads outside")


def test_a_symbolic_link_to_an_image_elsewhere_is_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "private" / "secret.png", gray(9))
    source = tmp_path / "yolo"
    write_png(source / "images" / "a.png", gray(1))
    (source / "images" / "b.png").symlink_to(tmp_path / "private" / "secret.png")
    (source / "labels").mkdir()
    (source / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    _refused(source, tmp_path / "review", r"b\.png.*leads outside")


def test_a_label_png_manifest_path_outside_the_folder_is_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "private" / "secret.png", gray(9))
    source = tmp_path / "shared"
    write_png(source / "images" / "a.png", gray(1))
    write_png(source / "masks" / "a.png", gray(0) * 0)
    (source / "labels.json").write_text(json.dumps({"structures": {"1": "head"}}))
    (source / "manifest.csv").write_text("id,image,mask\na,../private/secret.png,masks/a.png\n")
    _refused(source, tmp_path / "review", "leads outside")


def test_an_image_id_given_to_two_files_is_refused(tmp_path: Path) -> None:
    document = coco_document()
    document["images"][1]["id"] = 1
    _refused(_coco(tmp_path, document), tmp_path / "review", "id 1 is given to both")


def test_a_file_listed_under_two_ids_keeps_the_annotations_of_both(tmp_path: Path) -> None:
    document = coco_document()
    document["images"][1]["file_name"] = "a.png"
    document["annotations"][1]["image_id"] = 2
    dataset = import_folder(_coco(tmp_path, document), tmp_path / "review")
    assert [r.image_id for r in dataset.records()] == ["a"]
    assert len(loaded(dataset, "a").annotations) == 2


def test_a_deeply_nested_json_beside_the_coco_file_is_passed_over(tmp_path: Path) -> None:
    source = _coco(tmp_path, coco_document())
    (source / "aaa.json").write_text("[" * 100_000 + "]" * 100_000)
    assert len(import_folder(source, tmp_path / "review").records()) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("category_id", "1e999"), ("image_id", "1e999"), ("category_id", "1.5")],
)
def test_ids_that_are_not_whole_numbers_are_refused(tmp_path: Path, field, value) -> None:
    document = coco_document()
    document["annotations"][0][field] = "PLACEHOLDER"
    raw = json.dumps(document).replace('"PLACEHOLDER"', value)
    _refused(_coco(tmp_path, document, raw), tmp_path / "review", "not a whole number")


def _yolo(tmp_path: Path, label: bytes, yaml: str | None = None) -> Path:
    source = tmp_path / "yolo"
    write_png(source / "images" / "a.png", gray(1, height=20, width=40))
    (source / "labels").mkdir()
    (source / "labels" / "a.txt").write_bytes(label)
    if yaml is not None:
        (source / "data.yaml").write_text(yaml)
    return source


@pytest.mark.parametrize(
    ("label", "yaml", "match"),
    [
        (b"inf 0.5 0.5 0.2 0.2\n", None, r"a\.txt is malformed \(line 1: the class 'inf'"),
        (b"0 nan 0.5 0.2 0.2\n", None, r"a\.txt is malformed \(line 1: a coordinate"),
        (b"\xff\xfe\x00\x81binary", None, r"a\.txt is malformed \(not a text file"),
        (b"0 0.5 0.5 0.2 0.2\n", "names: {a: head}\n", r"data\.yaml is malformed"),
    ],
)
def test_yolo_numbers_that_cannot_be_trusted_are_refused(tmp_path, label, yaml, match) -> None:
    _refused(_yolo(tmp_path, label, yaml), tmp_path / "review", match)


def test_yolo_boxes_are_clamped_to_the_image_and_empty_ones_dropped(tmp_path: Path) -> None:
    # a box 10x the image, one of negative size, one wholly outside, one good
    lines = b"0 0.5 0.5 10 10\n1 0.5 0.5 -0.2 0.2\n2 5 5 0.1 0.1\n3 0.5 0.5 0.5 0.5\n"
    dataset = import_folder(_yolo(tmp_path, lines), tmp_path / "review")
    proposal = loaded(dataset, "a")
    assert [a.box for a in proposal.annotations] == [(0, 0, 40, 20), (10, 5, 30, 15)]
    assert sum(issue.startswith("import: dropped") for issue in proposal.issues) == 2
    assert any("clamped" in issue for issue in proposal.issues)


def _strict(text: str) -> object:
    def refuse(constant: str) -> float:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_file_written_is_strict_json(tmp_path: Path) -> None:
    document = coco_document()
    document["annotations"][0]["score"] = "PLACEHOLDER"
    document["annotations"][0]["keypoints"] = [1, 2, 2, "PLACEHOLDER", 4, 1]
    raw = json.dumps(document).replace('"PLACEHOLDER"', "NaN")
    target = tmp_path / "review"
    import_folder(_coco(tmp_path, document, raw), target)
    for path in [*target.glob("*.json"), *target.glob("annotations/*.json")]:
        _strict(path.read_text())
    for line in (target / "fada_finetune.jsonl").read_text().splitlines():
        _strict(line)
