"""pomai.samples(): the pairs shipped in the package, their attribution, and fusing one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import pomai
from pomai.cli import main
from pomai.sample_pairs import ATTRIBUTION, SAMPLE_DESCRIPTIONS, SamplePair


def test_every_sample_is_a_registered_pair_with_its_attribution() -> None:
    pairs = pomai.samples()
    assert list(pairs) == list(SAMPLE_DESCRIPTIONS) == ["street", "doorway", "house"]
    attribution = ATTRIBUTION.read_text()
    assert "CC BY 4.0" in attribution and "10.6084/m9.figshare.1008029" in attribution
    total = 0
    for name, pair in pairs.items():
        assert isinstance(pair, SamplePair)
        ir, vis = pair  # unpacks as (ir, vis)
        with Image.open(ir) as a, Image.open(vis) as b:
            assert a.size == b.size and a.mode == b.mode == "L"
        assert f"`{name}`" in attribution
        total += ir.stat().st_size + vis.stat().st_size
    assert total < 400_000  # small enough to ship in the wheel


def test_fuse_a_sample_from_the_command_line(trained_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "fused.png"
    assert main(["fuse", "--sample", "doorway", "-o", str(out), "--model", str(trained_weights),
                 "--device", "cpu", "--no-progress"]) == 0
    expected = pomai.load(trained_weights, device="cpu").fuse(*pomai.samples()["doorway"])
    with Image.open(out) as written:
        assert written.size == (310, 225)
        assert np.array_equal(np.asarray(written), np.asarray(expected))
