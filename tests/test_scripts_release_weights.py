"""scripts/release_weights.py: a run's weights go into the package at the release's stage."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from pomai.hub import read_metadata, sha256_of

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "release_weights.py"


@pytest.fixture
def release_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("release_weights", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "BUNDLED_DIR", tmp_path / "bundled")
    (tmp_path / "bundled").mkdir()
    return module


@pytest.fixture
def run(trained_run: Path, tmp_path: Path) -> tuple[Path, dict]:
    """A copy of the test run (its export is stage 2) and its manifest entry."""
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy, json.loads((copy / "manifest_entry.json").read_text())


def test_same_stage_is_the_runs_file_byte_for_byte(release_script, run) -> None:
    folder, exported = run
    release = {"name": "x", "run": str(folder)}
    bundled = release_script.export(release)
    assert sha256_of(bundled) == exported["sha256"]
    assert release_script.check_bundled(release, exported) == bundled


def test_stage_override_keeps_the_tensors(release_script, run) -> None:
    folder, exported = run
    release = {"name": "x", "run": str(folder), "inference_stage": 1}
    bundled = release_script.export(release)
    assert read_metadata(bundled)[1] == 1 and exported["inference_stage"] == 2
    ours, theirs = load_file(bundled), load_file(folder / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(ours[k].equal(theirs[k]) for k in ours)
    assert release_script.check_bundled(release, exported) == bundled


def test_other_tensors_are_refused(release_script, run) -> None:
    folder, exported = run
    release = {"name": "x", "run": str(folder), "inference_stage": 1}
    bundled = release_script.export(release)
    tensors = load_file(bundled)
    name = next(iter(tensors))
    tensors[name] = tensors[name] + 1
    save_file(tensors, bundled, metadata={"pomai_config": json.dumps(exported["config"]),
                                          "inference_stage": "1"})
    with pytest.raises(SystemExit, match="other tensors"):
        release_script.check_bundled(release, exported)


def test_without_the_runs_file_only_the_metadata_is_checked(release_script, run,
                                                           capsys) -> None:
    folder, exported = run
    release = {"name": "x", "run": str(folder), "inference_stage": 1}
    release_script.export(release)
    (folder / "model.safetensors").unlink()
    release_script.check_bundled(release, exported)
    assert "not compared" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="is not the file"):  # stage 2: the run's exact bytes
        release_script.check_bundled({**release, "inference_stage": 2}, exported)
