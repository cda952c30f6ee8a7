"""Restormer transformer block (Zamir et al., 2022): MDTA channel attention + gated FFN."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pomai.nn.layernorm import ChannelLayerNorm


class MDTA(nn.Module):
    """Multi-Dconv-head transposed attention: attention across channels, linear in pixels.

    ``q, k, v = DW3x3(Conv1x1(x))``; per head ``A = softmax(norm(q) norm(k)^T * tau)``
    of size (C/h, C/h); ``out = Conv1x1(A v)``. Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(
            channels * 3, channels * 3, 3, padding=1, groups=channels * 3, bias=bias
        )
        self.project_out = nn.Conv2d(channels, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv_dwconv(self.qkv(x))
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in qkv.chunk(3, dim=1))
        if q.dtype == torch.float16:  # sums over all pixels overflow float16's range
            q, k = q.float(), k.float()
        # norm(q) norm(k)^T == (q k^T) / (|q| |k|^T): the norms come from the diagonals of two
        # more small Gram matrices instead of normalised copies of q and k (fewer memory passes).
        q_norm = _row_norms(q)
        k_norm = _row_norms(k)
        scores = (q @ k.transpose(-2, -1)) / (q_norm[..., :, None] * k_norm[..., None, :])
        attn = (scores * self.temperature).softmax(dim=-1).to(v.dtype)
        return self.project_out((attn @ v).reshape(b, c, h, w))


def _row_norms(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(..., n, L) -> (..., n) L2 norms of the rows, clamped below at ``eps`` (as F.normalize)."""
    return (x @ x.transpose(-2, -1)).diagonal(dim1=-2, dim2=-1).clamp_min(0).sqrt().clamp_min(eps)


class GDFN(nn.Module):
    """Gated-Dconv feed-forward: ``Conv1x1(GELU(a) * g)`` with ``a, g = DW3x3(Conv1x1(x))``.

    Shapes: (B, C, H, W) -> (B, C, H, W); hidden width ``int(C * expansion)``.
    """

    def __init__(self, channels: int, expansion: float, bias: bool) -> None:
        super().__init__()
        hidden = int(channels * expansion)
        self.project_in = nn.Conv2d(channels, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, g = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(a) * g)


class RestormerBlock(nn.Module):
    """Pre-norm block: ``x + MDTA(LN(x))`` then ``x + GDFN(LN(x))``. (B, C, H, W) -> same."""

    def __init__(self, channels: int, heads: int, ffn_expansion: float, bias: bool) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(channels)
        self.attn = MDTA(channels, heads, bias)
        self.norm2 = ChannelLayerNorm(channels)
        self.ffn = GDFN(channels, ffn_expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))
