"""scripts/studies: the tiling-gap and scale-gap accuracy studies run (test checkpoint, small
images)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.studies import scale_gap, tiling_gap


def test_seam_mask_marks_pixels_near_inner_tile_edges() -> None:
    # Length 20, tile 12, overlap 0.25 (3 px): windows [0, 12) and [8, 20); inner edges 8 and 12.
    mask = tiling_gap.seam_mask(20, 5, 12, 0.25, 2)
    rows = mask[:, 0]
    assert rows.tolist() == [i in (6, 7, 8, 9, 10, 11, 12, 13) for i in range(20)]
    assert not mask[0].any()  # width 5 < tile: no seam across columns


def test_tiling_gap_reports_psnr_max_diff_and_border_error(
    trained_run: Path, make_pairs, tmp_path: Path
) -> None:
    data = make_pairs(tmp_path / "tno", ["a", "b"], (64, 72))
    make_pairs(tmp_path / "tno", ["c"], (24, 32))  # fits in one tile: fused whole, exactly
    out = tmp_path / "gap.json"
    report = tiling_gap.main(["--model", str(trained_run), "--data", str(data), "--tile", "32",
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


def test_scale_gap_compares_the_same_scenes_at_both_scales(
    tmp_path: Path, make_pairs, trained_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    msrs = tmp_path / "msrs"
    make_pairs(msrs / "test", ["s1", "s2", "only_full"], (40, 48))
    make_pairs(msrs / "test128", ["s1", "s2", "only_small"], (24, 24))
    assert scale_gap.main(["--model", str(trained_weights), "--data", str(msrs)]) == 0
    out = capsys.readouterr().out
    assert "**640×480** (2 pairs)" in out and "**128×128** (2 pairs)" in out
    ratios = [line for line in out.splitlines() if line.startswith(("| 640", "| 128"))]
    assert len(ratios) == 2  # the ratio table: one row per scale, a value per metric
    assert all(len(row.strip("|").split("|")) == 1 + 9 for row in ratios)
