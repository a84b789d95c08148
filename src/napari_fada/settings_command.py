"""``napari-fada settings``: show and set the model settings the widget and the CLI share.

The model options (``--backend --model --mmproj --url --api-key --threads --n-ctx --phases``)
are defined here once; ``napari-fada propose`` takes the same ones and falls back to the saved
settings for those not given.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path

from napari_fada.errors import FadaError
from napari_fada.models.base import PHASES
from napari_fada.models.registry import available_backends, backend_files, describe_backend
from napari_fada.settings import Settings, settings_path

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


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model options; each defaults to the saved setting."""
    parser.add_argument("--backend", choices=available_backends(), help="model backend")
    parser.add_argument(
        "--model",
        type=optional_text,
        default=NOT_GIVEN,
        help="embedded: weights .pt; llama: model .gguf; transformers: checkpoint folder; "
        "openai: the served model's name (default: the only one served); '' clears it (the "
        "embedded model then uses its shipped weights)",
    )
    parser.add_argument(
        "--mmproj",
        type=optional_text,
        default=NOT_GIVEN,
        help="llama: the vision projector (mmproj .gguf); '' clears it",
    )
    parser.add_argument(
        "--url",
        type=optional_text,
        default=NOT_GIVEN,
        help="openai: the server's base URL, e.g. http://host:8080/v1",
    )
    parser.add_argument(
        "--api-key",
        type=optional_text,
        default=NOT_GIVEN,
        help="openai: the server's API key (default: $NAPARI_FADA_API_KEY); '' clears it",
    )
    parser.add_argument("--threads", type=positive_int, help="CPU threads")
    parser.add_argument("--n-ctx", type=positive_int, help="llama: context size in tokens")
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
    if args.phases is not None:
        updated.phases = args.phases
    return updated


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def describe(settings: Settings) -> list[str]:
    """The settings as lines for people, the chosen backend's files marked when missing and
    API keys shown only as "(set)"."""
    secrets = {
        f.setting for b in available_backends() for f in backend_files(b) if f.kind == "secret"
    }

    def shown_value(name: str) -> object:
        value = getattr(settings, name)
        return "(set)" if value and name in secrets else value

    lines = [f"backend: {settings.backend} ({describe_backend(settings.backend)})"]
    for file in backend_files(settings.backend):
        value = getattr(settings, file.setting)
        missing = " (not found)" if value and file.is_path and not Path(value).exists() else ""
        lines.append(f"  {file.label}: {shown_value(file.setting) or '(not set)'}{missing}")
    shown = {"backend"} | {f.setting for f in backend_files(settings.backend)}
    lines += [
        f"{f.name}: {shown_value(f.name)}"
        for f in fields(settings)
        if f.name not in shown and getattr(settings, f.name) is not None
    ]
    return lines


def run_settings(args: argparse.Namespace) -> int:
    saved = Settings.load()
    settings = apply_model_arguments(saved, args)
    if settings != saved:
        settings.save()
        print(f"saved {settings_path()}")
    print("\n".join(describe(settings)))
    return 0
