"""pomai.load / Fuser: loading, determinism, batches, kinds, per-image normalisation, devices."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pomai
from pomai import tiling
from pomai.color import rgb_to_ycbcr
from pomai.errors import DeviceUnavailableError
from pomai.fuser import Fuser, bytes_per_pixel
from pomai.io import InputError
from pomai.nn.pomai import PoMAI


@pytest.fixture(scope="module")
def fuser(trained_weights: Path) -> Fuser:
    return pomai.load(trained_weights)


def test_import_pomai_stays_light_and_exports_the_api_lazily() -> None:
    code = ("import sys, pomai; assert 'torch' not in sys.modules, 'torch imported'; "
            "assert callable(pomai.load) and callable(pomai.list_models); "
            "assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nothing_in_the_package_hard_codes_cuda() -> None:
    package = Path(pomai.__file__).parent
    offenders = [p for p in package.rglob("*.py") if ".cuda()" in p.read_text()]
    assert offenders == []


def test_load_reads_config_and_stage_from_the_file(fuser: Fuser, trained_run: Path) -> None:
    assert fuser.stage == 2 and fuser.config.width == 8
    assert fuser.device == torch.device("cpu")  # "auto" without CUDA
    assert not fuser.model.training
    assert all(not p.requires_grad for p in fuser.model.parameters())
    assert "model.safetensors" in repr(fuser)
    assert pomai.load(trained_run).source == f"folder {trained_run}"


def test_load_can_serve_the_other_stage(fuser: Fuser, trained_weights: Path) -> None:
    stage1 = pomai.load(trained_weights, stage=1)
    assert stage1.stage == 1
    ir, vis = torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32)
    expected = fuser.model(ir, vis, stage=1)
    assert torch.allclose(stage1.fuse_luminance(ir, vis), expected, atol=1e-6)
    assert not torch.allclose(fuser.fuse_luminance(ir, vis), expected, atol=1e-6)
    with pytest.raises(ValueError, match="stage must be 1 or 2"):
        pomai.load(trained_weights, stage=3)


def test_same_input_same_output(fuser: Fuser) -> None:
    ir, vis = torch.rand(1, 1, 40, 36), torch.rand(1, 3, 40, 36)
    assert torch.equal(fuser.fuse(ir, vis), fuser.fuse(ir, vis))
    again = pomai.load(fuser.source.removeprefix("file "))
    assert torch.equal(again.fuse(ir, vis), fuser.fuse(ir, vis))


# docs/api.md, "Limits and guarantees": across thread counts, measured up to 4.3e-3.
THREAD_COUNT_TOLERANCE = 5e-3


def test_same_thread_count_is_bit_identical_and_another_within_the_stated_tolerance() -> None:
    torch.manual_seed(0)
    fuser = Fuser(PoMAI(pomai.get_config("tiny")), device="cpu")
    g = torch.Generator().manual_seed(0)
    ir, vis = torch.rand(1, 1, 48, 56, generator=g), torch.rand(1, 1, 48, 56, generator=g)
    one = fuser.fuse_luminance(ir, vis)
    assert torch.equal(fuser.fuse_luminance(ir, vis), one)
    torch.set_num_threads(2)
    two = fuser.fuse_luminance(ir, vis)
    assert torch.equal(fuser.fuse_luminance(ir, vis), two)
    assert float((one - two).abs().max()) <= THREAD_COUNT_TOLERANCE


def test_a_batch_fuses_in_one_call_like_its_images_one_by_one(fuser: Fuser) -> None:
    g = torch.Generator().manual_seed(1)
    ir, vis = torch.rand(3, 1, 32, 40, generator=g), torch.rand(3, 3, 32, 40, generator=g)
    batch = fuser.fuse(ir, vis)
    assert batch.shape == (3, 3, 32, 40)
    singles = torch.stack([fuser.fuse(ir[i], vis[i]) for i in range(3)])
    assert torch.allclose(batch, singles, atol=1e-5)


def test_colour_result_keeps_the_visible_chroma(fuser: Fuser) -> None:
    rgb = np.random.default_rng(0).uniform(0.2, 0.8, (24, 30, 3)).astype(np.float32)
    fused = fuser.fuse(np.random.default_rng(1).random((24, 30)).astype(np.float32), rgb)
    assert fused.shape == rgb.shape and fused.dtype == np.float32
    as_tensor = [torch.from_numpy(a).permute(2, 0, 1) for a in (fused, rgb)]
    chroma = [rgb_to_ycbcr(t)[1:] for t in as_tensor]
    inside = (as_tensor[0] > 0).all(0) & (as_tensor[0] < 1).all(0)  # not clipped by RGB range
    assert torch.allclose(chroma[0][:, inside], chroma[1][:, inside], atol=1e-5)


def test_kinds_round_trip_through_fuse(fuser: Fuser, tmp_path: Path) -> None:
    grey = np.random.default_rng(2).integers(0, 256, (20, 22), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "ir.png")
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "vis.png")
    out = fuser.fuse(tmp_path / "ir.png", tmp_path / "vis.png")
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (22, 20)
    assert fuser.fuse(grey, grey).shape == (20, 22)
    out = fuser.fuse(torch.from_numpy(grey)[None], torch.from_numpy(grey)[None].double() / 255)
    assert out.dtype == torch.float64 and out.shape == (1, 20, 22)


def test_normalisation_is_per_image_not_per_tile(fuser: Fuser) -> None:
    rng = np.random.default_rng(3)
    raw = rng.integers(7000, 9000, (64, 64)).astype(np.uint16)
    raw[:32] -= 6000  # tiles see very different ranges
    vis = rng.random((64, 64)).astype(np.float32)
    stretched = ((raw - raw.min()) / (raw.max() - raw.min())).astype(np.float32)
    tiled = fuser.fuse(raw, vis, tile=32, overlap=0.25)
    assert np.array_equal(tiled, fuser.fuse(stretched, vis, tile=32, overlap=0.25))


def test_tile_covering_the_image_equals_the_whole_image(fuser: Fuser) -> None:
    ir, vis = torch.rand(1, 1, 30, 34), torch.rand(1, 1, 30, 34)
    whole = fuser.fuse(ir, vis, tile=None)
    assert torch.allclose(fuser.fuse(ir, vis, tile=64), whole, atol=1e-6)
    assert torch.allclose(fuser.fuse(ir, vis, tile="auto"), whole, atol=1e-6)


def test_default_tile_is_auto_whole_when_it_fits_tiled_when_not(
    fuser: Fuser, monkeypatch: pytest.MonkeyPatch
) -> None:
    ir, vis = torch.rand(1, 1, 96, 80), torch.rand(1, 1, 96, 80)
    assert torch.equal(fuser.fuse(ir, vis), fuser.fuse(ir, vis, tile=None))
    monkeypatch.setattr(tiling, "free_memory", lambda device: 1)  # nothing fits: smallest tile
    tiled = fuser.fuse(ir, vis)
    assert torch.equal(tiled, fuser.fuse(ir, vis, tile=tiling.MIN_AUTO_TILE))
    assert not torch.equal(tiled, fuser.fuse(ir, vis, tile=None))


def test_unavailable_devices_are_refused_before_any_work(trained_weights: Path) -> None:
    with pytest.raises(DeviceUnavailableError, match="unknown device 'gpu': use 'auto', 'cpu'"):
        pomai.load(trained_weights, device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError, match="device 'cuda' is not available"):
            pomai.load(trained_weights, device="cuda")
    else:
        with pytest.raises(DeviceUnavailableError, match="numbered from 0"):
            pomai.load(trained_weights, device=f"cuda:{torch.cuda.device_count()}")


def test_bad_input_fails_before_the_network(fuser: Fuser) -> None:
    with pytest.raises(InputError, match="infrared is 10×12 and visible is 10×13"):
        fuser.fuse(np.zeros((10, 12), np.uint8), np.zeros((10, 13), np.uint8))


def test_half_precision_needs_cuda(trained_weights: Path) -> None:
    with pytest.raises(ValueError, match="half precision .* needs a CUDA device"):
        pomai.load(trained_weights, device="cpu", dtype=torch.float16)


def test_bfloat16_runs_on_the_cpu_close_to_float32(fuser: Fuser, trained_weights: Path) -> None:
    bf16 = pomai.load(trained_weights, device="cpu", dtype=torch.bfloat16)
    assert bf16.dtype == torch.bfloat16
    assert all(p.dtype == torch.bfloat16 for p in bf16.model.parameters())
    g = torch.Generator().manual_seed(4)
    ir, vis = torch.rand(1, 1, 32, 36, generator=g), torch.rand(1, 3, 32, 36, generator=g)
    # The network's own output: the min-max stretch would scale the rounding error by the
    # inverse of this small test network's output range.
    out = bf16.fuse(ir, vis, normalize="none")
    assert out.dtype == torch.float32 and out.shape == vis.shape  # the input's kind
    assert torch.allclose(out, fuser.fuse(ir, vis, normalize="none"), atol=2e-2)


def test_memory_estimate_grows_with_width_and_halves_in_float16() -> None:
    tiny, paper = pomai.get_config("tiny"), pomai.get_config("paper")
    assert bytes_per_pixel(paper) > bytes_per_pixel(tiny) > 0
    assert bytes_per_pixel(tiny, torch.float16) == bytes_per_pixel(tiny) / 2


def test_fusion_on_the_test_device_and_dtype_matches_cpu_float32(
    fuser: Fuser, trained_weights: Path, device: torch.device, dtype: torch.dtype,
    tolerance: dict
) -> None:
    if dtype == torch.float16 and device.type != "cuda":
        pytest.skip("float16 fusion needs CUDA")
    tested = pomai.load(trained_weights, device=device, dtype=dtype)
    ir, vis = torch.rand(2, 1, 48, 56), torch.rand(2, 3, 48, 56)
    out = tested.fuse(ir.to(device), vis.to(device), tile=32)
    assert out.device == tested.device and out.dtype == torch.float32
    expected = fuser.fuse(ir, vis, tile=32)
    if not tolerance:  # float32: the same numbers up to the order of summation
        torch.testing.assert_close(out.cpu(), expected, atol=1e-4, rtol=0)
    else:  # the whole network in reduced precision: twice one layer's tolerance
        assert float((out.cpu() - expected).abs().max()) <= 2 * tolerance["atol"]


def test_stage1_of_a_release_trained_through_micm_warns() -> None:
    """The releases were fine-tuned with every weight through MICM (manifest: no_freeze)."""
    with pytest.warns(UserWarning, match="stage-1 path .* is not a network it was trained as"):
        stage1 = pomai.load("msrs", device="cpu", stage=1)
    assert stage1.stage == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pomai.load("msrs", device="cpu").stage == 2


def test_fuse_stretches_the_fused_luminance_per_image(fuser: Fuser) -> None:
    g = torch.Generator().manual_seed(5)
    ir, vis = torch.rand(2, 1, 24, 28, generator=g), torch.rand(2, 1, 24, 28, generator=g)
    raw = fuser.fuse(ir, vis, normalize="none")
    assert torch.equal(raw, fuser.fuse_luminance(ir, vis))
    stretched = fuser.fuse(ir, vis)
    for image, source in zip(stretched, raw, strict=True):
        assert float(image.min()) == 0.0 and float(image.max()) == pytest.approx(1.0)
        expected = (source - source.min()) / (source.max() - source.min())
        assert torch.allclose(image, expected, atol=1e-6)


def test_fuse_stretches_luminance_before_the_chroma_is_reattached(fuser: Fuser) -> None:
    from pomai.color import rgb_to_ycbcr

    g = torch.Generator().manual_seed(6)
    ir, vis = torch.rand(1, 24, 28, generator=g), torch.rand(3, 24, 28, generator=g) * 0.2 + 0.4
    fused = rgb_to_ycbcr(fuser.fuse(ir, vis))
    # Luminance spans [0, 1] up to RGB clipping at the extremes; chroma is the visible image's.
    assert float(fused[0].min()) < 0.02 and float(fused[0].max()) > 0.98
    mid = (fused[0] > 0.3) & (fused[0] < 0.7)  # no RGB channel clipped here
    assert torch.allclose(fused[1:][:, mid], rgb_to_ycbcr(vis)[1:][:, mid], atol=1e-5)


def test_fuse_refuses_an_unknown_normalize(fuser: Fuser) -> None:
    with pytest.raises(ValueError, match="normalize must be one of 'minmax', 'none'"):
        fuser.fuse(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), normalize="gamma")


def test_compiled_fusion_equals_eager_for_a_batch(fuser: Fuser, trained_weights: Path) -> None:
    compiled = pomai.load(trained_weights, device="cpu", compile=True)
    assert compiled.compiled and "compiled" in repr(compiled)
    g = torch.Generator().manual_seed(7)
    ir, vis = torch.rand(2, 1, 24, 28, generator=g), torch.rand(2, 3, 24, 28, generator=g)
    assert torch.allclose(compiled.fuse(ir, vis, normalize="none"),
                          fuser.fuse(ir, vis, normalize="none"), atol=1e-5)


def test_tiles_fused_several_per_call_equal_one_per_call(fuser: Fuser) -> None:
    g = torch.Generator().manual_seed(8)
    ir, vis = torch.rand(1, 1, 64, 80, generator=g), torch.rand(1, 3, 64, 80, generator=g)
    one = fuser.fuse(ir, vis, tile=32, normalize="none")
    # Within the tolerance of other batchings (docs/api.md, "Limits and guarantees").
    assert torch.allclose(fuser.fuse(ir, vis, tile=32, normalize="none", window_batch_size=4),
                          one, atol=5e-3)
    with pytest.raises(ValueError, match="window_batch_size"):
        fuser.fuse(ir, vis, window_batch_size=0)


def test_cuda_fusion_of_uint8_frames_never_synchronises(
    trained_weights: Path, device: torch.device
) -> None:
    """Camera frames already on the GPU: no host copy, no synchronisation, uint8 back on it
    (runs with ``pytest --device cuda``)."""
    if device.type != "cuda":
        pytest.skip("a CUDA test: run pytest --device cuda")
    gpu = pomai.load(trained_weights, device=device)
    ir = torch.randint(0, 256, (2, 1, 48, 64), dtype=torch.uint8, device=device)
    vis = torch.randint(0, 256, (2, 3, 48, 64), dtype=torch.uint8, device=device)
    gpu.fuse(ir, vis)  # warm-up: kernels chosen, memory allocated
    torch.cuda.set_sync_debug_mode("error")
    try:
        fused = gpu.fuse(ir, vis)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert fused.device.type == "cuda" and fused.dtype == torch.uint8
    assert fused.shape == vis.shape


def test_fuse_stream_yields_what_fuse_gives_each_frame_in_batches(fuser: Fuser) -> None:
    rng = np.random.default_rng(3)
    frames = [(rng.integers(0, 256, (24, 30), dtype=np.uint8),
               rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)) for _ in range(5)]
    taken = []

    def pairs():  # records how far the stream has been read
        for pair in frames:
            taken.append(pair)
            yield pair

    stream = fuser.fuse_stream(pairs(), batch_size=2)
    first = next(stream)
    assert len(taken) == 2  # lazily: one batch read, not the whole stream
    fused = [first, *stream]
    assert len(fused) == 5
    for (ir, vis), out in zip(frames, fused, strict=True):
        assert out.dtype == np.uint8 and out.shape == (24, 30, 3)
        # one call of 2 frames against one of 1: float32 sums in another order, then 8-bit
        assert np.abs(out.astype(int) - fuser.fuse(ir, vis).astype(int)).max() <= 1


def test_fuse_stream_refuses_bad_batch_sizes_and_mixed_frame_sizes(fuser: Fuser) -> None:
    with pytest.raises(pomai.UsageError, match="batch_size"):
        next(fuser.fuse_stream([], batch_size=0))
    assert list(fuser.fuse_stream([], batch_size=3)) == []
    frames = [(np.zeros((24, 30), np.uint8),) * 2, (np.zeros((30, 24), np.uint8),) * 2]
    with pytest.raises(InputError, match="differ in size"):
        list(fuser.fuse_stream(frames, batch_size=2))
