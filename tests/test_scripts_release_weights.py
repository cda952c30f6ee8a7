"""scripts/release_weights.py: a run's exported weights go into the package unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pomai.checkpoint import sha256_of

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


def test_training_record_counts_the_base_run_and_the_fine_tune(
        release_script, trained_run: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release_script, "ROOT", tmp_path)
    shutil.copytree(trained_run, tmp_path / "base")
    base = json.loads((trained_run / "manifest_entry.json").read_text())
    tune = json.loads((trained_run / "manifest_entry.json").read_text())
    tune["training"]["steps"], tune["training"]["wall_time_s"] = 7, 12.5
    tune["training"]["settings"].update(stage="2", ablation="no_freeze", epochs_stage2=3,
                                        lr=1e-4, lr_step_epochs=10)
    record = release_script.training_record(
        {"run": "tune", "base": "base", "hardware": "a test"}, tune)
    assert record["steps"] == base["training"]["steps"] + 7
    assert record["wall_time_s"] == round(base["training"]["wall_time_s"] + 12.5, 1)
    assert record["base_run"] == "base" and record["run"] == "tune"
    assert record["settings"]["ablation"] == "no_freeze"
    assert "out" not in record["settings"] and "out" not in record["base_settings"]
    assert ("then 3 stage-2 epochs with every weight trained (ablation no_freeze, Adam 0.0001 "
            "constant; 7 steps") in record["budget"]
    tune["training"]["settings"]["epochs_stage2"] = 20
    record = release_script.training_record(
        {"run": "tune", "base": "base", "hardware": "a test"}, tune)
    assert "then 20 stage-2 epochs" in record["budget"]
    assert "Adam 0.0001 halved every 10 epochs; 7 steps" in record["budget"]


def test_training_record_names_datasets_and_runs_not_paths(release_script) -> None:
    assert release_script.dataset_name("../shared/data/msrs/train") == "MSRS train"
    assert release_script.run_name("runs/msrs-tiny/model.safetensors") == "msrs-tiny"
    assert release_script.run_name("runs/msrs-tiny") == "msrs-tiny"
