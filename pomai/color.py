"""BT.601 full-range YCbCr conversion (JPEG convention), on tensors in [0, 1].

``Y = 0.299 R + 0.587 G + 0.114 B``, ``Cb = 0.5 + (B - Y) / 1.772``, ``Cr = 0.5 + (R - Y) / 1.402``.
"""

from __future__ import annotations

import torch

LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def rgb_to_luma(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 1, H, W) BT.601 luminance Y."""
    r, g, b = rgb.unbind(dim=-3)
    return (LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b).unsqueeze(-3)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 3, H, W) [Y, Cb, Cr] in [0, 1]."""
    y = rgb_to_luma(rgb)
    r, _, b = rgb.unbind(dim=-3)
    cb = 0.5 + (b.unsqueeze(-3) - y) / 1.772
    cr = 0.5 + (r.unsqueeze(-3) - y) / 1.402
    return torch.cat([y, cb, cr], dim=-3)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) [Y, Cb, Cr] -> (..., 3, H, W) RGB clamped to [0, 1]."""
    y, cb, cr = ycbcr.unbind(dim=-3)
    r = y + 1.402 * (cr - 0.5)
    b = y + 1.772 * (cb - 0.5)
    g = (y - LUMA_WEIGHTS[0] * r - LUMA_WEIGHTS[2] * b) / LUMA_WEIGHTS[1]
    return torch.stack([r, g, b], dim=-3).clamp(0.0, 1.0)
