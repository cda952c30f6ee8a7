"""scripts/ablation_table.py: the Table 2 layout from the runs' validation logs."""

from __future__ import annotations

import json
from pathlib import Path

from pomai.metrics import METRIC_NAMES
from pomai.training.trainer import TrainSettings

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ablation_table.py"


def _run(root: Path, variant: str, epochs: list[float], finished: bool) -> None:
    run = root / f"ablation-{variant}"
    run.mkdir(parents=True)
    settings = TrainSettings(data="train", out=str(run), ablation=variant, epochs_stage1=2,
                             epochs_stage2=1, val="val", val_pairs=4)
    (run / "settings.json").write_text(json.dumps(settings.to_dict()))
    log = [{"global_step": 10 * (i + 1), **{m: vif for m in METRIC_NAMES}}
           for i, vif in enumerate(epochs)]
    (run / "epochs.json").write_text(json.dumps(log))
    if finished:
        (run / "model.safetensors").write_bytes(b"")


def test_table_takes_each_finished_run_s_last_epoch(tmp_path: Path, load_script) -> None:
    _run(tmp_path / "runs", "none", [0.1, 0.2, 0.3], finished=True)
    _run(tmp_path / "runs", "no_micm", [0.4, 0.5], finished=True)  # stage 1 only: 2 epochs
    _run(tmp_path / "runs", "joint", [0.6], finished=False)
    out = tmp_path / "out"
    load_script(SCRIPT).main(["--runs", str(tmp_path / "runs"), "--out", str(out)])
    table = (out / "val_table.md").read_text().splitlines()
    rows = {line.split("|")[2].strip(): line for line in table if line.startswith("| ")}
    assert "| 3 / 3 | 30 | 0.300 |" in rows["`none`"]
    assert "| 2 / 2 | 20 | 0.500 |" in rows["`no_micm`"]
    assert "| 1 / 3 | 10 | not finished |" in rows["`joint`"]
    report = json.loads((out / "val_results.json").read_text())
    assert report["variants"]["none"]["metrics"]["VIF"] == 0.3
    assert not report["variants"]["joint"]["finished"]
