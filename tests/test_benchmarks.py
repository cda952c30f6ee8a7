"""The benchmarks package: MAC counting, tables, the shared module and a smoke run of each."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from benchmarks import common
from pomai.config import get_config
from pomai.nn import PoMAI
from pomai.nn.ngmm import num_buckets

FAKE_REFCONV = "MACS = 10**9\n\n\ndef reference_seconds(threads=None, runs=5):\n    return 0.5\n"


def load_script(name: str) -> ModuleType:
    """The benchmark ``benchmarks/<name>.py``."""
    return importlib.import_module(f"benchmarks.{name}")


def test_macs_include_attention_and_match_a_hand_count() -> None:
    """Every matrix product of a stage-1 forward, counted by hand: MDTA, hashing, NGMM."""
    bench = load_script("bench_model")
    bench.check_flop_counting(2)  # meta count == CPU count, attention included
    config = get_config("tiny").replace(group_size=16)
    c, heads, k = config.width, config.heads, config.group_size
    h, w = 24, 20
    length = h * w  # 480 = 30 groups of 16, more than 3K: grouped attention
    # One Gram matrix of [q; k] (2C channels: every head's q·kᵀ, and the diagonals that
    # normalise q and k), the output projection folded into the attention (W_out·A, per image
    # a (C, C) by block-diagonal product), then that (C, C) matrix applied to v
    mdta = 4 * c * c * length + c * heads * (c // heads) ** 2 + c * c * length
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
    monkeypatch.setattr(common, "REFCONV", tmp_path / "absent.py")
    assert common.load_refconv() is None
    fake = tmp_path / "refconv.py"
    fake.write_text(FAKE_REFCONV)
    monkeypatch.setattr(common, "REFCONV", fake)
    assert common.load_refconv().reference_seconds(threads=1) == 0.5


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


# -- bench_fuse / bench_scaling ------------------------------------------------------------------


def test_bench_fuse_in_process_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The core path on small inputs, 1 thread, 1 run: whole, tiled and batched rows."""
    bench = load_script("bench_fuse")
    fake = tmp_path / "refconv.py"
    fake.write_text(FAKE_REFCONV)  # 1 GMAC in 0.5 s: ratios without the real workload
    monkeypatch.setattr(common, "REFCONV", fake)
    out = tmp_path / "fuse.json"
    results = bench.main([
        "--config", "tiny", "--sizes", "32x32", "--tiled-sizes", "64x64", "--tile", "32",
        "--batch", "2", "--batch-size", "32x32", "--runs", "1", "--threads", "1",
        "--device", "cpu", "--in-process", "--json", str(out),
    ])
    table = capsys.readouterr().out
    assert json.loads(out.read_text()) == results
    label = "config tiny (untrained weights, speed only)"
    assert [(r["mode"], r["tile"], r["windows"]) for r in results] == [
        ("single", None, 1), ("single", 32, 9), ("batch", None, 1)]
    for r in results:
        assert r["label"] == label and r["dtype"] == "float32" and r["threads"] == 1
        assert r["seconds_median"] > 0 and r["macs_per_pixel"] > 0
        assert r["ratio"] == pytest.approx(r["seconds_per_frame"] / 0.5)
        assert r["gmacs_per_second"] == pytest.approx(r["gmacs_per_frame"]
                                                      / r["seconds_per_frame"])
        assert r["gmacs_fraction_of_reference"] == pytest.approx(r["gmacs_per_second"] / 2)
    whole, tiled, batch = results
    assert tiled["gmacs_per_frame"] > whole["gmacs_per_frame"]  # 9 overlapping 16² windows
    assert batch["frames_per_second"] == pytest.approx(2 / batch["seconds_median"])
    assert batch["singles_frames_per_second"] > 0

    lines = table.splitlines()
    single_head = next(line for line in lines if line.startswith("| model | device"))
    assert single_head.split(" | ")[-2:] == ["× refconv", "GMAC/s ÷ refconv's |"]
    rows = [line for line in lines if line.startswith(f"| {label} |")]
    assert len(rows) == 3
    assert "| 32×32 | whole | 1 |" in rows[0] and "| 64×64 | 32 (9 windows) | 1 |" in rows[1]
    assert "| 2 × 32×32 | 1 |" in rows[2]
    batch_head = next(line for line in lines if line.startswith("| model | device | dtype | "
                                                                "frames × size"))
    assert batch_head.endswith("| × refconv per frame (batched / single) |")
    cells = [line.count("|") - 1 for line in (single_head, *rows, batch_head)]
    assert cells == [13, 13, 13, 11, 11]
    assert "allocator glibc default" in table and "--in-process" in table


def test_bench_fuse_models_dtypes_and_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_script("bench_fuse")
    monkeypatch.setattr("pomai.manifest.list_models", lambda: ["msrs"])
    parser = bench.build_parser()
    default = parser.parse_args([])
    assert [s["label"] for s in bench.model_specs(default)] == [
        "msrs", "config paper (untrained weights, speed only)"]
    chosen = parser.parse_args(["--model", "a.safetensors", "--config", "tiny"])
    assert [s["model_kind"] for s in bench.model_specs(chosen)] == ["path", "config"]
    chosen.shipped = True
    assert [s["model"] for s in bench.model_specs(chosen)] == ["msrs", "a.safetensors", "tiny"]
    assert bench.dtypes_for("cpu", None) == ["float32"]
    assert bench.dtypes_for("cuda", None) == ["float32", "float16"]
    assert bench.dtypes_for("cpu", ["float32", "float16", "bfloat16"]) == ["float32", "bfloat16"]
    default.device = ["cpu"]
    tasks = bench.build_tasks(default)  # 2 models × (2 whole + 1 tiled + 1 batch)
    assert len(tasks) == 8 and tasks[2]["tile"] == "auto" and tasks[3]["batch"] == 8
    assert (tasks[2]["height"], tasks[2]["width"]) == (4096, 4096)
    assert json.loads(json.dumps(tasks)) == tasks  # what a child gets on its command line
    failed = bench.failure(tasks[0], bench.ChildFailed("x\nTraceback\nMemoryError: boom\n", 1))
    table = bench.markdown_table([failed])
    assert "Failed:" in table and "MemoryError: boom" in table and "msrs cpu float32" in table


def test_bench_fuse_checkpoint_in_bfloat16_with_profile(
    trained_weights: Path, tmp_path: Path
) -> None:
    bench = load_script("bench_fuse")
    (result,) = bench.main([
        "--model", str(trained_weights), "--dtype", "bfloat16", "--sizes", "32x32",
        "--tiled-sizes", "--batch", "0", "--runs", "1", "--threads", "1", "--device", "cpu",
        "--no-ratio", "--in-process", "--profile", str(tmp_path / "profile"),
    ])
    assert result["label"] == str(trained_weights) and result["model_kind"] == "path"
    assert result["dtype"] == "bfloat16" and result["width_channels"] == 8
    assert "ratio" not in result and result["input"] == "synthetic"
    table = Path(result["profile"])
    assert table.parent == tmp_path / "profile" and "aten::" in table.read_text()
    assert table.with_suffix(".trace.json").is_file()


def test_bench_fuse_tensor_inputs(trained_weights: Path, device: torch.device) -> None:
    """--tensor-inputs: a uint8 tensor on the device in, the same out (a CUDA tensor in and
    out with ``pytest --device cuda``)."""
    bench = load_script("bench_fuse")
    (result,) = bench.main([
        "--model", str(trained_weights), "--sizes", "32x32", "--tiled-sizes", "--batch", "0",
        "--runs", "1", "--threads", "1", "--device", device.type, "--dtype", "float32",
        "--no-ratio", "--in-process", "--tensor-inputs",
    ])
    assert result["input"] == "synthetic, uint8 tensors on the device"
    assert result["device"].startswith(device.type) and result["seconds_median"] > 0


def test_bench_fuse_onnx_runtime_row(trained_weights: Path, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    bench = load_script("bench_fuse")
    fake = tmp_path / "refconv.py"
    fake.write_text(FAKE_REFCONV)
    monkeypatch.setattr(common, "REFCONV", fake)
    torch_row, onnx_row = bench.main([
        "--model", str(trained_weights), "--onnx", "--sizes", "32x32", "--tiled-sizes",
        "--batch", "0", "--runs", "1", "--threads", "1", "--device", "cpu", "--in-process",
    ])
    assert onnx_row["label"] == f"{trained_weights} · ONNX Runtime"
    assert (onnx_row["device"], onnx_row["dtype"], onnx_row["tile"]) == ("cpu", "float32", None)
    assert onnx_row["macs_per_pixel"] == torch_row["macs_per_pixel"]
    assert onnx_row["ratio"] == pytest.approx(onnx_row["seconds_per_frame"] / 0.5)


def test_scaling_slope_and_table() -> None:
    bench = load_script("bench_scaling")
    assert bench.log_slope([1, 2, 4], [3, 6, 12]) == pytest.approx(1.0)
    assert bench.log_slope([1, 2, 4], [1, 4, 16]) == pytest.approx(2.0)
    assert bench.log_slope([4], [1]) is None
    point = {"model": "tiny", "series": "whole", "tile_requested": None, "seconds_median": 0.1,
             "peak_rss_bytes": 2**29}
    results = [{**point, "height": s, "width": s, "peak_rss_increase_bytes": 1000 * s * s}
               for s in (256, 512, 1024)]
    results.append({"model": "tiny", "series": "whole", "height": 4096, "width": 4096,
                    "tile_requested": None, "skipped": "not run: estimate 80 GiB > 6 GiB"})
    slopes = bench.memory_slopes(results)
    assert slopes == {"tiny": pytest.approx(1.0)}
    assert "at most linear" in bench.slope_report(slopes)[0]
    assert "FASTER" in bench.slope_report({"paper": 1.5})[0]
    table = bench.markdown_table(results)
    assert "| tiny | 512² | whole | 0.100 | 512 | 250 | 1000 |" in table
    assert "| tiny | 4096² | whole | not run: estimate 80 GiB > 6 GiB |" in table


def test_scaling_merge_replaces_same_points_and_keeps_order() -> None:
    bench = load_script("bench_scaling")

    def point(model: str, series: str, side: int, seconds: float) -> dict[str, object]:
        return {"model": model, "series": series, "height": side, "width": side,
                "seconds_median": seconds}

    old = [point("tiny", "whole", 256, 1.0), point("tiny", "whole", 512, 2.0),
           point("paper", "whole", 256, 3.0)]
    new = [point("tiny", "tiled", 1024, 4.0), point("tiny", "whole", 512, 5.0),
           point("paper", "tiled", 512, 6.0)]
    merged = bench.merge_results(old, new)
    assert [(r["model"], r["series"], r["width"], r["seconds_median"]) for r in merged] == [
        ("tiny", "whole", 256, 1.0), ("tiny", "whole", 512, 5.0), ("tiny", "tiled", 1024, 4.0),
        ("paper", "whole", 256, 3.0), ("paper", "tiled", 512, 6.0)]


def test_scaling_merge_refuses_other_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_script("bench_scaling")
    out = tmp_path / "scaling.json"
    out.write_text(json.dumps({"settings": "threads 9, allocator tuned", "results": []}))
    with pytest.raises(SystemExit):
        bench.main(["--configs", "tiny", "--sides", "32", "--series", "tiled", "--merge",
                    "--no-ratio", "--in-process", "--json", str(out), "--no-plot"])
    assert 'measured with "threads 9, allocator tuned"' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--configs", "tiny", "--sides", "32", "--merge", "--no-ratio",
                    "--in-process", "--json", str(tmp_path / "absent.json"), "--no-plot"])
    assert "no earlier results" in capsys.readouterr().err


@pytest.mark.slow
def test_scaling_smoke_in_process(tmp_path: Path) -> None:
    """bench_scaling end to end on tiny sides (in process), JSON and plot written."""
    bench = load_script("bench_scaling")
    out, png = tmp_path / "scaling.json", tmp_path / "scaling.png"
    results = bench.main(["--configs", "tiny", "--sides", "32", "48", "--tile", "32",
                          "--runs", "1", "--threads", "1", "--no-ratio", "--in-process",
                          "--json", str(out), "--plot", str(png)])
    assert [(r["width"], r["series"]) for r in results] == [
        (32, "whole"), (48, "whole"), (48, "tiled")]
    saved = json.loads(out.read_text())
    assert set(saved["memory_slopes"]) == {"tiny"} and len(saved["results"]) == 3
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    added = bench.main(["--configs", "tiny", "--sides", "64", "--tile", "32", "--series",
                        "tiled", "--merge", "--runs", "1", "--threads", "1", "--no-ratio",
                        "--in-process", "--json", str(out), "--no-plot"])
    assert [(r["width"], r["series"]) for r in added] == [
        (32, "whole"), (48, "whole"), (48, "tiled"), (64, "tiled")]
    assert json.loads(out.read_text())["results"] == added


@pytest.mark.slow
def test_bench_fuse_children_smoke(tmp_path: Path) -> None:
    """One fresh child per measurement, with the tuned allocator."""
    out = tmp_path / "fuse.json"
    load_script("bench_fuse").main([
        "--config", "tiny", "--sizes", "32x32", "--tiled-sizes", "--batch", "0", "--runs", "1",
        "--threads", "1", "--device", "cpu", "--no-ratio", "--allocator", "tuned",
        "--json", str(out),
    ])
    (result,) = json.loads(out.read_text())
    assert result["fresh_process"] and result["allocator"] == "tuned"
    assert result["allocator_applied"]  # glibc on Linux
    assert result["peak_rss_increase_bytes"] >= 0 and result["seconds_median"] > 0


@pytest.mark.parametrize("one_pass", [False, True])
def test_tiled_memory_benchmark(trained_run: Path, make_pairs, tmp_path: Path,
                                one_pass: bool) -> None:
    data = make_pairs(tmp_path / "d", ["a"], (40, 40))
    result = load_script("tiled_memory").main([
        "--model", str(trained_run), "--size", "96", "--tile", "48", "--device", "cpu",
        "--pair", str(data / "ir" / "a.png"), str(data / "vi" / "a.png")]
        + ["--tile-statistics"] * one_pass)
    assert result["tile_used"] == 48 and result["peak_bytes"] > 0
    assert result["image_statistics"] is not one_pass
    assert result["device"] == str(torch.device("cpu"))


def test_video_flicker_table(trained_weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("video_flicker")
    rows = bench.main(["--model", str(trained_weights), "--frames", "2"])
    assert [r["sequence"] for r in rows] == ["static + noise", "synthetic pan", "sample pan"]
    static = rows[0]
    # independent noise of σ in each frame: E|n1 - n2| = 2σ/√π, before 8-bit rounding
    expected = 2 * bench.NOISE / np.sqrt(np.pi)
    assert static["infrared"] == pytest.approx(expected, rel=0.15)
    assert all(r[k] > 0 for r in rows for k in ("fused (minmax)", "fused (none)"))
    # the sources of a pan are crops of one image: undoing the pan leaves nothing of them
    assert bench.residual([ir for ir, _ in bench.sample_pan(3)], 1) == 0
    assert bench.residual([ir for ir, _ in bench.sample_pan(3)], 0) > 0
    table = capsys.readouterr().out
    assert table.count("\n| ") == 4 and "| static + noise |" in table
