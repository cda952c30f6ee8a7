"""pomai.evaluation and ``pomai eval``: baselines, post-processing, dataset discovery, tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pomai.cli import main
from pomai.evaluation import (
    Dataset,
    average_fusion,
    baseline_methods,
    evaluate,
    find_datasets,
    folder_method,
    maximum_fusion,
    to_uint8,
)
from pomai.metrics import compute_all, read_grey


def test_baselines_by_hand() -> None:
    ir = np.array([[0, 255], [10, 3]], np.uint8)
    vis = np.array([[1, 254], [20, 3]], np.uint8)
    assert average_fusion(ir, vis).tolist() == [[1, 255], [15, 3]]  # 0.5 and 254.5 round up
    assert maximum_fusion(ir, vis).tolist() == [[1, 255], [20, 3]]


def test_minmax_stretch_and_clip() -> None:
    fused = np.array([[0.2, 0.4], [0.6, 0.2]])
    assert to_uint8(fused, "minmax").tolist() == [[0, 128], [255, 0]]
    assert to_uint8(fused, "none").tolist() == [[51, 102], [153, 51]]
    assert to_uint8(np.full((2, 2), 0.5), "minmax").tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="postprocess"):
        to_uint8(fused, "gamma")  # type: ignore[arg-type]


def test_find_datasets_infrared_and_medical_layouts(tmp_path: Path, make_pairs) -> None:
    make_pairs(tmp_path / "ivf", ["a"])
    (tmp_path / "med" / "MRI_CT" / "mri").mkdir(parents=True)
    (tmp_path / "med" / "MRI_CT" / "ct").mkdir()
    (tmp_path / "med" / "MRI_PET" / "mri").mkdir(parents=True)
    (tmp_path / "med" / "MRI_PET" / "pet").mkdir()
    [ivf] = find_datasets(tmp_path / "ivf")
    assert (ivf.name, ivf.ir_dir.name, ivf.vis_dir.name) == ("ivf", "ir", "vi")
    med = find_datasets(tmp_path / "med")
    assert [(d.name, d.ir_dir.name, d.vis_dir.name) for d in med] == [
        ("med/MRI_CT", "mri", "ct"), ("med/MRI_PET", "mri", "pet")
    ]
    with pytest.raises(ValueError, match="no image pairs"):
        find_datasets(tmp_path / "med" / "MRI_CT" / "ct")


def test_evaluate_matches_the_metrics_and_skips_a_bad_pair(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "d", ["a", "b", "c"])
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "vi" / "c.png")  # size mismatch
    results = evaluate(baseline_methods(), find_datasets(root), progress=False)
    assert set(results.values["Maximum"]["d"]) == {"a", "b"}
    assert len(results.failures) == 1 and "d/c" in results.failures[0]
    ir, vis = read_grey(root / "ir" / "a.png"), read_grey(root / "vi" / "a.png")
    assert results.values["Maximum"]["d"]["a"] == compute_all(np.maximum(ir, vis), ir, vis)
    mean = results.mean("Average", "d")
    per_image = results.values["Average"]["d"]
    assert mean["SD"] == pytest.approx((per_image["a"]["SD"] + per_image["b"]["SD"]) / 2)


def test_folder_method_reads_fused_images_by_stem(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "d", ["a"])
    fused_dir = tmp_path / "fused"
    fused_dir.mkdir()
    ir, vis = read_grey(root / "ir" / "a.png"), read_grey(root / "vi" / "a.png")
    Image.fromarray(np.maximum(ir, vis)).save(fused_dir / "a.png")
    dataset = Dataset("d", root / "ir", root / "vi")
    results = evaluate({"mine": folder_method(fused_dir), "Maximum": maximum_fusion}, [dataset],
                       metrics=("SD", "VIF"), progress=False)
    assert results.values["mine"]["d"]["a"] == results.values["Maximum"]["d"]["a"]


def test_eval_command_table_csv_json(
    tmp_path: Path, make_pairs, trained_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_pairs(tmp_path / "d", ["a", "b"], (24, 24))
    out = tmp_path / "out"
    code = main(["eval", str(root), "--model", str(trained_weights), "--metrics", "SD,SF,Qabf",
                 "--out", str(out), "--save-fused", "--no-progress"])
    assert code == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0] == "| Method | d SD | d SF | d Qabf |"
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == [
        "| run", "| Average", "| Maximum"  # a run's model.safetensors: the run folder's name
    ]
    data = json.loads((out / "results.json").read_text())
    assert set(data["per_image"]["run"]["d"]) == {"a", "b"}
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0] == "method,dataset,image,SD,SF,Qabf" and len(csv_lines) == 1 + 3 * 3
    fused = np.asarray(Image.open(out / "fused" / "run" / "d" / "a.png"))
    assert fused.dtype == np.uint8 and fused.min() == 0 and fused.max() == 255  # min-max stretch


def test_eval_command_model_labels(
    tmp_path: Path, make_pairs, trained_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_pairs(tmp_path / "d", ["a"], (24, 24))
    code = main(["eval", str(root), "--model", f"mine={trained_weights}", "--model",
                 f"again={trained_weights}", "--metrics", "SD", "--by-dataset", "--no-progress"])
    assert code == 0
    rows = [line.split(" | ")[0] for line in capsys.readouterr().out.splitlines()[4:]]
    assert rows == ["| mine", "| again", "| Average", "| Maximum"]
    assert main(["eval", str(root), "--model", str(trained_weights), "--model",
                 str(trained_weights), "--no-progress"]) == 2
    assert re.search("pomai eval: error: two methods are labelled 'run'.*LABEL=",
                     capsys.readouterr().err)


def test_tables_by_dataset(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "d", ["a"])
    results = evaluate(baseline_methods(), find_datasets(root), metrics=("SD", "EN"),
                       progress=False)
    lines = results.tables_by_dataset().splitlines()
    assert lines[0] == "**d** (1 pairs)"
    assert lines[2] == "| Method | SD | EN |"
    assert lines[4].startswith("| Average | ") and lines[5].startswith("| Maximum | ")


def test_eval_command_dataset_labels(
    tmp_path: Path, make_pairs, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_pairs(tmp_path / "test", ["a"])
    assert main(["eval", f"msrs={root}", "--metrics", "SD", "--by-dataset", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("**msrs** (1 pairs)")
