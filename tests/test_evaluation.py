"""pomai.evaluation and ``pomai eval``: baselines, post-processing, dataset discovery, tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pomai
from pomai.cli import main
from pomai.evaluation import (
    Dataset,
    FusedImages,
    average_fusion,
    baseline_methods,
    evaluate,
    find_datasets,
    maximum_fusion,
    mean_ranks,
    model_method,
)
from pomai.metrics import compute_all, read_grey


def test_baselines_by_hand() -> None:
    ir = np.array([[0, 255], [10, 3]], np.uint8)
    vis = np.array([[1, 254], [20, 3]], np.uint8)
    assert average_fusion(ir, vis).tolist() == [[1, 255], [15, 3]]  # 0.5 and 254.5 round up
    assert maximum_fusion(ir, vis).tolist() == [[1, 255], [20, 3]]


def test_mean_ranks_by_hand() -> None:
    means = {"a": {"X": 3.0, "Y": 1.0}, "b": {"X": 2.0, "Y": 1.0}, "c": {"X": 1.0, "Y": 5.0}}
    # X: a 1, b 2, c 3. Y: c 1, a and b tie for 2 and 3 -> 2.5 each.
    assert mean_ranks(means, ["X", "Y"]) == {"a": 1.75, "b": 2.25, "c": 2.0}
    assert mean_ranks({"only": {"X": 0.0}}, ["X"]) == {"only": 1.0}


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


def test_fused_images_are_read_by_stem(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "d", ["a"])
    fused_dir = tmp_path / "fused"
    fused_dir.mkdir()
    ir, vis = read_grey(root / "ir" / "a.png"), read_grey(root / "vi" / "a.png")
    Image.fromarray(np.maximum(ir, vis)).save(fused_dir / "a.png")
    dataset = Dataset("d", root / "ir", root / "vi")
    results = evaluate({"mine": FusedImages({None: fused_dir}), **baseline_methods()}, [dataset],
                       metrics=("SD", "VIF"), progress=False)
    assert results.values["mine"]["d"]["a"] == results.values["Maximum"]["d"]["a"]


def test_fused_images_serve_only_the_datasets_they_are_given_for(
    tmp_path: Path, make_pairs
) -> None:
    """A peer's folder for dataset "two" is not used for "one", even where the stems match."""
    first, second = make_pairs(tmp_path / "one", ["z"]), make_pairs(tmp_path / "two", ["z", "y"])
    fused_dir = tmp_path / "fused"
    fused_dir.mkdir()
    Image.fromarray(read_grey(second / "ir" / "z.png")).save(fused_dir / "z.png")
    datasets = [find_datasets(first)[0], find_datasets(second)[0]]
    results = evaluate({"peer": FusedImages({"two": fused_dir}), **baseline_methods()},
                       datasets, metrics=("SD", "EN"), progress=False)
    assert "one" not in results.values["peer"] and set(results.values["peer"]["two"]) == {"z"}
    assert results.failures == [f"peer on two/y: no fused image for 'y' in {fused_dir}"]
    assert results.methods_on("one") == ["Average", "Maximum"]
    assert set(results.mean_ranks("two")) == {"peer", "Average", "Maximum"}
    table = results.table().splitlines()
    assert table[0].endswith("| one Rank | two SD | two EN | two Rank |")
    assert table[2].startswith("| peer | – | – | – |")


def test_eval_command_fused_folder_per_dataset(
    tmp_path: Path, make_pairs, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = make_pairs(tmp_path / "one", ["a"]), make_pairs(tmp_path / "two", ["a"])
    fused_dir = tmp_path / "fused"
    fused_dir.mkdir()
    Image.fromarray(read_grey(two / "vi" / "a.png")).save(fused_dir / "a.png")
    out = tmp_path / "out"
    assert main(["eval", f"one={one}", f"two={two}", "--fused", f"peer:two={fused_dir}",
                 "--metrics", "SD", "--out", str(out), "--no-progress"]) == 0
    per_image = json.loads((out / "results.json").read_text())["per_image"]["peer"]
    assert set(per_image) == {"two"}
    capsys.readouterr()
    assert main(["eval", f"one={one}", "--fused", f"peer:three={fused_dir}",
                 "--no-progress"]) == 2
    assert "no dataset is labelled 'three'" in capsys.readouterr().err


def test_eval_command_table_csv_json(
    tmp_path: Path, make_pairs, trained_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_pairs(tmp_path / "d", ["a", "b"], (24, 24))
    out = tmp_path / "out"
    code = main(["eval", str(root), "--model", str(trained_weights), "--metrics", "SD,SF,Qabf",
                 "--out", str(out), "--save-fused", "--no-progress"])
    assert code == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0] == "| Method | d SD | d SF | d Qabf | d Rank |"
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == [
        "| run", "| Average", "| Maximum"  # a run's model.safetensors: the run folder's name
    ]
    data = json.loads((out / "results.json").read_text())
    assert set(data["per_image"]["run"]["d"]) == {"a", "b"}
    assert sorted(data["mean_rank"]["d"]) == ["Average", "Maximum", "run"]
    assert sum(data["mean_rank"]["d"].values()) == pytest.approx(1 + 2 + 3)
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0] == "method,dataset,image,SD,SF,Qabf,mean_rank"
    assert len(csv_lines) == 1 + 3 * 3
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
    assert lines[2] == "| Method | SD | EN | Rank |"
    assert lines[4].startswith("| Average | ") and lines[5].startswith("| Maximum | ")


def test_eval_command_dataset_labels(
    tmp_path: Path, make_pairs, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_pairs(tmp_path / "test", ["a"])
    assert main(["eval", f"msrs={root}", "--metrics", "SD", "--by-dataset", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("**msrs** (1 pairs)")


def test_eval_fuses_exactly_what_fuse_returns(
    tmp_path: Path, make_pairs, trained_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One output path: `pomai eval`'s fused image is fuse()'s output written to PNG, for a grey
    and a colour visible image; its metrics are those of that PNG read as MATLAB grey."""
    from pomai.atomic import atomic_write_image

    root = make_pairs(tmp_path / "d", ["grey", "colour"], (24, 24))
    grey_vis = np.asarray(Image.open(root / "vi" / "colour.png"))
    tint = np.stack([grey_vis, (grey_vis * 0.6).astype(np.uint8), 255 - grey_vis], axis=-1)
    Image.fromarray(tint).save(root / "vi" / "colour.png")
    out = tmp_path / "out"
    assert main(["eval", str(root), "--model", f"m={trained_weights}", "--out", str(out),
                 "--save-fused", "--no-progress"]) == 0
    capsys.readouterr()
    fuser = pomai.load(trained_weights, device="cpu")
    per_image = json.loads((out / "results.json").read_text())["per_image"]["m"]["d"]
    for stem, mode in (("grey", "L"), ("colour", "RGB")):
        by_user = tmp_path / f"user-{stem}.png"
        atomic_write_image(fuser.fuse(root / "ir" / f"{stem}.png", root / "vi" / f"{stem}.png"),
                           by_user)
        by_eval = out / "fused" / "m" / "d" / f"{stem}.png"
        user_image, eval_image = Image.open(by_user), Image.open(by_eval)
        assert user_image.mode == eval_image.mode == mode
        assert np.array_equal(np.asarray(user_image), np.asarray(eval_image))
        ir, vis = read_grey(root / "ir" / f"{stem}.png"), read_grey(root / "vi" / f"{stem}.png")
        assert per_image[stem] == compute_all(read_grey(by_user), ir, vis)


def test_model_method_normalize_none_is_the_raw_output(tmp_path: Path, make_pairs,
                                                        trained_weights: Path) -> None:

    root = make_pairs(tmp_path / "d", ["a"], (24, 24))
    fuser = pomai.load(trained_weights, device="cpu")
    [dataset] = find_datasets(root)
    stretched = evaluate({"m": model_method(fuser)}, [dataset], metrics=("SD",), progress=False)
    raw = evaluate({"m": model_method(fuser, "none")}, [dataset], metrics=("SD",),
                   progress=False)
    # The stretch spans the full range, so it can only raise the standard deviation.
    assert stretched.values["m"]["d"]["a"]["SD"] > raw.values["m"]["d"]["a"]["SD"]
