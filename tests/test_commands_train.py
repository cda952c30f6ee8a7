"""``pomai train`` end to end through pomai.cli.main: flags, --from-config, --resume."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import pomai.training.trainer as trainer_module
from pomai.checkpoint import sha256_of
from pomai.cli import main


@pytest.fixture(autouse=True)
def skip_loss_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss-curve figure costs about a second per run; test_training_trainer checks it."""
    monkeypatch.setattr(trainer_module, "plot_loss_curve", lambda *args: None)


def train_args(data: Path, out: Path, config: Path, *extra: str) -> list[str]:
    return [
        "train", "--data", str(data), "--out", str(out), "--config", str(config),
        "--epochs", "1", "--epochs-stage2", "1", "--batch", "2", "--crop", "32",
        "--lr", "1e-3", "--no-progress", *extra,
    ]


def test_train_end_to_end(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(train_args(pair_folder, out, narrow_config_path, "--seed", "3")) == 0
    assert f"exported {out / 'model.safetensors'}" in capsys.readouterr().out
    for name in ("settings.json", "checkpoint.safetensors", "steps.csv", "epochs.json",
                 "model.safetensors", "manifest_entry.json"):
        assert (out / name).is_file(), name
    settings = json.loads((out / "settings.json").read_text())
    assert settings["epochs_stage1"] == 1 and settings["epochs_stage2"] == 1
    assert settings["seed"] == 3 and settings["lr"] == 1e-3 and settings["progress"] is False
    assert settings["stage"] == "both" and settings["ablation"] == "none"
    entry = json.loads((out / "manifest_entry.json").read_text())
    assert entry["sha256"] == sha256_of(out / "model.safetensors")
    assert entry["training"]["steps"] == 4 and entry["inference_stage"] == 2
    assert len(load_file(str(out / "model.safetensors"))) > 0


def _settings_file(tmp_path: Path, pair_folder: Path, config: Path) -> Path:
    path = tmp_path / "train.json"
    path.write_text(json.dumps({
        "data": str(pair_folder), "out": str(tmp_path / "run"), "config": str(config),
        "epochs_stage1": 1, "epochs_stage2": 1, "batch": 2, "crop": 32, "stage": "1",
        "seed": 5, "progress": False,
    }))
    return path


def test_from_config_file_with_flag_overrides(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    settings_file = _settings_file(tmp_path, pair_folder, narrow_config_path)
    args = ["train", "--from-config", str(settings_file), "--batch", "4",
            "--config", str(narrow_config_path), "--stage", "1"]
    assert main(args) == 0
    saved = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert saved["batch"] == 4  # the flag wins
    assert saved["seed"] == 5 and saved["epochs_stage1"] == 1  # the rest from the file
    entry = json.loads((tmp_path / "run" / "manifest_entry.json").read_text())
    assert entry["inference_stage"] == 1 and entry["training"]["steps"] == 1
    assert entry["config"]["width"] == 8


def test_from_config_keeps_config_and_stage_from_the_file(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    settings_file = _settings_file(tmp_path, pair_folder, narrow_config_path)
    assert main(["train", "--from-config", str(settings_file)]) == 0
    saved = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert saved["config"] == str(narrow_config_path)
    assert saved["stage"] == "1"


def test_ablation_and_stage_flags(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    out = tmp_path / "run"
    args = train_args(pair_folder, out, narrow_config_path, "--ablation", "no_camn",
                      "--stage", "1")
    assert main(args) == 0
    saved = json.loads((out / "settings.json").read_text())
    assert saved["ablation"] == "no_camn"
    entry = json.loads((out / "manifest_entry.json").read_text())
    assert entry["config"]["use_camn"] is False and entry["inference_stage"] == 1
    with pytest.raises(SystemExit):
        main(train_args(pair_folder, out, narrow_config_path, "--ablation", "everything"))


def test_max_steps_then_resume_with_new_max_steps(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(train_args(pair_folder, out, narrow_config_path, "--max-steps", "1")) == 0
    assert "stopped at step 1; continue with --resume" in capsys.readouterr().out
    assert not (out / "model.safetensors").exists()
    # --max-steps stops this invocation; the run's record plans the whole run.
    assert json.loads((out / "settings.json").read_text())["max_steps"] is None
    # --resume reads the run's settings.json: no need to repeat --data or other flags.
    resume = ["train", "--resume", "--out", str(out)]
    assert main([*resume, "--max-steps", "100"]) == 0
    assert "exported" in capsys.readouterr().out
    steps = (out / "steps.csv").read_text().splitlines()
    assert len(steps) == 1 + 4

    straight = tmp_path / "straight"
    assert main(train_args(pair_folder, straight, narrow_config_path)) == 0
    a, b = load_file(str(out / "model.safetensors")), load_file(str(straight / "model.safetensors"))
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_reads_config_from_settings_json(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    out = tmp_path / "run"
    assert main(train_args(pair_folder, out, narrow_config_path, "--max-steps", "1")) == 0
    assert main(["train", "--resume", "--out", str(out), "--max-steps", "100"]) == 0
    assert (out / "model.safetensors").is_file()


def test_plain_resume_after_max_steps_runs_to_completion(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    out = tmp_path / "run"
    assert main(train_args(pair_folder, out, narrow_config_path, "--max-steps", "1",
                           "--val", str(pair_folder), "--checkpoint-every", "3")) == 0
    assert main(["train", "--resume", "--out", str(out)]) == 0
    assert (out / "model.safetensors").is_file()
    # Settings that may change on resume keep their old values unless a flag changes them.
    saved = json.loads((out / "settings.json").read_text())
    assert saved["val"] == str(pair_folder) and saved["checkpoint_every"] == 3
    assert saved["max_steps"] is None
    epochs = json.loads((out / "epochs.json").read_text())
    assert all("SD" in record for record in epochs)  # validation ran after the resume too


def test_resume_with_changed_settings_errors(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    assert main(train_args(pair_folder, out, narrow_config_path, "--max-steps", "1")) == 0
    assert main(["train", "--resume", "--out", str(out), "--config", str(narrow_config_path),
                 "--lr", "0.01"]) == 2
    assert re.search("--resume with different settings.*lr: 0.001 -> 0.01",
                     capsys.readouterr().err)


def test_missing_data_and_bad_folder(
    tmp_path: Path, narrow_config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--out", str(tmp_path / "run")]) == 2
    assert "pomai train: error: --data required" in capsys.readouterr().err
    assert main(train_args(tmp_path / "nowhere", tmp_path / "run", narrow_config_path)) == 2
    assert "does not exist" in capsys.readouterr().err


def test_pairs_file_restricts_training_to_the_listed_pairs(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stems = sorted(p.stem for p in (pair_folder / "ir").iterdir())[:2]
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("\n".join(stems) + "\n")
    out = tmp_path / "run"
    assert main(train_args(pair_folder, out, narrow_config_path, "--pairs-file", str(pairs_file),
                           "--stage", "1")) == 0
    entry = json.loads((out / "manifest_entry.json").read_text())
    assert entry["training"]["pairs"] == 2
    pairs_file.write_text("no-such-pair\n")
    assert main(train_args(pair_folder, tmp_path / "other", narrow_config_path,
                           "--pairs-file", str(pairs_file))) == 2
    assert "no-such-pair" in capsys.readouterr().err


def test_a_moved_run_folder_resumes(
    tmp_path: Path, pair_folder: Path, narrow_config_path: Path
) -> None:
    import shutil

    out = tmp_path / "run"
    assert main(train_args(pair_folder, out, narrow_config_path, "--max-steps", "1")) == 0
    moved = tmp_path / "elsewhere"
    shutil.move(out, moved)
    assert main(["train", "--resume", "--out", str(moved)]) == 0
    assert (moved / "model.safetensors").is_file()
    assert json.loads((moved / "settings.json").read_text())["out"] == str(moved)
