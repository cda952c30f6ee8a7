"""What ``fuse()`` does to the network's output before returning it.

``"minmax"`` (the default) stretches each fused luminance image linearly so that its darkest
pixel becomes 0 and its brightest 1, over the whole image (after tiling, never per tile), before
a colour visible image's chroma is re-attached. This is the published evaluation protocol of the
field, and what peers such as SeAFusion do at inference; `pomai eval` measures exactly this
output (docs/evaluation.md). ``"none"`` returns the network's output as it is (it is already in
[0, 1]).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

Normalize = Literal["minmax", "none"]
NORMALIZE_MODES: tuple[str, ...] = get_args(Normalize)
DEFAULT_NORMALIZE: Normalize = "minmax"


def check_normalize(mode: object) -> Normalize:
    """``mode`` if it names a normalisation, else a ValueError listing the choices."""
    if mode not in NORMALIZE_MODES:
        raise ValueError(
            f"normalize must be one of {', '.join(map(repr, NORMALIZE_MODES))}, got {mode!r}"
        )
    return mode  # type: ignore[return-value]


def normalize_luminance(fused: torch.Tensor, mode: Normalize = DEFAULT_NORMALIZE) -> torch.Tensor:
    """(B, 1, H, W) fused luminance in [0, 1] -> (B, 1, H, W), each image normalised by ``mode``.

    ``"minmax"``: ``(y - min) / (max - min)`` per image; an image whose luminance is constant has
    nothing to stretch and is returned as it is. ``"none"``: unchanged.
    """
    if check_normalize(mode) == "none":
        return fused
    flat = fused.flatten(1)
    low = flat.amin(dim=1).view(-1, 1, 1, 1)
    span = flat.amax(dim=1).view(-1, 1, 1, 1) - low
    stretched = (fused - low) / span.clamp(min=torch.finfo(fused.dtype).tiny)
    return torch.where(span > 0, stretched, fused)
