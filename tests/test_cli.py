"""The command line: fuse (pair and folders, atomic outputs, bad pairs skipped), list, info,
download, verify, analyze, and ``python -m pomai``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_hub import FakeHub, install_bundled_only, manifest_entry, write_manifest
from PIL import Image

import pomai
from pomai.checkpoint import sha256_of
from pomai.cli import build_parser, main


def _image(shape: tuple[int, ...], seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """ir/ and vi/ with 2 good pairs, a corrupt file, a size mismatch and an unpaired file."""
    ir, vis = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir()
    vis.mkdir()
    for i, stem in enumerate(("a", "b")):
        _image((24, 28), i).save(ir / f"{stem}.png")
        _image((24, 28, 3), 10 + i).save(vis / f"{stem}.jpg")
    (ir / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    _image((24, 28, 3), 20).save(vis / "corrupt.png")
    _image((24, 28), 3).save(ir / "size.png")
    _image((24, 30), 4).save(vis / "size.png")
    _image((24, 28), 5).save(ir / "lonely.png")
    return ir, vis


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("fuse", "list", "info", "download", "verify", "train", "analyze"):
        assert command in out


def test_fuse_one_pair(trained_weights: Path, tmp_path: Path) -> None:
    _image((40, 44), 0).save(tmp_path / "ir.png")
    _image((40, 44, 3), 1).save(tmp_path / "vis.png")
    out = tmp_path / "out" / "fused.png"
    code = main(["fuse", str(tmp_path / "ir.png"), str(tmp_path / "vis.png"), "-o", str(out),
                 "--model", str(trained_weights), "--tile", "32", "--no-progress"])
    assert code == 0
    with Image.open(out) as fused:
        assert fused.mode == "RGB" and fused.size == (44, 40)
    assert os.listdir(out.parent) == ["fused.png"]  # no temporary file left


def test_fuse_stage_flag(trained_weights: Path, tmp_path: Path) -> None:
    _image((24, 28), 0).save(tmp_path / "ir.png")
    _image((24, 28), 1).save(tmp_path / "vis.png")
    out = tmp_path / "fused.png"
    assert main(["fuse", str(tmp_path / "ir.png"), str(tmp_path / "vis.png"), "-o", str(out),
                 "--model", str(trained_weights), "--stage", "1", "--device", "cpu",
                 "--no-progress"]) == 0
    expected = pomai.load(trained_weights, device="cpu", stage=1).fuse(
        tmp_path / "ir.png", tmp_path / "vis.png")
    with Image.open(out) as written:
        assert np.array_equal(np.asarray(written), np.asarray(expected))


def test_fuse_tile_statistics_flag(trained_weights: Path, tmp_path: Path) -> None:
    """Tiles use the image's statistics by default; --tile-statistics gives each its own."""
    _image((40, 44), 0).save(tmp_path / "ir.png")
    _image((40, 44), 1).save(tmp_path / "vis.png")
    fuser = pomai.load(trained_weights, device="cpu")
    for flags, image_statistics in (([], True), (["--tile-statistics"], False)):
        out = tmp_path / f"{image_statistics}.png"
        assert main(["fuse", str(tmp_path / "ir.png"), str(tmp_path / "vis.png"), "-o", str(out),
                     "--model", str(trained_weights), "--tile", "32", "--device", "cpu",
                     "--no-progress", *flags]) == 0
        expected = fuser.fuse(tmp_path / "ir.png", tmp_path / "vis.png", tile=32,
                              image_statistics=image_statistics)
        with Image.open(out) as written:
            assert np.array_equal(np.asarray(written), np.asarray(expected))


def test_fuse_folders_skips_bad_pairs_and_exits_non_zero(
    trained_run: Path, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "fused"
    code = main(["fuse", *map(str, folders), "-o", str(out), "--model", str(trained_run),
                 "--device", "cpu", "--no-progress"])
    assert code == 1
    assert sorted(os.listdir(out)) == ["a.png", "b.png"]
    err = capsys.readouterr().err
    assert "lonely.png has no partner" in err
    assert "skipped corrupt.png + corrupt.png: cannot read infrared image" in err
    assert "skipped size.png + size.png: infrared and visible images differ in size" in err
    assert "Traceback" not in err


@pytest.fixture
def no_released_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pomai version whose manifest is empty."""
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH", write_manifest(tmp_path / "empty.json", []))


def test_fuse_reports_model_problems_without_a_traceback(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    no_released_weights: None,
) -> None:
    args = ["fuse", *map(str, folders), "-o", str(tmp_path / "out")]
    assert main([*args, "--model", "pomai-msrs"]) == 2
    assert "unknown model 'pomai-msrs'" in capsys.readouterr().err
    assert main(args) == 2
    assert "no released weights yet" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_list_and_verify_the_shipped_weights(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert capsys.readouterr().out.startswith("msrs [default] (aliases: msrs-tiny, pomai-msrs)")
    assert main(["verify"]) == 0
    assert "msrs bundled: OK" in capsys.readouterr().out


def test_list_info_and_verify_without_released_weights(
    trained_weights: Path, capsys: pytest.CaptureFixture[str], no_released_weights: None
) -> None:
    assert main(["list"]) == 0
    assert "No released weights" in capsys.readouterr().out
    assert main(["verify"]) == 0
    assert main(["info", str(trained_weights)]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["config"]["width"] == 8 and info["inference_stage"] == 2
    assert info["sha256"] == sha256_of(trained_weights)
    assert main(["info", "pomai-msrs"]) == 2


@pytest.fixture
def served(trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[FakeHub]:
    server = FakeHub()
    server.add("pomai-test/tiny", "model.safetensors", trained_weights.read_bytes())
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH", write_manifest(tmp_path / "manifest.json", [
        manifest_entry("pomai-test-tiny", trained_weights, "pomai-test/tiny", server.commit)]))
    yield server
    server.stop()


def test_download_info_and_verify_a_released_model(
    served: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = str(tmp_path / "cache")
    assert main(["list"]) == 0
    assert "pomai-test-tiny (aliases: pomai-test-tiny-alias)" in capsys.readouterr().out
    assert main(["verify", "--cache-dir", cache]) == 0
    assert "cached: not present" in capsys.readouterr().out
    assert main(["download", "pomai-test-tiny", "--cache-dir", cache]) == 0
    assert "(sha256 verified)" in capsys.readouterr().out
    assert main(["info", "pomai-test-tiny", "--cache-dir", cache]) == 0
    assert json.loads(capsys.readouterr().out)["available"].startswith("cached at")
    assert main(["verify", "--cache-dir", cache]) == 0
    assert "pomai-test-tiny cached: OK" in capsys.readouterr().out

    blob = next((tmp_path / "cache" / "models--pomai-test--tiny" / "blobs").iterdir())
    blob.write_bytes(blob.read_bytes()[:-1] + b"\0")
    assert main(["verify", "--cache-dir", cache]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_info_download_and_verify_a_bundled_only_model(
    trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundled = install_bundled_only("pomai-test-tiny", trained_weights, tmp_path, monkeypatch)
    assert main(["info", "pomai-test-tiny"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["hub"] == "none (bundled with the package)"
    assert info["bundled"] == bundled.name and info["available"] == "bundled"
    assert main(["download", "pomai-test-tiny-alias"]) == 0
    assert capsys.readouterr().out == (
        f"pomai-test-tiny is bundled with the package, nothing to download: {bundled} "
        "(sha256 verified)\n")
    assert main(["download", "pomai-test-tiny", "--revision", "main"]) == 2
    assert "only distributed inside the pomai package (no Hub repository)" in (
        capsys.readouterr().err)
    assert main(["verify"]) == 0
    assert capsys.readouterr().out == f"pomai-test-tiny bundled: OK {bundled}\n"

    bundled.unlink()
    assert main(["info", "pomai-test-tiny"]) == 0
    assert json.loads(capsys.readouterr().out)["available"] == (
        "missing from the package: reinstall pomai")
    assert main(["download", "pomai-test-tiny"]) == 2
    err = capsys.readouterr().err
    assert str(bundled) in err and "reinstall pomai" in err
    assert main(["verify"]) == 1
    assert "pomai-test-tiny bundled: MISSING (reinstall pomai)" in capsys.readouterr().out


def test_python_dash_m_downloads_through_hf_endpoint(served: FakeHub, tmp_path: Path) -> None:
    """A fresh interpreter: huggingface_hub reads HF_ENDPOINT and HF_HUB_CACHE at import."""
    env = {**os.environ, "HF_ENDPOINT": served.url, "HF_HUB_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "pomai", "download", "hf-hub:pomai-test/tiny"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "sha256 verified" in done.stdout
    assert str(tmp_path / "cache") in done.stdout


def test_analyze_is_wired_to_the_analysis_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["analyze", "--help"])
    assert info.value.code == 0
    assert "pomai analyze" in capsys.readouterr().out


# -- one line, no traceback, for every command's expected errors -------------------------------


def _one_line(capsys: pytest.CaptureFixture[str], command: str, *fragments: str) -> str:
    """The single stderr line of a failed command, checked for its prefix and fragments."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"pomai {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str], *fragments: str) -> None:
    """A bad option value: argparse's exit status 2, one line that says where help is."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    _one_line(capsys, argv[0], *fragments, f"see 'pomai {argv[0]} --help'")


def test_fuse_errors_are_one_line(
    trained_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ["--model", str(trained_weights), "--no-progress"]
    out = ["-o", str(tmp_path / "f.png")]
    assert main(["fuse", "nowhere/ir.png", "nowhere/vis.png", *out, *model]) == 2
    _one_line(capsys, "fuse", "nowhere/ir.png does not exist")
    assert main(["fuse", *out, *model]) == 2
    _one_line(capsys, "fuse", "give IR and VIS", "or --sample NAME (street, doorway, house)")
    (tmp_path / "ir").mkdir()
    (tmp_path / "vi").mkdir()
    assert main(["fuse", str(tmp_path / "ir"), str(tmp_path / "vi"), "-o", str(tmp_path / "o"),
                 *model]) == 2
    _one_line(capsys, "fuse", "no pairs")
    assert main(["fuse", "--sample", "street", "--device", "gpu", *out, *model]) == 2
    _one_line(capsys, "fuse", "unknown device 'gpu'")
    if not torch.cuda.is_available():
        assert main(["fuse", "--sample", "street", "--device", "cuda", *out, *model]) == 2
        _one_line(capsys, "fuse", "device 'cuda' is not available", "Use 'cpu' or 'auto'")
    _usage_error(["fuse", "--sample", "nope", *out], capsys, "argument --sample")
    _usage_error(["fuse", "--sample", "street", "--tile", "big", *out], capsys,
                 "expected 'auto', 'none' or a positive tile side")
    _usage_error(["fuse", "--sample", "street", "--threads", "0", *out], capsys,
                 "expected an integer >= 1, got 0")
    assert not (tmp_path / "f.png").exists()


def test_fuse_threads_and_tile_options(trained_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.png"
    assert main(["fuse", "--sample", "street", "-o", str(out), "--model", str(trained_weights),
                 "--device", "cpu", "--threads", "2", "--tile", "none", "--no-progress"]) == 0
    assert torch.get_num_threads() == 2
    args = build_parser().parse_args(["fuse", "--sample", "street", "-o", str(out)])
    assert args.tile == "auto"


def test_fuse_dtype_option(
    trained_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dtype bfloat16 fuses as pomai.load(..., dtype=torch.bfloat16) does; --half (float16)
    needs CUDA: one line, exit 2."""
    out = tmp_path / "f.png"
    model = ["--model", str(trained_weights), "--device", "cpu", "--no-progress"]
    assert main(["fuse", "--sample", "street", "-o", str(out), "--dtype", "bfloat16", *model]) == 0
    expected = pomai.load(trained_weights, device="cpu", dtype=torch.bfloat16).fuse(
        *pomai.samples()["street"])
    with Image.open(out) as written:
        assert np.array_equal(np.asarray(written), np.asarray(expected))
    if not torch.cuda.is_available():
        assert main(["fuse", "--sample", "street", "-o", str(out), "--half", *model]) == 2
        _one_line(capsys, "fuse", "half precision (torch.float16) needs a CUDA device")


def test_eval_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    _one_line(capsys, "eval", "dataset folder", "does not exist")
    assert main(["eval", str(tmp_path), "--no-progress"]) == 2
    _one_line(capsys, "eval", "no image pairs in", "ir/+vi/")
    (tmp_path / "d" / "ir").mkdir(parents=True)
    (tmp_path / "d" / "vi").mkdir()
    assert main(["eval", str(tmp_path / "d"), "--metrics", "SD,XX", "--no-progress"]) == 2
    _one_line(capsys, "eval", "unknown metric(s) ['XX']")
    assert main(["eval", str(tmp_path / "d"), "--model", "nope", "--no-progress"]) == 2
    _one_line(capsys, "eval", "unknown model 'nope'")


def test_train_errors_are_one_line(
    pair_folder: Path, narrow_config_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = ["--out", str(tmp_path / "run"), "--config", str(narrow_config_path), "--batch", "2"]
    assert main(["train", "--data", str(tmp_path / "nowhere"), *run]) == 2
    _one_line(capsys, "train", "does not exist", "'ir/' and 'vi/'")
    (tmp_path / "empty" / "ir").mkdir(parents=True)
    (tmp_path / "empty" / "vi").mkdir()
    assert main(["train", "--data", str(tmp_path / "empty"), *run]) == 2
    _one_line(capsys, "train", "no image pairs found")
    assert main(["train", "--data", str(pair_folder), *run, "--device", "gpu"]) == 2
    _one_line(capsys, "train", "unknown device 'gpu'")
    assert main(["train", "--data", str(pair_folder), "--out", str(tmp_path / "run"),
                 "--config", "huge"]) == 2
    _one_line(capsys, "train", "model config 'huge'", "unknown config")
    (tmp_path / "settings.json").write_text("{not json")
    assert main(["train", "--from-config", str(tmp_path / "settings.json")]) == 2
    _one_line(capsys, "train", "cannot read training settings")
    _usage_error(["train", "--data", str(pair_folder), "--batch", "0"], capsys,
                 "argument --batch")
    assert not (tmp_path / "run").exists()


def test_analyze_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2
    _one_line(capsys, "analyze", "is not a folder")
    (tmp_path / "ir").mkdir()
    assert main(["analyze", str(tmp_path)]) == 2
    _one_line(capsys, "analyze", "has no vi/, vis/ or visible/ folder")
    (tmp_path / "vi").mkdir()
    assert main(["analyze", str(tmp_path)]) == 2
    _one_line(capsys, "analyze", "no images")
    _image((8, 8), 0).save(tmp_path / "ir" / "a.png")
    (tmp_path / "vi" / "a.png").write_bytes(b"not an image")
    assert main(["analyze", str(tmp_path), "--k", "1"]) == 2
    _one_line(capsys, "analyze", "cannot read", "a.png")
    _usage_error(["analyze", str(tmp_path), "--k", "0"], capsys, "argument --k")


def test_weights_commands_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "nope"]) == 2
    _one_line(capsys, "info", "unknown model 'nope'")
    assert main(["download", "nope"]) == 2
    _one_line(capsys, "download", "unknown model 'nope'")
    broken = tmp_path / "manifest.json"
    broken.write_text("{broken")
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH", broken)
    for command in ("list", "verify"):
        assert main([command]) == 1  # a broken installation: the work cannot be done
        _one_line(capsys, command, "cannot read weights manifest")


def test_info_names_datasets_not_local_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "msrs"]) == 0
    out = capsys.readouterr().out
    info = json.loads(out)
    assert "../" not in out and "runs/" not in out
    assert info["training"]["data"] == "MSRS train"
    assert info["training"]["settings"]["val"] == "MSRS test128"
    assert "run" not in info["training"] and "base_run" not in info["training"]
