"""Decoder D (paper §3.6): 2C→C reduction, Restormer blocks, convolutional head, sigmoid."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pomai.config import PoMAIConfig
from pomai.nn.restormer import RestormerBlock


class Decoder(nn.Module):
    """(B, 2C, H, W) features [IR half, visible half] -> (B, 1, H, W) fused image in [0, 1].

    Head: 3×3 C→C/2, LeakyReLU, 3×3 C/2→1, then sigmoid (of head + visible input when
    ``config.decoder_residual == "vis"``).
    """

    def __init__(self, config: PoMAIConfig) -> None:
        super().__init__()
        c = config.width
        self.residual = config.decoder_residual
        self.reduce_channel = nn.Conv2d(2 * c, c, 1, bias=config.bias)
        self.blocks = nn.Sequential(
            *(
                RestormerBlock(c, config.heads, config.ffn_expansion, config.bias)
                for _ in range(config.decoder_blocks)
            )
        )
        self.head = nn.Sequential(
            nn.Conv2d(c, c // 2, 3, padding=1, bias=config.bias),
            nn.LeakyReLU(0.01),
            nn.Conv2d(c // 2, 1, 3, padding=1, bias=config.bias),
        )

    def forward(self, features: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        out = self.head(self.blocks(self.reduce_channel(features)))
        if self.residual == "vis":
            out = out + vis
        return F.sigmoid(out)
