"""Context-Aware Modeling Network, CAMN (paper §3.4): visible-branch spatial + channel context."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pomai.config import PoMAIConfig
from pomai.nn.cpu_inference import blocked_inference
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
        return x + self.conv_out(dilated_depthwise(F.gelu(self.conv_in(x)), self.dilated))


def dilated_depthwise(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a "same"-padded depth-wise convolution with dilation d, computed as an
    undilated one on the d² interleaved sub-images of ``x`` (space-to-batch).

    Output pixel ``(i, j)`` only sees inputs ``(i + d·m, j + d·n)``: pixels of its own residue
    class modulo d, which form one sub-image, where the dilated kernel is an ordinary one. The
    image is zero-padded to a multiple of d first: the padded pixels lie where the dilated
    convolution reads its zero padding. Same result; in CPU inference
    (:func:`~pomai.nn.cpu_inference.blocked_inference`), oneDNN's dilated depth-wise kernels are
    many times slower than its undilated ones (in bfloat16 over forty times). Elsewhere the
    convolution runs as it is. Shapes: (B, C, H, W) -> (B, C, H, W).
    """
    d = conv.dilation[0]
    if d == 1 or not blocked_inference(x):
        return conv(x)
    b, c, h, w = x.shape
    rows, cols = -(-h // d), -(-w // d)
    # Worked on as (B, H, W, C): a view of a channels-last map, so the shuffles below copy once.
    pixels = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, cols * d - w, 0, rows * d - h))
    # (B, rows·d, cols·d, C) -> (B·d·d, rows, cols, C): sub-image (p, q) holds (p + d·i, q + d·j)
    sub = (pixels.reshape(b, rows, d, cols, d, c).permute(0, 2, 4, 1, 3, 5)
           .reshape(b * d * d, rows, cols, c).permute(0, 3, 1, 2))
    out = F.conv2d(sub, conv.weight, conv.bias, padding=conv.kernel_size[0] // 2, groups=c)
    out = (out.permute(0, 2, 3, 1).reshape(b, d, d, rows, cols, c).permute(0, 3, 1, 4, 2, 5)
           .reshape(b, rows * d, cols * d, c))
    return out[:, :h, :w].permute(0, 3, 1, 2)


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
