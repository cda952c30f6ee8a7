"""Shared encoder E (paper §3.2): 3×3 patch embedding + cascaded Restormer blocks."""

from __future__ import annotations

import torch
from torch import nn

from pomai.config import PoMAIConfig
from pomai.nn.restormer import RestormerBlock


class Encoder(nn.Module):
    """(B, 1, H, W) image in [0, 1] -> (B, C, H, W) features, resolution kept."""

    def __init__(self, config: PoMAIConfig) -> None:
        super().__init__()
        c = config.width
        self.patch_embed = nn.Conv2d(1, c, 3, padding=1, bias=config.bias)
        self.blocks = nn.Sequential(
            *(
                RestormerBlock(c, config.heads, config.ffn_expansion, config.bias)
                for _ in range(config.encoder_blocks)
            )
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.patch_embed(image))
