"""Restormer transformer block (Zamir et al., 2022): MDTA channel attention + gated FFN."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pomai.nn.image_statistics import reduce_pixels
from pomai.nn.layernorm import ChannelLayerNorm

NORM_EPS = 1e-12
# Pixels per partial product of MDTA's Gram matrices on CUDA (see pixel_gram).
GRAM_CHUNK = 4096
# True while torch.export traces (pomai.export); PyTorch < 2.6 has no such flag and no export.
is_exporting = getattr(torch.compiler, "is_exporting", lambda: False)


def pixel_gram(a: torch.Tensor, b: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """(..., c, L) and (..., d, L) -> (..., c, d): ``a @ b^T``, a sum over the L pixels.

    With ``chunk``, the sum is taken as products over ``chunk`` pixels at a time, added up.
    On a GPU one (c, L) x (L, d) product with small c and d leaves the device nearly idle:
    cuBLAS gives the whole L-long reduction to a few thread blocks; the chunks run in
    parallel.
    """
    length = a.shape[-1]
    if chunk is None or length < 2 * chunk:
        return a @ b.transpose(-2, -1)
    whole = length // chunk * chunk
    a_blocks, b_blocks = (t[..., :whole].unflatten(-1, (-1, chunk)).transpose(-3, -2)
                          for t in (a, b))  # (n, L // chunk, c, chunk)
    gram = (a_blocks @ b_blocks.transpose(-2, -1)).sum(-3)
    if whole < length:
        gram = gram + a[..., whole:] @ b[..., whole:].transpose(-2, -1)
    return gram


class MDTA(nn.Module):
    """Multi-Dconv-head transposed attention: attention across channels, linear in pixels.

    ``q, k, v = DW3x3(Conv1x1(x))``; per head ``A = softmax(norm(q) norm(k)^T * tau)``
    of size (C/h, C/h); ``out = Conv1x1(A v)``. Shapes: (B, C, H, W) -> (B, C, H, W).
    The sums over pixels behind ``A`` go through :func:`reduce_pixels`, so tiled inference
    can use the whole image's (:mod:`pomai.nn.image_statistics`).
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
        gram, q_squared, k_squared = reduce_pixels(
            self, qkv, self._query_key_sums, ("sum", "sum", "sum")
        )
        # norm(q) norm(k)^T == (q k^T) / (|q| |k|^T), as F.normalize with eps 1e-12.
        q_norm = q_squared.clamp_min(0).sqrt().clamp_min(NORM_EPS)
        k_norm = k_squared.clamp_min(0).sqrt().clamp_min(NORM_EPS)
        scores = gram / (q_norm[..., :, None] * k_norm[..., None, :])
        attn = (scores * self.temperature).softmax(dim=-1).to(qkv.dtype)  # (B, h, C/h, C/h)
        if is_exporting():  # batched: one exported graph for every batch size
            out = attn @ qkv.flatten(2).unflatten(1, (3, self.heads, -1))[:, 2]
        else:
            out = torch.stack([a @ self._split(sample.flatten(1))[2]
                               for a, sample in zip(attn.unbind(0), qkv.unbind(0), strict=True)])
        return self.project_out(out.reshape(b, c, h, w))

    def _split(self, sample: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(3C, L) one sample's qkv -> q, k, v, each (h, C/h, L), as views."""
        return sample.reshape(3, self.heads, -1, sample.shape[-1]).unbind(0)

    def _query_key_sums(
        self, qkv: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3C, L) -> per head q k^T (B, h, C/h, C/h) and squared row norms of q and k.

        One Gram matrix of the stacked ``[q; k]`` (2C, L) per sample gives all three: the
        heads' q k^T blocks lie on the diagonal of its q-k block, the squared norms on its
        diagonal. It computes cross-head products nobody needs, but reads q and k once instead
        of three products per head, which is much faster. Products run per sample: q, k and v
        are channel slices of one tensor, so a batched matmul would first copy them to merge
        the batch dimensions. ``unbind`` and ``split`` give views whose backward concatenates
        the gradients once, where indexing would allocate a full-size zero gradient per slice.
        """
        c = qkv.shape[1] // 3
        per_head = c // self.heads
        chunk = GRAM_CHUNK if qkv.is_cuda else None
        if is_exporting():  # batched: one exported graph for every batch size
            query_key = qkv[:, : 2 * c]
            full = pixel_gram(query_key, query_key)
        else:
            grams = []
            for sample in qkv.unbind(0):
                query_key = sample.split((2 * c, c))[0]
                if query_key.dtype == torch.float16:  # sums over all pixels overflow float16
                    query_key = query_key.float()
                grams.append(pixel_gram(query_key, query_key, chunk))
            full = torch.stack(grams)  # (B, 2C, 2C)
        # (B, h, C/h, h, C/h) -> the heads' own blocks (B, C/h, C/h, h) -> (B, h, C/h, C/h)
        heads = (self.heads, per_head)
        cross = full[:, :c, c:].unflatten(2, heads).unflatten(1, heads)
        gram = cross.diagonal(dim1=1, dim2=3).permute(0, 3, 1, 2)
        squared = full.diagonal(dim1=1, dim2=2).unflatten(-1, (2, self.heads, per_head))
        return gram, squared[:, 0], squared[:, 1]


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
