"""benchmarks/tiling_gap.py and benchmarks/tiled_memory.py run (test checkpoint, small tiles)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def tiling_gap() -> dict:
    return runpy.run_path(str(BENCHMARKS / "tiling_gap.py"))


def test_seam_mask_marks_pixels_near_inner_tile_edges(tiling_gap: dict) -> None:
    # Length 20, tile 12, overlap 0.25 (3 px): windows [0, 12) and [8, 20); inner edges 8 and 12.
    mask = tiling_gap["seam_mask"](20, 5, 12, 0.25, 2)
    rows = mask[:, 0]
    assert rows.tolist() == [i in (6, 7, 8, 9, 10, 11, 12, 13) for i in range(20)]
    assert not mask[0].any()  # width 5 < tile: no seam across columns


def test_tiling_gap_reports_psnr_max_diff_and_border_error(
    tiling_gap: dict, trained_run: Path, make_pairs, tmp_path: Path
) -> None:
    data = make_pairs(tmp_path / "tno", ["a", "b"], (64, 72))
    make_pairs(tmp_path / "tno", ["c"], (24, 32))  # fits in one tile: fused whole, exactly
    out = tmp_path / "gap.json"
    report = tiling_gap["main"](["--model", str(trained_run), "--data", str(data), "--tile", "32",
                                 "--border", "4", "--device", "cpu", "--json", str(out)])
    summary = report["summary"][f"{tmp_path.name}/tno"]
    rows = report["pairs"][f"{tmp_path.name}/tno"]
    assert summary["pairs"] == 3 and summary["tiled_pairs"] == 2
    assert [r["tiled"] for r in rows] == [True, True, False]
    tiled_psnr = [r["psnr_db"] for r in rows[:2]]
    assert summary["psnr_db_mean"] == pytest.approx(sum(tiled_psnr) / 2)  # the exact one left out
    assert summary["below_40_db"] == sum(p < 40 for p in tiled_psnr)
    assert summary["psnr_db_min"] > 0 and summary["max_abs_diff"] > 0
    assert summary["mae_border"] > 0 and summary["mae_interior"] >= 0
    assert json.loads(out.read_text())["summary"] == report["summary"]


@pytest.mark.parametrize("one_pass", [False, True])
def test_tiled_memory_benchmark(trained_run: Path, make_pairs, tmp_path: Path,
                                one_pass: bool) -> None:
    data = make_pairs(tmp_path / "d", ["a"], (40, 40))
    main = runpy.run_path(str(BENCHMARKS / "tiled_memory.py"))["main"]
    result = main(["--model", str(trained_run), "--size", "96", "--tile", "48", "--device", "cpu",
                   "--pair", str(data / "ir" / "a.png"), str(data / "vi" / "a.png")]
                  + ["--tile-statistics"] * one_pass)
    assert result["tile_used"] == 48 and result["peak_bytes"] > 0
    assert result["image_statistics"] is not one_pass
    assert result["device"] == str(torch.device("cpu"))
