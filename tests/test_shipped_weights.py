"""Every checkpoint in the manifest: bundled, loads offline, and reproduces its golden output.

The golden files (tests/golden/<name>.json) hold each checkpoint's fused output on a small crop
of a real MSRS pair, written by scripts/make_golden.py when the checkpoint was released.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pomai
from benchmarks.common import data_root
from pomai.checkpoint import sha256_of
from pomai.manifest import read_manifest

GOLDEN_DIR = Path(__file__).parent / "golden"
NAMES = [entry.name for entry in read_manifest().entries]


def test_the_default_model_is_bundled() -> None:
    default = read_manifest().default
    assert default == "msrs"
    assert read_manifest().find(default).bundled


@pytest.mark.parametrize("name", NAMES)
def test_bundled_file_matches_manifest(name: str) -> None:
    entry = read_manifest().find(name)
    path = entry.bundled_path
    assert path.stat().st_size == entry.size_bytes
    assert sha256_of(path) == entry.sha256


@pytest.mark.parametrize("name", NAMES)
def test_golden_output(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    golden = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
    assert golden["sha256"] == read_manifest().find(name).sha256, (
        f"tests/golden/{name}.json was made for another file: rerun scripts/make_golden.py"
    )
    data, source = data_root(), golden["input"]
    if not (data / source["ir"]).is_file():
        pytest.skip(f"{source['ir']} not found in {data}; set POMAI_SHARED_DATA to run this test")
    top, left, side = source["crop_top_left_side"]
    ir, vis = (np.asarray(Image.open(data / source[key]))[top : top + side, left : left + side]
               for key in ("ir", "vi"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fused = pomai.load(name, device="cpu").fuse(ir, vis)
    expected = np.array(golden["fused_rgb_uint8"], dtype=np.uint8)
    assert fused.shape == expected.shape == (side, side, 3)
    # Other CPUs and PyTorch versions sum in other orders: a few values may round the other way.
    diff = np.abs(fused.astype(int) - expected.astype(int))
    assert diff.max() <= 2, f"{name}: output moved by up to {diff.max()} grey levels"
    assert diff.mean() <= 0.1
