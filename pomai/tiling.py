"""Sliding-window (tiled) inference with blended seams, for images too large for one pass.

The image is covered by overlapping windows of ``tile × tile`` pixels (fewer where the image is
smaller), each window's output is weighted by a blending window that falls off towards the
window's edges, and the weighted outputs are divided by the summed weights, so every output
pixel is a convex combination of the windows that cover it (the weights sum to 1 everywhere).
The stitched result and the weights live on the input's device, in float32.

``tile="auto"`` picks the largest tile that fits in half of the free memory (CUDA:
``torch.cuda.mem_get_info``; CPU: ``MemAvailable`` of /proc/meminfo) given the caller's
estimate of bytes per pixel, runs the whole image in one pass when it fits, and on an
out-of-memory error halves the tile and starts again. Any other error propagates unchanged.

Nothing here normalises anything: the caller normalises whole images before tiling. Layers that
reduce over all pixels can still see the whole image through ``statistics``: the windows run
in recording passes that sum the image-wide reductions, then once more replaying the totals
(:mod:`pomai.nn.image_statistics`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Literal

import torch

from pomai.errors import TileOutOfMemoryError

if TYPE_CHECKING:
    from pomai.nn.image_statistics import ImageStatistics

Tile = int | Literal["auto"] | None
Blend = Literal["gaussian", "linear"]

# Smallest tile pomai.Fuser accepts. PoMAI's local receptive radius is about 34 px, so a
# smaller window is mostly zero padding and falls far from whole-image fusion (docs/api.md has
# the measured gap per tile side).
MIN_TILE = 32
# Largest overlap: a step of at least a quarter tile, so at most 4 windows cover a pixel along
# each axis (5 beside the last window, placed flush with the edge): at most 25 in all.
MAX_OVERLAP = 0.75
BLENDS = ("gaussian", "linear")
MIN_AUTO_TILE = 64
AUTO_TILE_MULTIPLE = 32
AUTO_MEMORY_FRACTION = 0.5
# Gaussian window: sigma = tile / 8 (MONAI's 0.125), floored so no weight is 0.
GAUSSIAN_SIGMA_SCALE = 0.125
MIN_WEIGHT = 1e-3


def check_tiling(tile: Tile, overlap: float, blend: Blend, min_tile: int = 1) -> None:
    """Raise ValueError unless ``tile``, ``overlap`` and ``blend`` are usable together.

    ``tile``: None, ``"auto"`` or an int >= ``min_tile``; ``overlap``: in [0, MAX_OVERLAP];
    ``blend``: one of :data:`BLENDS`. Checked before any work, whether tiling runs or not.
    """
    if tile is not None and tile != "auto" and (
        isinstance(tile, bool) or not isinstance(tile, int) or tile < min_tile
    ):
        raise ValueError(
            f"tile must be None, 'auto' or an int >= {min_tile}, got {tile!r}"
            + (f": smaller windows are mostly zero padding around PoMAI's receptive field "
               f"(use tile={min_tile} or more, or 'auto')" if min_tile > 1 else "")
        )
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) or not (
        0.0 <= overlap <= MAX_OVERLAP
    ):
        raise ValueError(
            f"overlap is the fraction of a tile shared with its neighbours, in [0, "
            f"{MAX_OVERLAP}], got {overlap!r}: a larger one makes so many windows that fusion "
            "would not finish (0.25 is the default)"
        )
    if blend not in BLENDS:
        raise ValueError(f"blend must be 'gaussian' or 'linear', got {blend!r}")


def check_window_batch_size(window_batch_size: int) -> None:
    """Raise ValueError unless ``window_batch_size`` is an int >= 1."""
    if isinstance(window_batch_size, bool) or not isinstance(window_batch_size, int) or (
        window_batch_size < 1
    ):
        raise ValueError(f"window_batch_size must be an int >= 1, got {window_batch_size!r}")


def window_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of windows of size ``min(tile, length)`` covering ``[0, length)``.

    Consecutive windows overlap by at least ``round(overlap * tile)`` pixels; the last window
    ends at ``length``.
    """
    if tile >= length:
        return [0]
    stride = max(1, tile - round(overlap * tile))
    return [*range(0, length - tile, stride), length - tile]


def blend_window(
    height: int, width: int, mode: Blend, overlap: float, device: torch.device | None = None
) -> torch.Tensor:
    """(height, width) float32 blending weights in (0, 1], largest at the centre.

    ``"gaussian"``: separable Gaussian, sigma = size / 8, floored at ``MIN_WEIGHT``.
    ``"linear"``: separable ramp rising over the overlap width from each edge (feathering).
    """
    axes = []
    for size in (height, width):
        x = torch.arange(size, dtype=torch.float32, device=device)
        if mode == "gaussian":
            sigma = max(GAUSSIAN_SIGMA_SCALE * size, 1e-6)
            w = torch.exp(-0.5 * ((x - (size - 1) / 2) / sigma) ** 2)
        elif mode == "linear":
            ramp = max(round(overlap * size), 1)
            edge = torch.minimum(x, size - 1 - x)
            w = ((edge + 1) / (ramp + 1)).clamp(max=1.0)
        else:
            raise ValueError(f"blend must be 'gaussian' or 'linear', got {mode!r}")
        axes.append(w.clamp(min=MIN_WEIGHT))
    return axes[0][:, None] * axes[1][None, :]


def sliding_window(
    fn: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    tile: Tile,
    *,
    overlap: float = 0.25,
    blend: Blend = "gaussian",
    bytes_per_pixel: float | None = None,
    statistics: ImageStatistics | None = None,
    progress: bool = False,
    window_batch_size: int = 1,
) -> torch.Tensor:
    """Apply ``fn`` to ``inputs`` (B, C, H, W) window by window; returns (B, C_out, H, W).

    ``fn`` maps (B, C, h, w) to (B, C_out, h, w) for any window size. ``tile``: None runs the
    whole image in one call; an int is the window side; ``"auto"`` picks it from free memory
    using ``bytes_per_pixel`` (the peak memory of ``fn`` per pixel of one image). ``overlap``:
    fraction of the tile shared by neighbouring windows, in [0, MAX_OVERLAP]. ``statistics``:
    when the image is tiled, run the windows ``statistics.recording_passes`` times recording the
    image-wide reductions of ``fn``'s layers (each pass computing with the previous pass's
    totals), then once more replaying the last totals (:mod:`pomai.nn.image_statistics`):
    ``1 + recording_passes`` times the compute of one pass. ``window_batch_size``: windows per
    call of ``fn``, stacked along the batch dimension (MONAI's ``sw_batch_size``): fewer, larger
    calls, which keep a GPU busy, for that many times the memory of one window.
    """
    check_tiling(tile, overlap, blend)
    check_window_batch_size(window_batch_size)
    if tile == "auto":
        return _auto(fn, inputs, overlap, blend, bytes_per_pixel, statistics, progress,
                     window_batch_size)
    try:
        if tile is None:
            return fn(inputs)
        return _tiled(fn, inputs, tile, overlap, blend, statistics, progress, window_batch_size)
    except Exception as err:
        if not is_out_of_memory(err):
            raise
        size = "the whole image" if tile is None else f"{tile}×{tile} tiles"
        raise TileOutOfMemoryError(
            f"out of memory fusing {inputs.shape[-2]}×{inputs.shape[-1]} images with {size} on "
            f"{inputs.device}: use tile='auto' (command line: --tile auto) or a smaller tile."
        ) from err


def auto_tile(
    height: int, width: int, batch: int, bytes_per_pixel: float, device: torch.device
) -> int | None:
    """The tile side for ``tile="auto"``, or None when the whole image fits in one pass."""
    budget = AUTO_MEMORY_FRACTION * free_memory(device)
    pixels = budget / (bytes_per_pixel * batch)
    if pixels >= height * width:
        return None
    side = int(math.sqrt(pixels)) // AUTO_TILE_MULTIPLE * AUTO_TILE_MULTIPLE
    return max(MIN_AUTO_TILE, side)


def free_memory(device: torch.device) -> int:
    """Bytes free for tensors on ``device`` (CUDA: driver's free memory; CPU: MemAvailable)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # No /proc (macOS, Windows): assume a modest 4 GiB rather than guessing high.
    return 4 << 30


def is_out_of_memory(error: BaseException) -> bool:
    """True for PyTorch's out-of-memory errors (CUDA, and the CPU allocator's)."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def _auto(
    fn: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    overlap: float,
    blend: Blend,
    bytes_per_pixel: float | None,
    statistics: ImageStatistics | None,
    progress: bool,
    window_batch_size: int,
) -> torch.Tensor:
    if bytes_per_pixel is None or bytes_per_pixel <= 0:
        raise ValueError("tile='auto' needs a positive bytes_per_pixel estimate")
    b, _, h, w = inputs.shape
    tile = auto_tile(h, w, b, bytes_per_pixel, inputs.device)
    if tile is not None and window_batch_size > 1:
        tile = auto_tile(h, w, b * window_batch_size, bytes_per_pixel, inputs.device) or tile
    while True:
        try:
            if tile is None:
                return fn(inputs)
            return _tiled(fn, inputs, tile, overlap, blend, statistics, progress,
                          window_batch_size)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            if inputs.device.type == "cuda":
                torch.cuda.empty_cache()
            current = max(h, w) if tile is None else tile
            if current <= MIN_AUTO_TILE:
                raise TileOutOfMemoryError(
                    f"out of memory even with {MIN_AUTO_TILE}×{MIN_AUTO_TILE} tiles on "
                    f"{inputs.device}: fuse fewer images per call, free memory used by other "
                    "programs, or use another device."
                ) from err
            tile = max(MIN_AUTO_TILE, current // 2)


def owned_ranges(starts: list[int], size: int, length: int) -> list[tuple[int, int]]:
    """Per window, the ``[begin, end)`` image rows (or columns) it owns: a partition of the axis.

    Windows of ``size`` start at ``starts``; neighbours split their overlap at its middle.
    """
    cuts = [0, *((a + b + size) // 2 for a, b in zip(starts, starts[1:], strict=False)), length]
    return list(zip(cuts, cuts[1:], strict=False))


def _tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    tile: int,
    overlap: float,
    blend: Blend,
    statistics: ImageStatistics | None,
    progress: bool,
    window_batch_size: int = 1,
) -> torch.Tensor:
    from tqdm.auto import tqdm

    b, _, h, w = inputs.shape
    th, tw = min(tile, h), min(tile, w)
    tops, lefts = window_starts(h, tile, overlap), window_starts(w, tile, overlap)
    windows = [(top, left) for top in tops for left in lefts]
    if len(windows) == 1:
        statistics = None  # the one window is the whole image: its own statistics are exact
    passes = 1 if statistics is None else 1 + statistics.recording_passes
    bar = tqdm(total=len(windows) * passes, desc="tiles", disable=not progress, leave=False)
    groups = [windows[i : i + window_batch_size]
              for i in range(0, len(windows), window_batch_size)]

    def run(group: list[tuple[int, int]]) -> torch.Tensor:
        """``fn`` on the group's windows stacked window after window: (len(group)·B, ...)."""
        crops = [inputs[:, :, top : top + th, left : left + tw] for top, left in group]
        result = fn(crops[0] if len(crops) == 1 else torch.cat(crops))
        bar.update(len(group))
        return result

    if statistics is not None:
        # The pixels each window owns (a partition of the image), in window coordinates.
        owned = {(top, left): (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
                 for top, (r0, r1) in zip(tops, owned_ranges(tops, th, h), strict=True)
                 for left, (c0, c1) in zip(lefts, owned_ranges(lefts, tw, w), strict=True)}
        for _ in range(statistics.recording_passes):
            with statistics.recording():
                for group in groups:
                    statistics.set_owned_regions([owned[window] for window in group], b)
                    run(group)
    weight = blend_window(th, tw, blend, overlap, inputs.device)
    total = torch.zeros((h, w), dtype=torch.float32, device=inputs.device)
    out: torch.Tensor | None = None
    with nullcontext() if statistics is None else statistics.replaying():
        for group in groups:
            if statistics is not None:
                statistics.set_owned_regions([(slice(None), slice(None))] * len(group), b)
            results = run(group).float().split(b)
            for (top, left), result in zip(group, results, strict=True):
                if out is None:
                    out = torch.zeros((b, result.shape[1], h, w), dtype=torch.float32,
                                      device=inputs.device)
                out[:, :, top : top + th, left : left + tw] += result * weight
                total[top : top + th, left : left + tw] += weight
    bar.close()
    assert out is not None
    return out / total
