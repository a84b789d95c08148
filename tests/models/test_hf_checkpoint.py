"""Checkpoint identity: hashes follow the files' bytes, computed once per file version."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from napari_fada.models.hf_checkpoint import checkpoint_info


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
