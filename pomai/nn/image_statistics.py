"""Image-wide statistics for tiled inference: record pixel reductions over tiles, then replay.

Two kinds of layer reduce over every pixel of the image: MDTA's channel attention (Gram matrix
and norms of its queries and keys) and MICM's channel gate (per-channel mean and max). A tile
on its own sees only its own pixels. With an :class:`ImageStatistics` active, tiled inference
runs the tiles several times:

1. **recording** passes: each layer adds its reductions over the pixels the tile *owns* to new
   image totals (owned regions partition the image, so every pixel is counted once). The first
   recording pass computes with each tile's own reductions; every later one computes with the
   totals of the pass before.
2. a **replaying** pass: each layer uses the last image totals instead of its tile's.

After one recording pass the first image-wide layer's totals are exact, but deeper layers'
totals come from features that tile statistics shaped. Each further pass makes one more layer
exact (on owned pixels far enough from the window edges) and brings the others closer; the
measured gaps are in docs/api.md. Outside tiled inference nothing is active and every layer
reduces over its input, which is the whole image.

Layers call :func:`reduce_pixels`; they never see which mode is running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

import torch
from torch import nn

Combine = Literal["sum", "max"]
Reduction = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]
Region = tuple[slice, slice]

_ACTIVE: ContextVar[ImageStatistics | None] = ContextVar("pomai_image_statistics", default=None)


class ImageStatistics:
    """Image totals of every image-wide reduction, keyed by the layer that makes it.

    ``recording_passes``: how many recording passes tiled inference runs before replaying.
    """

    def __init__(self, recording_passes: int = 2) -> None:
        if recording_passes < 1:
            raise ValueError(f"recording_passes must be >= 1, got {recording_passes!r}")
        self.recording_passes = recording_passes
        self._totals: dict[nn.Module, tuple[torch.Tensor, ...]] = {}  # float32
        self._dtypes: dict[nn.Module, tuple[torch.dtype, ...]] = {}
        self._recorded: dict[nn.Module, tuple[torch.Tensor, ...]] | None = None
        self._regions: list[Region] = [(slice(None), slice(None))]
        self._images = 0  # images per window; 0: the whole batch

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Activate for a recording pass: layers compute with the totals of the previous
        recording pass if there was one (else with their tile's own reductions) and add their
        owned reductions to new totals, which replace the old ones at the end of the pass."""
        self._recorded = {}
        try:
            with self._active():
                yield
            self._totals = self._recorded
        finally:
            self._recorded = None

    @contextmanager
    def replaying(self) -> Iterator[None]:
        """Activate for the replaying pass: layers get the recorded image totals."""
        if not self._totals:
            raise RuntimeError("nothing recorded: run the recording pass over every tile first")
        with self._active():
            yield

    def set_owned_regions(self, regions: list[Region], images: int = 0) -> None:
        """The pixels the recording pass counts in each window of the next call, in window
        coordinates: ``(rows, cols)`` per window.

        A call may stack ``n = len(regions)`` windows of the same ``images`` images along its
        batch dimension, window after window (a batch of ``n·images``). A layer may see that
        batch several times over, concatenated (the shared encoder runs infrared and visible
        as one batch: ``2·n·images``); its totals are per image of such a layer's batch
        without the windows (``2·images``). ``images`` 0: one window, the whole batch."""
        self._regions = list(regions)
        self._images = images

    @contextmanager
    def _active(self) -> Iterator[None]:
        token = _ACTIVE.set(self)
        try:
            yield
        finally:
            _ACTIVE.reset(token)

    def _reduce(
        self,
        owner: nn.Module,
        x: torch.Tensor,
        reduction: Reduction,
        combine: tuple[Combine, ...],
    ) -> tuple[torch.Tensor, ...]:
        windows = len(self._regions)
        images = self._images or x.shape[0] // windows
        # (outer·n·images, ...) -> (outer, n, images, ...): window i is [:, i].
        by_window = x.unflatten(0, (-1, windows, images))
        if self._recorded is not None:
            owned: tuple[torch.Tensor, ...] | None = None
            for index, (rows, cols) in enumerate(self._regions):
                window = by_window[:, index].flatten(0, 1)
                reduced = reduction(window[..., rows, cols].flatten(-2))
                self._dtypes[owner] = tuple(r.dtype for r in reduced)
                owned = _combine(owned, tuple(r.float() for r in reduced), combine)
            assert owned is not None
            self._recorded[owner] = _combine(self._recorded.get(owner), owned, combine)
            if owner not in self._totals:
                return reduction(x.flatten(-2))
        elif owner not in self._totals:
            raise RuntimeError(f"no totals recorded for {type(owner).__name__}")
        totals, dtypes = self._totals[owner], self._dtypes[owner]
        # (outer·images, ...) image totals -> (outer·n·images, ...): each window gets its image's.
        return tuple(
            t.to(d).unflatten(0, (-1, 1, images)).expand(-1, windows, -1, *t.shape[1:])
            .flatten(0, 2)
            for t, d in zip(totals, dtypes, strict=True)
        )


def _combine(
    a: tuple[torch.Tensor, ...] | None, b: tuple[torch.Tensor, ...], how: tuple[Combine, ...]
) -> tuple[torch.Tensor, ...]:
    """Element-wise sum or maximum of two tuples of reductions (``a`` None: ``b``)."""
    if a is None:
        return b
    return tuple(torch.add(x, y) if h == "sum" else torch.maximum(x, y)
                 for x, y, h in zip(a, b, how, strict=True))


def image_statistics_active() -> bool:
    """True while an :class:`ImageStatistics` records or replays (tiled inference)."""
    return _ACTIVE.get() is not None


def reduce_pixels(
    owner: nn.Module,
    x: torch.Tensor,
    reduction: Reduction,
    combine: tuple[Combine, ...],
) -> tuple[torch.Tensor, ...]:
    """``reduction`` over the pixels of ``x`` (..., H, W): of this input, or of the whole image.

    Args:
        owner: the layer making the reduction (one reduction per layer per forward).
        x: (..., H, W) the layer's map.
        reduction: maps (B, ..., H·W) to a tuple of tensors (B, ...), each a sum or a max over
            the last dim.
        combine: for each result, how tiles combine: ``"sum"`` or ``"max"``.
    Returns:
        ``reduction(x)`` when no tiled inference is active, or in the first recording pass;
        the image totals of the previous recording pass otherwise.
    """
    statistics = _ACTIVE.get()
    if statistics is None:
        return reduction(x.flatten(-2))
    return statistics._reduce(owner, x, reduction, combine)
