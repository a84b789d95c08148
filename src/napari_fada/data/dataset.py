"""The training-dataset folder the plugin saves into (layout in docs/dataset-format.md).

``annotations/<image_id>.json`` is the source of truth of each image; every other file is
derived from it. The folder is a superset of the shared data layout (manifest.csv, images/,
masks/, labels.json), so :mod:`napari_fada.data.shared_layout` reads it as ground truth.

Every file is written atomically (:mod:`napari_fada.core.atomic`). A save writes the image's
own files first and its annotation file last, then the aggregate files; :meth:`Dataset.open`
rewrites stale aggregates, so a crash at any point loses at most the save in progress.
Writes take the dataset's lock (:mod:`napari_fada.data.dataset_lock`) and first read what other
writers saved since, so two processes saving into one folder (a pre-labelling run and an
annotator, two runs) both keep everything they saved.
Aggregates are rendered from per-image fragments kept in memory, so a save costs about the same
on a dataset of thousands of images as on an empty one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from napari_fada import __version__
from napari_fada.core.atomic import (
    remove_stale_temps,
    write_json_atomic,
    write_png_atomic,
    write_text_atomic,
    writing,
)
from napari_fada.core.proposal import ImageRecord, Proposal, now_iso
from napari_fada.data.dataset_lock import LOCK_FILE, LOCK_TIMEOUT_S, DatasetLock
from napari_fada.data.formats.annotation_file import (
    AnnotationFile,
    encode_annotation_file,
    read_annotation_file,
)
from napari_fada.data.formats.coco import (
    CocoFragments,
    coco_entries,
    coco_fragments,
    render_coco,
)
from napari_fada.data.formats.csv_text import read_csv
from napari_fada.data.formats.fada_jsonl import finetune_samples, jsonl_lines
from napari_fada.data.formats.label_png import label_mask, labels_json
from napari_fada.data.formats.manifest import manifest_row, render_manifest
from napari_fada.data.formats.plane_csv import plane_row, render_planes
from napari_fada.data.formats.yolo import (
    DETECT_DIR,
    SEGMENT_DIR,
    data_yaml,
    detect_labels,
    segment_labels,
)
from napari_fada.errors import DatasetError

FORMAT = "napari-fada-dataset"
VERSION = 1
#: The file that makes a folder a napari-fada dataset.
MARKER_FILE = "dataset.json"


def is_saved_dataset(folder: str | Path) -> bool:
    """True for a dataset folder written by napari-fada (as opposed to a shared-layout folder)."""
    return (Path(folder) / MARKER_FILE).is_file()


def pixel_sha256(image: np.ndarray) -> str:
    """Hash of the pixel values with their shape and type, whatever file they came from."""
    pixels = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{pixels.shape}:{pixels.dtype.str}:".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "image"


def make_record(
    image: np.ndarray,
    source_path: str | Path | None,
    pixel_spacing_mm: tuple[float, float] | None = None,
    clip_id: str | None = None,
    frame_index: int | None = None,
    name: str | None = None,
) -> ImageRecord:
    """The record of an image about to be annotated: id from the file stem, else ``name`` (an
    image with no file, e.g. a layer's name), else the pixels' hash; ``_f00012`` for a frame."""
    sha = pixel_sha256(image)
    stem = Path(source_path).stem if source_path else name or f"image_{sha[:12]}"
    stem = _safe_name(stem)
    image_id = stem if frame_index is None else f"{stem}_f{frame_index:05d}"
    return ImageRecord(
        image_id=image_id,
        width=int(image.shape[1]),
        height=int(image.shape[0]),
        sha256=sha,
        source_path=str(source_path) if source_path else None,
        pixel_spacing_mm=pixel_spacing_mm,
        clip_id=clip_id,
        frame_index=frame_index,
    )


def _storable(image: np.ndarray, record: ImageRecord, proposal: Proposal) -> np.ndarray:
    """The pixels as a PNG can hold them, or DatasetError saying why they cannot be saved."""
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.dtype not in (np.uint8, np.uint16) or not (
        pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))
    ):
        raise DatasetError(
            f"Cannot save image {record.image_id}: pixels of shape {pixels.shape} and type "
            f"{pixels.dtype} are not a gray or RGB image of 8 or 16 bits. Convert it first."
        )
    size = (pixels.shape[1], pixels.shape[0])
    if size != (record.width, record.height) or size != (proposal.width, proposal.height):
        raise DatasetError(
            f"Cannot save image {record.image_id}: its pixels are {size[0]} x {size[1]} but the "
            f"record says {record.width} x {record.height} and the labels "
            f"{proposal.width} x {proposal.height}. Reload the image and annotate it again."
        )
    return pixels


@dataclass(frozen=True)
class _Entry:
    """What the aggregate files need of one saved image, rendered once at save time."""

    record: ImageRecord
    labels: frozenset[str]
    #: Whether a person reviewed any of its annotations (not all are "proposed").
    reviewed: bool
    manifest: dict[str, str]
    plane: list[str] | None
    coco: CocoFragments
    jsonl: tuple[str, ...]


def _exports(record: ImageRecord, proposal: Proposal) -> dict[str, Any]:
    """The image's entries of coco.json and fada_finetune.jsonl (the costly aggregates)."""
    return {
        "coco": coco_entries(record, proposal),
        "fada_finetune": finetune_samples(record, proposal),
    }


def _entry(stored: AnnotationFile) -> _Entry:
    record, proposal = stored.record, stored.proposal
    exports = stored.exports or _exports(record, proposal)
    return _Entry(
        record=record,
        labels=frozenset(a.label for a in proposal.annotations),
        reviewed=any(a.status != "proposed" for a in proposal.annotations),
        manifest=manifest_row(record, proposal, stored.saved),
        plane=plane_row(record, proposal),
        coco=coco_fragments(exports["coco"]),
        jsonl=jsonl_lines(exports["fada_finetune"]),
    )


class Dataset:
    """A dataset folder opened for reading and saving; use :meth:`open`."""

    def __init__(self, root: Path, annotator: str | None, lock: DatasetLock) -> None:
        self.root = root
        self.annotator = annotator
        self._lock = lock
        self._entries: dict[str, _Entry] = {}
        self._by_sha: dict[str, str] = {}
        #: (inode, mtime, size) of each annotation file as last read or written here.
        self._seen: dict[str, tuple[int, int, int]] = {}
        #: The lock file's write count after this object's last write (None: never wrote).
        self._writes: int | None = None
        #: Images whose annotation file could not be read: their ids are never reused, and
        #: their manifest rows are kept as they were.
        self._unreadable: set[str] = set()
        self._unreadable_rows: dict[str, dict[str, str]] = {}
        #: What went wrong while opening (corrupt annotation files), one message each.
        self.problems: list[str] = []

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        root: Path,
        annotator: str | None = None,
        create: bool = True,
        on_wait: Callable[[str], None] | None = None,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
    ) -> Dataset:
        """Open the dataset at ``root``, creating it in a missing or empty folder if ``create``.

        Corrupt annotation files do not stop the others from loading: they are listed in
        :attr:`problems` and left untouched on disk. Writes wait for other writers (``on_wait``
        hears when one does) up to ``lock_timeout_s``, then raise DatasetError.
        """
        root = Path(root)
        lock = DatasetLock(root, lock_timeout_s, on_wait)
        marker = root / MARKER_FILE
        if marker.is_file():
            cls._check_marker(marker)
        else:
            if not (root / LOCK_FILE).is_file():  # else perhaps being created: check under lock
                cls._check_empty(root)
            if not create:
                raise DatasetError(f"No dataset at {root}: choose an existing dataset folder.")
            with writing(root, "a new dataset"):
                root.mkdir(parents=True, exist_ok=True)
                with lock.held():
                    if marker.is_file():  # another process created it meanwhile
                        cls._check_marker(marker)
                    else:
                        cls._check_empty(root)
                        cls._create(root)
        dataset = cls(root, annotator, lock)
        dataset._remove_stale_temps()
        dataset._read_all()
        return dataset

    def _remove_stale_temps(self) -> None:
        """Delete temporary files killed writers left; under the lock, so that no live writer's
        file in progress is taken for one."""
        try:
            with self._lock.held(count=False):
                remove_stale_temps(self.root)
        except (OSError, DatasetError):  # read-only, or busy: a later open cleans up
            pass

    @staticmethod
    def _check_empty(root: Path) -> None:
        """Refuse a folder that holds something but no dataset (the lock file aside)."""
        if root.exists() and (
            not root.is_dir() or any(p.name != LOCK_FILE for p in root.iterdir())
        ):
            raise DatasetError(
                f"{root} is not a napari-fada dataset (it has no dataset.json) and is not empty: "
                "choose an empty or new folder to save into, or an existing dataset folder."
            )

    @staticmethod
    def _check_marker(marker: Path) -> None:
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            kind, version = info.get("format"), info.get("version")
        except (OSError, ValueError, AttributeError) as error:
            message = f"{marker} is corrupt ({error}): restore it from a backup."
            raise DatasetError(message) from error
        if kind != FORMAT:
            raise DatasetError(
                f"{marker.parent} is not a napari-fada dataset ({marker} says {kind!r})."
            )
        if version != VERSION:
            raise DatasetError(
                f"The dataset {marker.parent} has format version {version}; this napari-fada "
                f"({__version__}) reads version {VERSION}. Use a matching napari-fada version."
            )

    @staticmethod
    def _create(root: Path) -> None:
        write_text_atomic(root / "data.yaml", data_yaml())
        write_json_atomic(root / "labels.json", labels_json())
        tool = f"napari-fada {__version__}"
        info = {"format": FORMAT, "version": VERSION, "created": now_iso(), "tool": tool}
        write_json_atomic(root / MARKER_FILE, info)

    def _read_all(self) -> None:
        manifest_path = self.root / "manifest.csv"
        rows = read_csv(manifest_path) if manifest_path.is_file() else []
        listed = {row.get("id", ""): row for row in rows}
        files = self._annotation_files()
        order = [*(i for i in listed if i in files), *(i for i in files if i not in listed)]
        for image_id in order:
            self._read_one(image_id, files[image_id], listed.get(image_id))
        written = manifest_path.read_text(encoding="utf-8") if manifest_path.is_file() else ""
        if self._entries and written != self._manifest_text():
            try:
                with self._locked("the aggregate files"):
                    self._write_aggregates()
            except DatasetError as error:
                self.problems.append(f"Out-of-date files were not repaired. {error}")

    def _annotation_files(self) -> dict[str, tuple[Path, tuple[int, int, int]]]:
        """Each annotation file on disk now, with its (inode, mtime, size)."""
        files = {}
        folder = self.root / "annotations"
        if folder.is_dir():
            for item in sorted(os.scandir(folder), key=lambda e: e.name):
                if item.name.endswith(".json") and not item.name.startswith("."):
                    info = item.stat()
                    signature = (info.st_ino, info.st_mtime_ns, info.st_size)
                    files[item.name[: -len(".json")]] = (Path(item.path), signature)
        return files

    def _read_one(
        self,
        image_id: str,
        file: tuple[Path, tuple[int, int, int]],
        manifest_row: dict[str, str] | None = None,
    ) -> None:
        path, self._seen[image_id] = file
        try:
            stored = read_annotation_file(path)
        except DatasetError as error:
            self.problems.append(str(error))
            self._forget(image_id)
            self._unreadable.add(image_id)
            if manifest_row is not None:
                self._unreadable_rows[image_id] = manifest_row
            return
        self._unreadable.discard(image_id)
        self._unreadable_rows.pop(image_id, None)
        self._remember(_entry(stored))

    def _refresh(self) -> None:
        """Read what other writers saved or replaced since this object last looked."""
        files = self._annotation_files()
        for image_id in [i for i in self._seen if i not in files]:
            del self._seen[image_id]
            self._forget(image_id)
        for image_id, file in files.items():
            if self._seen.get(image_id) != file[1]:
                self._read_one(image_id, file)

    def writing(self, what: str) -> AbstractContextManager[None]:
        """Hold the dataset's lock to write ``what``, a file of one's own in the folder (a run's
        report); a failed write raises WriteError. Not to be nested with a save."""
        return self._locked(what)

    @contextmanager
    def _locked(self, what: str) -> Iterator[None]:
        """Hold the dataset's lock, up to date with what others wrote; errors as writing's."""
        with writing(self.root, what), self._lock.held() as writes:
            if writes != self._writes:
                self._refresh()
            self._writes = writes + 1
            yield

    def _remember(self, entry: _Entry) -> None:
        before = self._entries.get(entry.record.image_id)
        if before is not None and self._by_sha.get(before.record.sha256) == before.record.image_id:
            del self._by_sha[before.record.sha256]
        self._entries[entry.record.image_id] = entry
        self._by_sha[entry.record.sha256] = entry.record.image_id

    def _forget(self, image_id: str) -> None:
        entry = self._entries.pop(image_id, None)
        if entry is not None and self._by_sha.get(entry.record.sha256) == image_id:
            del self._by_sha[entry.record.sha256]
        self._unreadable.discard(image_id)
        self._unreadable_rows.pop(image_id, None)

    # -- reading -----------------------------------------------------------------------------

    def records(self) -> list[ImageRecord]:
        return [e.record for e in self._entries.values()]

    def find_by_sha256(self, sha256: str) -> ImageRecord | None:
        image_id = self._by_sha.get(sha256)
        return self._entries[image_id].record if image_id is not None else None

    def load(self, image_id: str) -> tuple[ImageRecord, Proposal] | None:
        """The saved record and proposal of ``image_id`` (fresh objects), None if never saved.

        Raises DatasetError when its annotation file is corrupt.
        """
        path = self.root / "annotations" / f"{image_id}.json"
        if image_id not in self._entries and not path.is_file():
            return None
        stored = read_annotation_file(path)
        return stored.record, stored.proposal

    def image(self, image_id: str) -> np.ndarray:
        path = self.root / "images" / f"{image_id}.png"
        try:
            with Image.open(path) as handle:
                return np.asarray(handle)
        except (OSError, ValueError) as error:
            raise DatasetError(f"Cannot read the saved image {path}: {error}.") from error

    # -- saving ------------------------------------------------------------------------------

    def save(
        self, record: ImageRecord, image: np.ndarray, proposal: Proposal, aggregates: bool = True
    ) -> ImageRecord:
        """Write everything for one image, replacing what was saved for it before.

        Returns the record as saved: its sha256 filled in, and its image_id that of the same
        pixels saved before, or made unique if another image already has that id.
        ``aggregates=False`` leaves the dataset-wide files for a later :meth:`write_aggregates`
        (many saves in a row); :meth:`open` brings them up to date if that never comes.
        """
        saved = self._save(record, image, proposal, aggregates, keep_reviewed=False)
        assert saved is not None
        return saved

    def save_proposal(
        self, record: ImageRecord, image: np.ndarray, proposal: Proposal, aggregates: bool = True
    ) -> ImageRecord | None:
        """Like :meth:`save`, but leave an image a person reviewed as it is and return None.

        The check is made at write time, under the lock: an annotator's label saved by another
        process a moment ago is never replaced by a model's proposal.
        """
        return self._save(record, image, proposal, aggregates, keep_reviewed=True)

    def _save(
        self,
        record: ImageRecord,
        image: np.ndarray,
        proposal: Proposal,
        aggregates: bool,
        keep_reviewed: bool,
    ) -> ImageRecord | None:
        pixels = _storable(image, record, proposal)
        record = replace(record, sha256=record.sha256 or pixel_sha256(pixels))
        proposal = self._with_annotator(proposal)
        with self._locked(f"the labels of {record.image_id}"):
            record = self._resolve(record)
            image_id = record.image_id
            if keep_reviewed and image_id in self._entries and self._entries[image_id].reviewed:
                return None
            saved_at = now_iso()
            image_path = self.root / "images" / f"{image_id}.png"
            if image_id not in self._entries or not image_path.is_file():
                write_png_atomic(image_path, pixels)
            write_png_atomic(self.root / "masks" / f"{image_id}.png", label_mask(proposal))
            write_text_atomic(self.root / SEGMENT_DIR / f"{image_id}.txt", segment_labels(proposal))
            write_text_atomic(self.root / DETECT_DIR / f"{image_id}.txt", detect_labels(proposal))
            exports = _exports(record, proposal)
            document = encode_annotation_file(record, proposal, saved_at, exports)
            annotation_path = self.root / "annotations" / f"{image_id}.json"
            write_json_atomic(annotation_path, document)
            info = annotation_path.stat()
            self._seen[image_id] = (info.st_ino, info.st_mtime_ns, info.st_size)
            self._remember(_entry(AnnotationFile(record, proposal, saved_at, exports)))
            if aggregates:
                self._write_aggregates()
        return record

    def write_aggregates(self) -> None:
        """Bring the dataset-wide files up to date after saves with ``aggregates=False``."""
        with self._locked("the aggregate files"):
            self._write_aggregates()

    def _resolve(self, record: ImageRecord) -> ImageRecord:
        """Same pixels keep their first id; a different image never takes over an id (nor one
        whose annotation file is unreadable); ids are made safe as file names."""
        known = self._by_sha.get(record.sha256)
        if known is not None:
            return replace(record, image_id=known)
        image_id = _safe_name(record.image_id)
        if image_id in self._entries or image_id in self._unreadable:
            image_id = f"{image_id}_{record.sha256[:8]}"
        return replace(record, image_id=image_id)

    def _with_annotator(self, proposal: Proposal) -> Proposal:
        """Reviewed annotations without an annotator get the dataset's (a copy; input untouched)."""
        if self.annotator is None:
            return proposal
        annotations = [
            replace(a, annotator=self.annotator)
            if a.annotator is None and a.status != "proposed"
            else a
            for a in proposal.annotations
        ]
        return replace(proposal, annotations=annotations)

    def _manifest_text(self) -> str:
        rows = [e.manifest for e in self._entries.values()]
        return render_manifest([*rows, *self._unreadable_rows.values()])

    def _write_aggregates(self) -> None:
        entries = list(self._entries.values())
        labels = set().union(*(e.labels for e in entries))
        write_json_atomic(self.root / "labels.json", labels_json(labels))
        write_text_atomic(self.root / "coco.json", render_coco([e.coco for e in entries], labels))
        planes = render_planes(e.plane for e in entries if e.plane)
        write_text_atomic(self.root / "planes.csv", planes)
        samples = "".join(line for e in entries for line in e.jsonl)
        write_text_atomic(self.root / "fada_finetune.jsonl", samples)
        write_text_atomic(self.root / "manifest.csv", self._manifest_text())
