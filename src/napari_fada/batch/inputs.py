"""Turn the INPUT... of a pre-labelling run into work items, leaving out what is already done.

An input is a file, a folder (the images directly inside it, each its own image, not a clip,
unless ``folder_clips`` says each folder is one clip, its images the frames in name order) or a
glob (``'scans/**/*.dcm'``, expanded here for shells that pass it quoted). Still images
(PNG, JPEG, BMP) are not opened here; files that may hold several frames (TIFF, DICOM, video)
are opened, which reads their header and first frame, to count the frames. A clip becomes
items of up to :data:`CHUNK_FRAMES` consecutive frames, so a worker opens it once per chunk.
Items are handed to workers in groups (:func:`group_items`) of at least the frames a model
decodes together.

Each frame is named by a :data:`FrameKey`: the file's absolute path and the frame index (None
for a still image). The dataset's records carry the same two facts, so a rerun skips every
frame some earlier run (or an annotator) already saved.
"""

from __future__ import annotations

import glob
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from napari_fada.data.folders import folder_images
from napari_fada.data.image_files import PIL_SUFFIXES
from napari_fada.data.readers import is_supported, read_any
from napari_fada.errors import FadaError, ImageReadError

#: Frames of one clip handed to a worker at once.
CHUNK_FRAMES = 8

#: (absolute path of the file, frame index or None for a still image).
FrameKey = tuple[str, int | None]

_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class WorkItem:
    """A still image (``frames`` None) or some frames of one clip, to propose in one task."""

    path: Path
    frames: tuple[int, ...] | None = None

    @property
    def keys(self) -> list[FrameKey]:
        if self.frames is None:
            return [(str(self.path), None)]
        return [(str(self.path), index) for index in self.frames]


@dataclass(frozen=True)
class WorkGroup:
    """Consecutive work items proposed in one task, so that their frames can be decoded
    together (``prelabel --batch-size``)."""

    items: tuple[WorkItem, ...]

    @property
    def keys(self) -> list[FrameKey]:
        return [key for item in self.items for key in item.keys]


def group_items(items: Sequence[WorkItem], frames: int) -> list[WorkGroup]:
    """``items`` in order, in groups of consecutive items holding at least ``frames`` frames
    (fewer in the last group); one item per group for ``frames`` 1."""
    groups: list[WorkGroup] = []
    pending: list[WorkItem] = []
    for item in items:
        pending.append(item)
        if sum(len(p.keys) for p in pending) >= frames:
            groups.append(WorkGroup(tuple(pending)))
            pending = []
    if pending:
        groups.append(WorkGroup(tuple(pending)))
    return groups


@dataclass(frozen=True)
class InputFailure:
    """An input, or one frame of it, that could not be proposed."""

    path: str
    frame_index: int | None
    error: str


@dataclass
class Expansion:
    """The work left to do, what was skipped as done, and inputs that could not be opened."""

    items: list[WorkItem] = field(default_factory=list)
    skipped: int = 0
    failures: list[InputFailure] = field(default_factory=list)

    @property
    def frames(self) -> int:
        """Frames still to propose."""
        return sum(len(item.keys) for item in self.items)


def frame_key(source_path: str | Path, frame_index: int | None) -> FrameKey:
    return (str(Path(source_path).resolve()), frame_index)


def _matches(pattern: str) -> list[Path] | None:
    """Files and folders a glob pattern names, or None when ``pattern`` is a plain path."""
    if Path(pattern).exists() or not _GLOB_CHARACTERS & set(pattern):
        return None
    return [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]


def _files(
    inputs: Sequence[str | Path], failures: list[InputFailure], folder_clips: bool
) -> list[tuple[Path, bool]]:
    """Every file the inputs name, absolute, first mention only, each with whether it was named
    explicitly (an unsupported file named explicitly is an error; one in a folder is ignored);
    with ``folder_clips``, each folder itself."""
    found: list[tuple[Path, bool]] = []
    for given in inputs:
        matches = _matches(str(given))
        if matches is not None and not matches:
            failures.append(InputFailure(str(given), None, "the pattern matches no file"))
        for path in matches if matches is not None else [Path(given)]:
            if path.is_dir() and folder_clips:
                found.append((path, True))
            elif path.is_dir():
                images = folder_images(path)
                if not images:
                    failures.append(InputFailure(str(path), None, "the folder holds no images"))
                found += [(image, False) for image in images]
            elif path.exists():
                found.append((path, matches is None))
            else:
                failures.append(InputFailure(str(path), None, "the file does not exist"))
    unique: dict[Path, bool] = {}
    for path, explicit in found:
        unique.setdefault(path.resolve(), explicit)
    return list(unique.items())


def _chunks(path: Path, frames: Iterable[int]) -> list[WorkItem]:
    todo = list(frames)
    return [
        WorkItem(path, tuple(todo[start : start + CHUNK_FRAMES]))
        for start in range(0, len(todo), CHUNK_FRAMES)
    ]


def _clip_frames(folder: Path) -> int:
    """The frames of a folder read as one clip; FadaError if its images are not one."""
    loaded = read_any(folder)
    if not loaded.is_stack:
        raise ImageReadError(
            f"{folder} is not one clip: its images differ in size (or it holds one). Propose on "
            "it without --folder-as-clip to take each image on its own."
        )
    return len(loaded.data)


def _frame_count(path: Path) -> int | None:
    """Frames of a clip (a file, or a folder read as one), None for a still image; FadaError if
    it cannot be opened or is of no kind we read."""
    if path.is_dir():
        return _clip_frames(path)
    if not is_supported(path):
        raise ImageReadError(
            "not an image, DICOM or video file (PNG, JPEG, BMP, TIFF, DCM, MP4, AVI)"
        )
    if path.suffix.lower() in PIL_SUFFIXES:
        return None
    loaded = read_any(path)
    return len(loaded.data) if loaded.is_stack else None


def expand_inputs(
    inputs: Sequence[str | Path], done: Collection[FrameKey] = (), folder_clips: bool = False
) -> Expansion:
    """Work items for every frame of ``inputs`` not in ``done``, in the order given."""
    expansion = Expansion()
    for path, explicit in _files(inputs, expansion.failures, folder_clips):
        if not explicit and not path.is_dir() and not is_supported(path):
            continue  # a file of another kind in a folder
        try:
            n_frames = _frame_count(path)
        except FadaError as error:
            expansion.failures.append(InputFailure(str(path), None, str(error)))
            continue
        if n_frames is None:
            if (str(path), None) in done:
                expansion.skipped += 1
            else:
                expansion.items.append(WorkItem(path))
            continue
        todo = [i for i in range(n_frames) if (str(path), i) not in done]
        expansion.skipped += n_frames - len(todo)
        expansion.items += _chunks(path, todo)
    return expansion
