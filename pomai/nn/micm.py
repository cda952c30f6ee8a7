"""Modality-Interactive Compensation Module, MICM (paper §3.5): FPM + gated feature fusion."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pomai.config import PoMAIConfig
from pomai.nn.image_statistics import reduce_pixels


class ChannelAttention(nn.Module):
    """CBAM channel gate: ``x * sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))``. (B,C,H,W) -> same.

    The pooling goes through :func:`reduce_pixels`, so tiled inference can pool the whole image.
    """

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total, count, peak = reduce_pixels(self, x, _sum_count_max, ("sum", "sum", "max"))
        pooled = torch.cat([(total / count).to(x.dtype), peak])[..., None, None]
        avg, mx = self.mlp(pooled).unflatten(0, (2, -1)).unbind(0)  # not chunk(2): see PoMAI.encode
        return x * torch.sigmoid(avg + mx)


def _sum_count_max(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, C, L) -> float32 sums (B, C), pixel counts (B, 1) and maxima (B, C) over L."""
    count = torch.full((x.shape[0], 1), x.shape[-1], dtype=torch.float32, device=x.device)
    return x.sum(dim=-1, dtype=torch.float32), count, x.amax(dim=-1)


class SpatialAttention(nn.Module):
    """CBAM spatial gate: ``x * sigmoid(Conv([mean_c(x), max_c(x)]))``. (B,C,H,W) -> same."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(stats))


class FeaturePerceptionModule(nn.Module):
    """FPM (Eq. 6–7): ``Cat(SA(x_sum) + CA(x_sum), x_sum)``. (B, C, H, W) -> (B, 2C, H, W)."""

    def __init__(self, config: PoMAIConfig) -> None:
        super().__init__()
        self.channel_attention = ChannelAttention(config.width, config.ca_reduction)
        self.spatial_attention = SpatialAttention(config.sa_kernel)

    def forward(self, x_sum: torch.Tensor) -> torch.Tensor:
        attended = self.spatial_attention(x_sum) + self.channel_attention(x_sum)
        return torch.cat([attended, x_sum], dim=1)


class MICM(nn.Module):
    """FPM then GFF (Eq. 6–11).

    ``W = sigmoid(Gate(FPM(x_enc_ir + x_enc_vis)))`` with C channels, then
    ``Cat((1 - W) * x_enc_ir + x_ngmm, W * x_enc_vis + x_camn)``: IR half first, as in stage 1.
    Shapes: four (B, C, H, W) maps -> (B, 2C, H, W).
    """

    def __init__(self, config: PoMAIConfig) -> None:
        super().__init__()
        c, k = config.width, config.gate_kernel
        self.fpm = FeaturePerceptionModule(config)
        if config.gate == "dense":
            self.gate = nn.Conv2d(2 * c, c, k, padding=k // 2)
        else:
            self.gate = nn.Sequential(
                nn.Conv2d(2 * c, c, 1), nn.Conv2d(c, c, k, padding=k // 2, groups=c)
            )

    def forward(
        self,
        x_enc_ir: torch.Tensor,
        x_enc_vis: torch.Tensor,
        x_ngmm: torch.Tensor,
        x_camn: torch.Tensor,
    ) -> torch.Tensor:
        w = F.sigmoid(self.gate(self.fpm(x_enc_ir + x_enc_vis)))
        return torch.cat([(1 - w) * x_enc_ir + x_ngmm, w * x_enc_vis + x_camn], dim=1)
