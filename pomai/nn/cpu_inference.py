"""How layers run in CPU inference: image by image, in blocks of rows that stay in the cache.

Layers ask :func:`blocked_inference`; where it holds, a layer whose every output pixel depends
on a small neighbourhood computes block by block (:func:`in_row_blocks`). A layer that also
sums over every pixel asks :func:`blocked_sums` and sums block by block (:func:`row_blocks`).
The results are the whole-image computation's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

import torch

from pomai.nn.image_statistics import image_statistics_active

# Pixels per block of rows (64 hidden channels of a block: 8 MiB in float32).
BLOCK_PIXELS = 2**16
# True while torch.export traces; PyTorch < 2.6 has no such flag and no export.
_is_exporting = getattr(torch.compiler, "is_exporting", lambda: False)
_WHOLE_IMAGE: ContextVar[bool] = ContextVar("pomai_whole_image", default=False)


def row_blocks(x: torch.Tensor, halo: int, pixels: int) -> Iterator[RowBlock]:
    """Blocks of about ``pixels`` pixels of each image of ``x`` (B, C, H, W), whole rows each.

    A block owns rows ``[top, bottom)`` of image ``image`` and reads rows ``[first, last)``:
    its own plus ``halo`` more on either side where the image has them. A layer that maps every
    pixel from its (2·halo+1)² neighbourhood gives every owned pixel of a block what it gives
    it in the whole image, the zero padding at the image's edges included.
    """
    b, _, h, w = x.shape
    rows = max(1, pixels // w)
    for image in range(b):
        for top in range(0, h, rows):
            bottom = min(top + rows, h)
            yield RowBlock(image, top, bottom, max(top - halo, 0), min(bottom + halo, h))


class RowBlock(NamedTuple):
    """A block of :func:`row_blocks`: owns rows ``[top, bottom)``, reads ``[first, last)``."""

    image: int
    top: int
    bottom: int
    first: int
    last: int

    def read(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the rows this block reads, (1, C, last - first, W)."""
        return x[self.image : self.image + 1, :, self.first : self.last]

    def owned(self, y: torch.Tensor) -> torch.Tensor:
        """A layer's output for :meth:`read`'s rows -> its owned rows, (1, C', bottom - top, W)."""
        return y[:, :, self.top - self.first : self.bottom - self.first]

    def write(self, out: torch.Tensor, y: torch.Tensor) -> None:
        """Copy the owned rows of ``y`` (a layer's output for :meth:`read`) into ``out``."""
        out[self.image : self.image + 1, :, self.top : self.bottom] = self.owned(y)


def in_row_blocks(
    layer: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, halo: int, pixels: int
) -> torch.Tensor:
    """``layer(x)`` for a layer that maps every pixel from its (2·halo+1)² neighbourhood and
    keeps C, H and W, computed one :func:`row_blocks` block at a time. (B, C, H, W) -> same."""
    if x.shape[0] == 1 and pixels // x.shape[-1] >= x.shape[-2]:
        return layer(x)
    out = torch.empty_like(x)
    for block in row_blocks(x, halo, pixels):
        block.write(out, layer(block.read(x)))
    return out


def blocked_inference(x: torch.Tensor) -> bool:
    """Whether layers given ``x`` compute in pieces: CPU inference, run eagerly.

    On the CPU, whole-image hidden maps are page-faulted in anew at every call and fall out of
    the cache between one operation and the next; blocks of rows stay in the cache and are
    reused from the heap. GPUs want the whole image in one call, autograd wants one operation
    per layer, and torch.compile and torch.export want one graph for every image size.
    """
    return (x.device.type == "cpu" and not torch.is_grad_enabled() and not _WHOLE_IMAGE.get()
            and not torch.compiler.is_compiling() and not _is_exporting())


def blocked_sums(x: torch.Tensor) -> bool:
    """Whether layers that sum over every pixel may also work in pieces: :func:`blocked_inference`
    with no image statistics active. Tiled inference's statistics need each such layer's whole
    window in one call (:mod:`pomai.nn.image_statistics`)."""
    return blocked_inference(x) and not image_statistics_active()


@contextmanager
def whole_image() -> Iterator[None]:
    """Inside, layers compute without blocks, as a training forward does, also without
    gradients: bit for bit the same result (the blocks' differs in the last bits)."""
    token = _WHOLE_IMAGE.set(True)
    try:
        yield
    finally:
        _WHOLE_IMAGE.reset(token)
