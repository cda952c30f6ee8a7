"""Context-Aware Modeling Network, CAMN (paper §3.4): visible-branch spatial + channel context."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pomai.config import PoMAIConfig
from pomai.nn.layernorm import ChannelLayerNorm


class SpatialContextBlock(nn.Module):
    """SCB: ``x + Conv1x1(DWDilated(GELU(Conv1x1(x))))``. (B, C, H, W) -> same."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(channels, channels, 1)
        self.dilated = nn.Conv2d(
            channels,
            channels,
            kernel,
            padding=dilation * (kernel - 1) // 2,
            dilation=dilation,
            groups=channels,
        )
        self.conv_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_out(self.dilated(F.gelu(self.conv_in(x))))


class ChannelContextBlock(nn.Module):
    """CCB: ``x + PC1x1(GELU(PC1x1(LN(x))))`` with hidden width ``expansion * C``."""

    def __init__(self, channels: int, expansion: float) -> None:
        super().__init__()
        hidden = int(channels * expansion)
        self.norm = ChannelLayerNorm(channels)
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.reduce = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.reduce(F.gelu(self.expand(self.norm(x))))


class CAMN(nn.Module):
    """``x_camn = CCB(SCB(x_enc)) + x_enc`` (Eq. 4–5). (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, config: PoMAIConfig) -> None:
        super().__init__()
        self.scb = SpatialContextBlock(config.width, config.scb_kernel, config.scb_dilation)
        self.ccb = ChannelContextBlock(config.width, config.ccb_expansion)

    def forward(self, x_enc: torch.Tensor) -> torch.Tensor:
        return self.ccb(self.scb(x_enc)) + x_enc
