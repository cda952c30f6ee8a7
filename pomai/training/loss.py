"""The fusion loss of the paper (Eq. 14–18): 5·L_ssim + 1·L_mse + 1·L_int + 10·L_grad.

All images are (B, 1, H, W) in [0, 1]: fused F, infrared I, visible luminance V.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """(size,) normalised 1-D gaussian; the 2-D window is its outer product."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def ssim(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (Wang et al., 2004) of (B, 1, H, W) images with data range 1.

    Local moments use the separable gaussian ``window`` with reflect padding (so the map has the
    input size);
    ``SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x² + mu_y² + C1)(s_x² + s_y² + C2))``
    with C1 = 0.01², C2 = 0.03². Returns a scalar.
    """
    pad = window.numel() // 2
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    stacked = F.pad(stacked, (pad, pad, pad, pad), mode="reflect")
    channels = stacked.shape[1]
    kh = window.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    kw = window.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    moments = F.conv2d(F.conv2d(stacked, kh, groups=channels), kw, groups=channels)
    mu_x, mu_y, xx, yy, xy = moments.unbind(dim=1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return (num / den).mean()


def sobel_magnitude(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """``|Sobel_x * x| + |Sobel_y * x|`` with zero padding (CDDFuse). (B,1,H,W) -> (B,1,H,W)."""
    g = F.conv2d(x, kernels, padding=1)
    return g.abs().sum(dim=1, keepdim=True)


@dataclass(frozen=True)
class LossTerms:
    """The weighted total and each unweighted term (scalars)."""

    total: torch.Tensor
    ssim: torch.Tensor
    mse: torch.Tensor
    intensity: torch.Tensor
    gradient: torch.Tensor


class FusionLoss(nn.Module):
    """``a1·L_ssim + a2·L_mse + a3·L_int + a4·L_grad`` (paper weights 5, 1, 1, 10).

    - ``L_ssim = (1 - SSIM(F, I)) + (1 - SSIM(F, V))``
    - ``L_mse = mean((F - I)²) + mean((F - V)²)``
    - ``L_int = mean|F - max(I, V)|``
    - ``L_grad = mean| S(F) - max(S(I), S(V)) |`` with S the Sobel magnitude above.
    """

    def __init__(self, weights: tuple[float, float, float, float] = (5.0, 1.0, 1.0, 10.0)) -> None:
        super().__init__()
        self.weights = weights
        self.register_buffer("window", gaussian_window(), persistent=False)
        sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
        sobel_y = torch.tensor([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
        self.register_buffer(
            "sobel", torch.stack([sobel_x, sobel_y])[:, None], persistent=False
        )

    def forward(self, fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor) -> LossTerms:
        side = self.window.numel() // 2 + 1
        if min(fused.shape[-2:]) < side:
            raise ValueError(
                f"the fusion loss needs images of at least {side}×{side} pixels (its SSIM "
                f"window is {self.window.numel()}×{self.window.numel()}), got "
                f"{tuple(fused.shape[-2:])}: use a larger --crop"
            )
        window = self.window.to(fused.dtype)
        l_ssim = (1 - ssim(fused, ir, window)) + (1 - ssim(fused, vis, window))
        l_mse = F.mse_loss(fused, ir) + F.mse_loss(fused, vis)
        l_int = F.l1_loss(fused, torch.maximum(ir, vis))
        sobel = self.sobel.to(fused.dtype)
        target_grad = torch.maximum(sobel_magnitude(ir, sobel), sobel_magnitude(vis, sobel))
        l_grad = F.l1_loss(sobel_magnitude(fused, sobel), target_grad)
        a1, a2, a3, a4 = self.weights
        total = a1 * l_ssim + a2 * l_mse + a3 * l_int + a4 * l_grad
        return LossTerms(total, l_ssim, l_mse, l_int, l_grad)
