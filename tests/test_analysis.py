"""Tests of pomai.analysis (the paper's Figure 1 modality study) on synthetic pairs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pomai.analysis import (
    FEATURE_NAMES,
    analyze_folder,
    analyze_images,
    image_features,
    js_divergence,
    kmeans,
    plot_analysis,
)
from pomai.cli import main


def _pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A sparse, dark IR-like image (a few hot blobs) and a bright, textured VIS-like image."""
    rng = np.random.default_rng(seed)
    ir = np.full((40, 48), 20, np.uint8)
    for _ in range(3):
        r, c = rng.integers(4, 36), rng.integers(4, 44)
        ir[r - 3 : r + 3, c - 3 : c + 3] = 230
    vis = rng.integers(60 + 10 * seed, 200, (40, 48)).astype(np.uint8)
    return ir, np.repeat(vis[..., None], 3, axis=2)  # VIS as RGB with equal channels


def _write_pairs(root: Path, n: int) -> None:
    (root / "ir").mkdir(parents=True)
    (root / "vi").mkdir()
    for i in range(n):
        ir, vis = _pair(i)
        Image.fromarray(ir).save(root / "ir" / f"{i:03d}.png")
        Image.fromarray(vis).save(root / "vi" / f"{i:03d}.png")


def test_image_features_closed_forms() -> None:
    const = np.full((10, 12), 51, np.uint8)
    assert image_features(const) == {"GCR": 0.0, "Lap": 0.0, "H": 0.0, "L1": 0.2}
    assert image_features(np.zeros((5, 5), np.uint8))["GCR"] == 0.0
    # A horizontal ramp 10, 11, ...: gradient magnitude 1 everywhere, Laplacian 0.
    ramp = np.tile(np.arange(10, 30, dtype=np.uint8), (8, 1))
    feats = image_features(ramp)
    assert feats["GCR"] == pytest.approx(1.0 / ramp.mean())
    assert feats["Lap"] == 0.0
    assert feats["H"] == pytest.approx(np.log2(20))
    # Checkerboard 0/a: the Laplacian is +-4a in the interior, so its variance is 16 a^2.
    a = 50
    board = (((np.arange(9)[:, None] + np.arange(9)[None, :]) % 2) * a).astype(np.uint8)
    assert image_features(board)["Lap"] == pytest.approx(16 * a * a, rel=1e-2)
    with pytest.raises(ValueError, match="3x3"):
        image_features(np.zeros((2, 9), np.uint8))


def test_js_divergence() -> None:
    x = np.random.default_rng(0).integers(0, 256, (20, 20)).astype(np.uint8)
    y = np.random.default_rng(1).integers(0, 128, (10, 30)).astype(np.uint8)
    assert js_divergence(x, x) == 0.0
    assert js_divergence(np.zeros((4, 4), np.uint8), np.full((3, 5), 255, np.uint8)) == 1.0
    assert js_divergence(x, y) == pytest.approx(js_divergence(y, x), rel=1e-12)
    assert 0.0 < js_divergence(x, y) < 1.0


def test_kmeans_recovers_separated_blobs_deterministically() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    truth = np.repeat(np.arange(3), 30)
    x = centres[truth] + 0.3 * rng.standard_normal((90, 2))
    labels, found, inertia = kmeans(x, 3, seed=1)
    # Clusters are numbered by ascending first coordinate: -5, 0, 5.
    assert np.allclose(found[:, 0], [-5, 0, 5], atol=0.3)
    assert np.array_equal(labels, np.array([2, 0, 1])[truth])
    assert inertia == pytest.approx(np.sum((x - found[labels]) ** 2))
    again = kmeans(x, 3, seed=1)
    assert np.array_equal(again[0], labels) and again[2] == inertia
    with pytest.raises(ValueError, match="n >= k"):
        kmeans(x[:2], 3)
    same = kmeans(np.ones((5, 2)), 3)  # duplicate points: still k non-empty clusters
    assert sorted(np.bincount(same[0], minlength=3) > 0) == [True, True, True]


def test_analyze_images_statistics() -> None:
    pairs = [_pair(i) for i in range(6)]
    result = analyze_images([p[0] for p in pairs], [p[1] for p in pairs], k=3, seed=0)
    assert result["n_pairs"] == 6
    for feat in FEATURE_NAMES:
        p = result["p_statistic"][feat]
        assert p["ir_greater"] + p["vis_greater"] + p["equal"] == pytest.approx(1.0)
    # The sparse IR images have less entropy, Laplacian energy and intensity in every pair.
    for feat in ("Lap", "H", "L1"):
        assert result["p_statistic"][feat]["vis_greater"] == 1.0
    assert sorted(p["cluster"] for p in result["pairs"]) == sorted(
        j for j, c in enumerate(result["kmeans"]["clusters"]) for _ in range(c["size"])
    )
    centre_js = [c["centre"]["js_divergence"] for c in result["kmeans"]["clusters"]]
    assert centre_js == sorted(centre_js)
    json.dumps(result)  # JSON-serialisable
    with pytest.raises(ValueError, match="pair 0"):
        analyze_images([pairs[0][0]], [pairs[0][1][:20]], k=1)


def test_analyze_folder_plot_and_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    _write_pairs(tmp_path / "data", 7)
    result = analyze_folder(tmp_path / "data" / "ir", tmp_path / "data" / "vi")
    assert [p["name"] for p in result["pairs"]] == [f"{i:03d}.png" for i in range(7)]
    plot_analysis(result, tmp_path / "fig" / "analysis.png")
    assert (tmp_path / "fig" / "analysis.png").stat().st_size > 10_000

    assert main(["analyze", str(tmp_path / "data"), "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["p_statistic"] == result["p_statistic"]
    assert "| H |" in capsys.readouterr().out


def test_analyze_folder_name_mismatch(tmp_path: Path) -> None:
    _write_pairs(tmp_path, 4)
    (tmp_path / "vi" / "003.png").unlink()
    with pytest.raises(ValueError, match="same file names"):
        analyze_folder(tmp_path / "ir", tmp_path / "vi")


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, pomai.analysis, pomai.metrics; assert 'matplotlib' not in sys.modules"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
