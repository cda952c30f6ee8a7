"""pomai.tiling: window layout, blending weights that sum to 1, accuracy, auto tile and OOM."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import pomai
from pomai import tiling
from pomai.tiling import (
    TileOutOfMemoryError,
    blend_window,
    owned_ranges,
    sliding_window,
    window_starts,
)

AXIS_LAYOUTS = [(100, 32, 0.25), (64, 32, 0.5), (33, 32, 0.0), (20, 32, 0.25), (257, 64, 0.1)]


@pytest.mark.parametrize(("length", "tile", "overlap"), AXIS_LAYOUTS)
def test_windows_cover_the_image_with_the_requested_overlap(
    length: int, tile: int, overlap: float
) -> None:
    starts = window_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    covered = torch.zeros(length, dtype=torch.bool)
    for s in starts:
        covered[s : s + size] = True
    assert bool(covered.all())
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(0 < g <= size - round(overlap * tile) for g in gaps)


@pytest.mark.parametrize(("length", "tile", "overlap"), AXIS_LAYOUTS)
def test_owned_ranges_partition_the_axis_inside_their_windows(
    length: int, tile: int, overlap: float
) -> None:
    starts = window_starts(length, tile, overlap)
    size = min(tile, length)
    owned = owned_ranges(starts, size, length)
    assert owned[0][0] == 0 and owned[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(owned, owned[1:], strict=False))
    assert all(s <= begin < end <= s + size for s, (begin, end) in zip(starts, owned, strict=True))


@pytest.mark.parametrize("blend", ["gaussian", "linear"])
@pytest.mark.parametrize(("shape", "tile"), [((50, 70), 32), ((64, 64), 32), ((17, 90), 24)])
def test_blending_weights_sum_to_one_everywhere(
    blend: str, shape: tuple[int, int], tile: int
) -> None:
    x = torch.rand(2, 3, *shape, dtype=torch.float32)
    ones = sliding_window(torch.ones_like, x, tile, overlap=0.25, blend=blend)
    assert torch.allclose(ones, torch.ones_like(x), rtol=0, atol=1e-6)
    # So a pixel-wise function is reproduced exactly, whatever the seams.
    same = sliding_window(lambda t: t.square(), x, tile, overlap=0.25, blend=blend)
    assert torch.allclose(same, x.square(), rtol=0, atol=1e-6)
    w = blend_window(tile, tile, blend, 0.25)
    assert float(w.min()) > 0 and float(w.max()) <= 1


def _local_net() -> nn.Module:
    """Three 3×3 convolutions: receptive radius 3 px, nothing global."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 8, 3, padding=1),
                         nn.GELU(), nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid()).eval()


# Documented bound (docs/api.md): for a network with receptive radius r, tiles of 32 with overlap
# 0.5 (16 px >> 2r) and gaussian blending stay within 2e-3 of whole-image inference on [0, 1].
LOCAL_NET_BOUND = 2e-3


@pytest.mark.parametrize("blend", ["gaussian", "linear"])
def test_tiled_local_network_matches_the_whole_image(
    blend: str, device: torch.device, dtype: torch.dtype, tolerance: dict
) -> None:
    net = _local_net().to(device, dtype)
    x = torch.rand(1, 2, 80, 72, device=device)
    with torch.no_grad():
        whole = net(x.to(dtype)).float()
        tiled = sliding_window(lambda t: net(t.to(dtype)), x, 32, overlap=0.5, blend=blend)
    assert tiled.device == x.device
    bound = LOCAL_NET_BOUND + tolerance.get("atol", 0.0)  # plus the dtype's own rounding
    assert float((tiled.float() - whole).abs().max()) < bound


def test_pomai_tiling_gap_is_reported(trained_weights: Path) -> None:
    """PoMAI has image-wide operations, so tiles cannot be exact: report the gap, bound it
    loosely, and check that the whole image's statistics bring the tiles closer."""
    fuser = pomai.load(trained_weights, device="cpu")
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, 96)
    ir = (0.5 * ramp[None, :] + 0.5 * torch.rand(96, 96, generator=g))[None, None]
    vis = (0.5 * ramp[:, None] + 0.5 * torch.rand(96, 96, generator=g))[None, None]
    whole = fuser.fuse_luminance(ir, vis)
    psnr = {}
    for image_statistics in (False, True):
        tiled = fuser.fuse_luminance(ir, vis, tile=48, overlap=0.25,
                                     image_statistics=image_statistics)
        mse = float((tiled - whole).square().mean())
        psnr[image_statistics] = 10 * math.log10(1 / mse) if mse else math.inf
    print(f"\nPoMAI (width-8 test checkpoint) 96×96, tile 48, overlap 0.25: PSNR "
          f"{psnr[False]:.1f} dB with tile statistics, {psnr[True]:.1f} dB with image statistics")
    assert psnr[False] > 15
    assert psnr[True] > psnr[False] + 3


def test_auto_runs_the_whole_image_when_it_fits_and_tiles_otherwise() -> None:
    cpu = torch.device("cpu")
    free = tiling.free_memory(cpu)
    assert free > 0
    assert tiling.auto_tile(100, 100, 1, 1.0, cpu) is None
    tile = tiling.auto_tile(4096, 4096, 1, free / 100**2, cpu)
    assert tile is not None and tiling.MIN_AUTO_TILE <= tile <= 100
    assert tile % tiling.AUTO_TILE_MULTIPLE == 0


def test_auto_shrinks_the_tile_on_out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A network that runs out of memory above 80×80 windows: "auto" halves until it fits."""
    sizes: list[tuple[int, int]] = []

    def limited(t: torch.Tensor) -> torch.Tensor:
        sizes.append(tuple(t.shape[-2:]))
        if t.shape[-1] * t.shape[-2] > 80 * 80:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return t * 2

    monkeypatch.setattr(tiling, "free_memory", lambda device: 10**12)  # whole image first
    x = torch.rand(1, 1, 300, 200)
    out = sliding_window(limited, x, "auto", bytes_per_pixel=1.0)
    assert torch.allclose(out, x * 2, atol=1e-6)
    assert sizes[0] == (300, 200) and sizes[1] == (150, 150) and sizes[-1] == (75, 75)


def test_auto_gives_up_clearly_and_other_errors_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(t: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("out of memory")

    x = torch.rand(1, 1, 200, 200)
    with pytest.raises(TileOutOfMemoryError, match="even with 64×64 tiles"):
        sliding_window(never, x, "auto", bytes_per_pixel=1.0)
    with pytest.raises(TileOutOfMemoryError, match="with the whole image.*tile='auto'"):
        sliding_window(never, x, None)

    bug = ValueError("a bug in the network")

    def broken(t: torch.Tensor) -> torch.Tensor:
        raise bug

    for tile in (None, 64, "auto"):
        with pytest.raises(ValueError) as info:
            sliding_window(broken, x, tile, bytes_per_pixel=1.0)
        assert info.value is bug


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tile": 0}, "an int >= 1"), ({"tile": "big"}, "an int >= 1"), ({"tile": True}, "int"),
    ({"tile": 32, "overlap": 1.0}, r"in \[0, 0.75\]"), ({"tile": "auto"}, "bytes_per_pixel"),
    ({"tile": 32, "overlap": 0.99}, "so many windows"), ({"tile": 32, "overlap": "x"}, "overlap"),
    ({"tile": 32, "overlap": float("nan")}, "overlap"), ({"tile": 32, "blend": "cosine"}, "blend"),
    ({"tile": None, "blend": "cosine"}, "blend must be"),  # checked even when nothing is tiled
])
def test_bad_tiling_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sliding_window(lambda t: t, torch.rand(1, 1, 40, 40), **kwargs)


def test_the_largest_overlap_covers_a_pixel_by_at_most_5_windows_per_axis() -> None:
    for tile in (tiling.MIN_TILE, 33, 100):
        starts = window_starts(10 * tile + 3, tile, tiling.MAX_OVERLAP)
        covering = [sum(s <= x < s + tile for s in starts) for x in range(10 * tile + 3)]
        assert max(covering) <= 5  # 4, and one more beside the last window (flush with the edge)


@pytest.mark.parametrize("window_batch_size", [2, 3, 16])
def test_batched_windows_equal_one_window_per_call(window_batch_size: int) -> None:
    """Windows stacked along the batch dimension give the one-window-per-call result, with
    and without the image's statistics (two images, so windows and images interleave). No
    NGMM: its hashing can regroup near-tied pixels when a batched convolution rounds otherwise
    (docs/api.md, "Limits and guarantees"), which would hide the arithmetic compared here."""
    from pomai.config import get_config
    from pomai.nn.image_statistics import ImageStatistics
    from pomai.nn.pomai import PoMAI

    torch.manual_seed(0)
    model = PoMAI(get_config("tiny").replace(width=8, heads=2, use_ngmm=False)).eval()
    inputs = torch.rand(2, 2, 70, 90)
    calls: list[int] = []

    def network(window: torch.Tensor) -> torch.Tensor:
        calls.append(window.shape[0])
        return model(window[:, :1], window[:, 1:])

    with torch.no_grad():
        for statistics in (None, ImageStatistics):
            calls.clear()
            single = sliding_window(network, inputs, 32,
                                    statistics=statistics and statistics())
            windows = len(calls)
            calls.clear()
            batched = sliding_window(network, inputs, 32, statistics=statistics and statistics(),
                                     window_batch_size=window_batch_size)
            assert torch.allclose(batched, single, atol=1e-5)
            assert len(calls) < windows and max(calls) <= 2 * window_batch_size


def test_window_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_batch_size must be an int >= 1, got 0"):
        sliding_window(lambda x: x, torch.rand(1, 1, 8, 8), None, window_batch_size=0)
