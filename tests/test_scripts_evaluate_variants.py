"""scripts/evaluate_variants.py: one checkpoint as shipped, at stage 1 and in bfloat16."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "evaluate_variants.py"


@pytest.fixture(scope="module")
def script(load_script):
    return load_script(SCRIPT)


def test_variants_are_the_stage_and_dtype_they_name(script, trained_run: Path) -> None:
    model = str(trained_run)  # exported at stage 2
    made = script.fusers(model, ["stage1", "stage2", "bfloat16"])
    assert {label: (f.stage, f.dtype) for label, f in made.items()} == {
        f"{model} stage 1": (1, torch.float32),
        f"{model} stage 2 (served)": (2, torch.float32),
        f"{model} bfloat16 (stage 2)": (2, torch.bfloat16),
    }


def test_variants_evaluated_side_by_side(script, trained_run: Path, make_pairs,
                                         tmp_path: Path) -> None:
    data = make_pairs(tmp_path / "d", ["a", "b"], (40, 40))
    results = script.main([f"mine={data}", "--model", str(trained_run), "--out",
                           str(tmp_path / "out"), "--no-progress", "--metrics", "SD,VIF"])
    assert len(results.methods) == 3 and results.datasets == ["mine"]
    assert results.metrics == ("SD", "VIF")
    sds = [results.mean(m, "mine")["SD"] for m in results.methods]
    assert len(set(sds)) == 3  # three different networks' outputs
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(saved["means"]) == set(results.methods)
    assert all(np.isfinite(saved["means"][m]["mine"]["VIF"]) for m in results.methods)
    for name in ("table.md", "tables_by_dataset.md", "results.csv"):
        assert (tmp_path / "out" / name).is_file()


def test_no_dataset_is_a_clear_error(script, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        script.main([str(tmp_path), "--no-progress"])
    assert "no image pairs in" in capsys.readouterr().err
