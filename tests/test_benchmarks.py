"""benchmarks/bench_model.py and bench_train.py: MAC counting and a smoke run of each."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from pomai.config import get_config
from pomai.nn import PoMAI
from pomai.nn.ngmm import num_buckets

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_macs_include_attention_and_match_a_hand_count() -> None:
    """Every matrix product of a stage-1 forward, counted by hand: MDTA, hashing, NGMM."""
    bench = load_script("bench_model")
    bench.check_flop_counting(2)  # meta count == CPU count, attention included
    config = get_config("tiny").replace(group_size=16)
    c, heads, k = config.width, config.heads, config.group_size
    h, w = 24, 20
    length = h * w  # 480 = 30 groups of 16, more than 3K: grouped attention
    # q·kᵀ, A·v and the Gram matrices q·qᵀ, k·kᵀ whose diagonals normalise q and k, over C/h
    # channels per head
    mdta = 4 * c * c // heads * length
    mdta_total = (2 * config.encoder_blocks + config.decoder_blocks) * mdta  # E sees 2 images
    hashing = length * c * num_buckets(length, k, config.max_buckets) // 2
    attention = -(-length // k) * k * 3 * k * c * 2  # M·K queries × 3K keys, q·k and p·v
    for device in ("cpu", "meta"):
        model = PoMAI(config).to(device).eval()
        flops = bench.count_flops(model, h, w, 1, device)
        matmul = sum(v for op, v in flops.items() if op != "aten.convolution")
        assert matmul == 2 * (mdta_total + hashing + attention), flops
    # Without the registered formula the fused attention kernel would be missed on the CPU.
    assert bench.flop_mapping()


def test_parse_size_and_table() -> None:
    bench = load_script("bench_model")
    assert bench.parse_size("640x480") == (480, 640)
    with pytest.raises(argparse.ArgumentTypeError):
        bench.parse_size("640")
    row = {"config": "tiny", "params": 35519, "width": 64, "height": 48, "macs_per_pixel": 1000,
           "gmacs": 0.003, "seconds_median": 0.01, "peak_rss_bytes": 2**28,
           "peak_rss_increase_bytes": 2**20}
    table = bench.markdown_table([row])
    assert "| tiny | 35,519 | 64×48 | 1,000 |" in table and "refconv" not in table
    assert "| 1.00 |" in bench.markdown_table([{**row, "ratio": 1.0}])


def test_missing_reference_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("bench_model", "bench_train"):
        bench = load_script(name)
        monkeypatch.setattr(bench, "REFCONV", tmp_path / "absent.py")
        assert bench.load_reference() is None


@pytest.mark.slow
def test_smoke_runs(tmp_path: Path) -> None:
    """Each script end to end with tiny settings (children, no calibration)."""
    out = tmp_path / "model.json"
    load_script("bench_model").main(["--configs", "tiny", "--sizes", "24x16", "--runs", "1",
                                     "--threads", "1", "--no-ratio", "--json", str(out)])
    (result,) = json.loads(out.read_text())
    assert result["params"] == sum(p.numel() for p in PoMAI(get_config("tiny")).parameters())
    assert result["peak_rss_bytes"] > 0 and result["seconds_median"] > 0
    out = tmp_path / "train.json"
    load_script("bench_train").main(["--configs", "tiny", "--stages", "1", "2", "--batch", "2",
                                     "--crop", "16", "--runs", "1", "--warmup", "1",
                                     "--threads", "1", "--no-ratio", "--json", str(out)])
    results = json.loads(out.read_text())
    assert [r["stage"] for r in results] == [1, 2]
    assert all(r["images_per_second"] > 0 for r in results)
    torch.testing.assert_close(results[0]["images_per_second"],
                               2 / results[0]["step_seconds_median"])
