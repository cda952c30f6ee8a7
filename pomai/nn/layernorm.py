"""Channel LayerNorm: LayerNorm over the channels of every pixel of a (B, C, H, W) map."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChannelLayerNorm(nn.Module):
    """Restormer's "WithBias" LayerNorm: per-pixel normalisation over C, biased variance.

    ``y[b, :, i, j] = (x[b, :, i, j] - mean) / sqrt(var + eps) * weight + bias``.
    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In channels-last memory the permuted view is contiguous and layer_norm copies nothing.
        y = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)
