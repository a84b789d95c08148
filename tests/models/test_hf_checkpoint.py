"""Checkpoint identity: hashes follow the files' bytes, computed once per file version."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from napari_fada.errors import ModelLoadError
from napari_fada.models.hf_checkpoint import (
    checkpoint_info,
    load_model,
    load_preprocessing,
    refuse_custom_code,
)


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen3_5"}))
    (tmp_path / "model-00001.safetensors").write_bytes(b"first")
    (tmp_path / "model-00002.safetensors").write_bytes(b"second")
    return tmp_path


def test_hashes_cover_every_weight_file_in_order(tmp_path: Path) -> None:
    info = checkpoint_info(_folder(tmp_path))
    assert info.weights_sha256 == hashlib.sha256(b"firstsecond").hexdigest()
    assert info.config_sha256 == hashlib.sha256(b'{"model_type": "qwen3_5"}').hexdigest()
    assert (info.model_id, info.backend) == (tmp_path.name, "transformers")


def test_a_changed_file_is_hashed_again(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    before = checkpoint_info(folder).weights_sha256
    weights = folder / "model-00002.safetensors"
    weights.write_bytes(b"SECOND")
    os.utime(weights, ns=(1, 1))
    assert checkpoint_info(folder).weights_sha256 == hashlib.sha256(b"firstSECOND").hexdigest()
    assert before != checkpoint_info(folder).weights_sha256


def test_a_folder_asking_for_its_own_code_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    ran = tmp_path / "ran"
    (folder / "custom.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
    auto_map = {"AutoImageProcessor": "custom.Processor"}
    (folder / "preprocessor_config.json").write_text(json.dumps({"auto_map": auto_map}))
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("asked on stdin"))
    with pytest.raises(ModelLoadError, match=r"preprocessor_config\.json asks to run Python code"):
        refuse_custom_code(folder)
    assert not ran.exists()


def test_every_load_passes_trust_remote_code_false(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transformers = pytest.importorskip("transformers")
    calls: list[dict[str, Any]] = []

    def record(_folder: Path, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return MagicMock()

    for name in ("AutoTokenizer", "AutoImageProcessor", "AutoModelForImageTextToText"):
        monkeypatch.setattr(getattr(transformers, name), "from_pretrained", record)
    load_preprocessing(tmp_path)
    load_model(tmp_path, "cpu", None)
    assert len(calls) == 3
    assert all(c["trust_remote_code"] is False and c["local_files_only"] for c in calls)
