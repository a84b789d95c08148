"""``napari-fada settings``: show and set the model settings the widget and the CLI share."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from napari_fada.commands.options import add_model_arguments, apply_model_arguments
from napari_fada.models.registry import available_backends, backend_files, describe_backend
from napari_fada.settings import Settings, settings_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    saved = Settings.load()
    settings = apply_model_arguments(saved, args)
    if settings != saved:
        settings.save()
        print(f"saved {settings_path()}")
    print("\n".join(describe(settings)))
    return 0
