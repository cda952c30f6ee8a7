"""scripts/release_weights.py: a run's exported weights go into the package unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pomai.hub import sha256_of

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "release_weights.py"


@pytest.fixture
def release_script(load_script, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    module = load_script(SCRIPT)
    monkeypatch.setattr(module, "BUNDLED_DIR", tmp_path / "bundled")
    (tmp_path / "bundled").mkdir()
    return module


def test_export_is_the_runs_file_byte_for_byte(release_script, trained_run: Path,
                                               tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    exported = json.loads((run / "manifest_entry.json").read_text())
    bundled = release_script.export({"name": "x", "run": str(run)})
    assert bundled == tmp_path / "bundled" / "x.safetensors"
    assert sha256_of(bundled) == exported["sha256"]


def test_export_without_the_runs_file_is_a_clear_error(release_script, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="model.safetensors is missing"):
        release_script.export({"name": "x", "run": str(tmp_path / "nowhere")})
