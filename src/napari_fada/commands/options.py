"""Options more than one command takes, defined once: the model options, what to propose on.

``--backend --model --mmproj --url --api-key --threads --n-ctx`` (and ``--phases`` where a
command runs the pipeline's phases) mean the same in ``propose``, ``prelabel``, ``evaluate``,
``inspect`` and ``settings``; each falls back to the saved settings (shared with napari) for
those not given.
``--model`` is the one name of the model file or folder of every backend (of the served model,
for a server); its help, made from the registry, says what each backend takes.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from napari_fada.errors import FadaError
from napari_fada.models.base import PHASES, Backend
from napari_fada.models.registry import available_backends, backend_files, load_backend
from napari_fada.settings import Settings

_FILE_FLAGS = ("model", "mmproj", "url", "api_key")
_NUMBER_FLAGS = ("threads", "n_ctx")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return value


def phase_list(text: str) -> list[str]:
    """``"classify,segment"`` as phases in the pipeline's order; unknown names are an error."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in PHASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown phase(s) {', '.join(unknown) or '(none given)'}: use a comma-separated "
            f"list of {', '.join(PHASES)}"
        )
    return [p for p in PHASES if p in names]


#: The default of the file and server options, told apart from '' (None: clear the setting).
NOT_GIVEN = object()


def optional_text(text: str) -> str | None:
    """A model file, model name, URL or key given on the command line; '' (clear the setting)
    gives None, not the current folder as ``Path('')`` would. Files are resolved once the
    backend, and so whether the option names a file, is known."""
    return text.strip() or None


def _file_help(flag: str) -> str:
    """Which backends take ``--flag``, and what each takes there (from the registry)."""
    return "; ".join(
        f"{name}: {file.label}"
        for name in available_backends()
        for file in backend_files(name)
        if file.flag == flag
    )


def add_model_arguments(parser: argparse.ArgumentParser, phases: bool = True) -> None:
    """The model options; each defaults to the saved setting. ``phases`` adds ``--phases``."""
    parser.add_argument(
        "--backend", choices=available_backends(), help="model backend (default: the saved one)"
    )
    parser.add_argument(
        "--model",
        type=optional_text,
        default=NOT_GIVEN,
        help=_file_help("model") + " ('' clears it: the embedded model then uses its shipped "
        "weights)",
    )
    parser.add_argument(
        "--mmproj",
        type=optional_text,
        default=NOT_GIVEN,
        help=_file_help("mmproj") + "; '' clears it",
    )
    parser.add_argument(
        "--url",
        type=optional_text,
        default=NOT_GIVEN,
        help=_file_help("url") + ", e.g. http://host:8080/v1",
    )
    parser.add_argument(
        "--api-key",
        type=optional_text,
        default=NOT_GIVEN,
        help=_file_help("api_key") + " (default: $NAPARI_FADA_API_KEY); '' clears it",
    )
    parser.add_argument("--threads", type=positive_int, help="CPU threads")
    parser.add_argument("--n-ctx", type=positive_int, help="llama: context size in tokens")
    if phases:
        parser.add_argument(
            "--phases", type=phase_list, help=f"comma-separated phases to run ({','.join(PHASES)})"
        )


def _option(flag: str) -> str:
    return "--" + flag.replace("_", "-")


def apply_model_arguments(settings: Settings, args: argparse.Namespace) -> Settings:
    """A copy of ``settings`` with the model options given on the command line."""
    updated = replace(settings, backend=args.backend or settings.backend)
    files = {f.flag: f for f in backend_files(updated.backend)}
    for flag in _FILE_FLAGS:
        value = getattr(args, flag)
        if value is NOT_GIVEN:
            continue
        if flag not in files:
            taken = ", ".join(_option(f) for f in files) or "no files"
            raise FadaError(
                f"{_option(flag)} is not used by the {updated.backend!r} backend: it takes {taken}."
            )
        if value is not None and files[flag].is_path:
            value = Path(value).expanduser().resolve()
        setattr(updated, files[flag].setting, None if value is None else str(value))
    for option in _NUMBER_FLAGS:
        if getattr(args, option) is not None:
            setattr(updated, option, getattr(args, option))
    if getattr(args, "phases", None) is not None:
        updated.phases = args.phases
    return updated


def load_model(args: argparse.Namespace) -> Backend:
    """The model the options and the saved settings choose, loaded (ModelLoadError if it cannot
    be)."""
    settings = apply_model_arguments(Settings.load(), args)
    return load_backend(settings.backend, **settings.backend_arguments())


def add_propose_arguments(parser: argparse.ArgumentParser) -> None:
    """INPUT... ``--out`` and the model options, as ``propose`` and ``prelabel`` take them."""
    parser.add_argument(
        "inputs", nargs="+", type=Path, help="images, DICOM or video files, folders"
    )
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to write into")
    add_model_arguments(parser)
    parser.add_argument(
        "--structures", nargs="+", help="structures to ask for (default: the model's routing)"
    )
    parser.add_argument("--annotator", help="name recorded in the provenance")
    parser.add_argument(
        "--folder-as-clip",
        action="store_true",
        help="read each folder as one clip, its images (all the same size) the frames in name "
        "order (default: each image of a folder on its own, under its file name)",
    )
