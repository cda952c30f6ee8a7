"""Restormer transformer block (Zamir et al., 2022): MDTA channel attention + gated FFN."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from pomai.nn.cpu_inference import (
    BLOCK_PIXELS,
    blocked_inference,
    blocked_sums,
    in_row_blocks,
    row_blocks,
)
from pomai.nn.image_statistics import reduce_pixels
from pomai.nn.layernorm import ChannelLayerNorm

NORM_EPS = 1e-12
# Pixels per partial product of MDTA's Gram matrices on CUDA (see pixel_gram).
GRAM_CHUNK = 4096


def pixel_gram(a: torch.Tensor, b: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """(..., c, L) and (..., d, L) -> (..., c, d): ``a @ b^T``, a sum over the L pixels.

    With ``chunk``, the sum is taken as products over ``chunk`` pixels at a time, added up.
    On a GPU one (c, L) x (L, d) product with small c and d leaves the device nearly idle:
    cuBLAS gives the whole L-long reduction to a few thread blocks; the chunks run in
    parallel.
    """
    length = a.shape[-1]
    if chunk is None or length < 2 * chunk:
        if a.dim() == 3 and a.shape[0] == 1:
            # A batch of one as a plain product: on the CPU a bfloat16 batched product copies
            # these transposed (channels-last) operands first and takes six times as long.
            return (a[0] @ b[0].transpose(-2, -1))[None]
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
        if blocked_sums(x):
            value, sums = self.value_and_sums_in_blocks(x)
        else:
            value = self._value(x)
            sums = reduce_pixels(
                self, self._query_key(x), self._query_key_sums, ("sum", "sum", "sum")
            )
        return self.mix(self.mixing(sums, x.dtype), value)

    def mixing(
        self, sums: tuple[torch.Tensor, torch.Tensor, torch.Tensor], dtype: torch.dtype
    ) -> torch.Tensor:
        """The attention and output projection as one (C, C) matrix per image, ``W_out A``.

        ``Conv1x1(A v) == (W_out A) v`` with ``A`` block-diagonal over the heads.
        Args:
            sums: :meth:`_query_key_sums`' per-head ``q k^T`` and squared norms of q and k.
            dtype: the network's.
        Returns:
            (B, C, C).
        """
        gram, q_squared, k_squared = sums
        # norm(q) norm(k)^T == (q k^T) / (|q| |k|^T), as F.normalize with eps 1e-12.
        q_norm = q_squared.clamp_min(0).sqrt().clamp_min(NORM_EPS)
        k_norm = k_squared.clamp_min(0).sqrt().clamp_min(NORM_EPS)
        scores = gram / (q_norm[..., :, None] * k_norm[..., None, :])
        attn = (scores * self.temperature).softmax(dim=-1).to(dtype)  # (B, h, C/h, C/h)
        b, c = attn.shape[0], self.project_out.out_channels
        weight = self.project_out.weight.view(c, self.heads, c // self.heads)  # (C, h, C/h)
        return torch.einsum("ohi,bhij->bohj", weight, attn).reshape(b, c, c)

    def mix(self, mixing: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """(B, C, C) :meth:`mixing` applied to values (B, C, H, W), plus the projection's bias.

        Returns (B, C, H, W) in ``value``'s memory format.
        """
        h, w = value.shape[-2:]
        pixels = value.flatten(2)  # (B, C, L)
        if value.is_contiguous(memory_format=torch.channels_last):
            out = (pixels.transpose(1, 2) @ mixing.transpose(1, 2)).transpose(1, 2)
        else:
            out = mixing @ pixels
        if self.project_out.bias is not None:
            out = out + self.project_out.bias[:, None]
        return out.unflatten(2, (h, w))

    def value_and_sums_in_blocks(
        self,
        x: torch.Tensor,
        norm: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Values and :meth:`_query_key_sums` of ``norm(x)`` (B, C, H, W), one
        :func:`row_blocks` block at a time (``norm``: a per-pixel layer, or None).

        Neither the normalised input nor the queries and keys exist for the whole image; the
        Gram matrices are summed over the blocks in float32.
        """
        b, c = x.shape[:2]
        value = torch.empty_like(x)
        full = torch.zeros(b, 2 * c, 2 * c, device=x.device, dtype=torch.float32)
        for block in row_blocks(x, halo=1, pixels=BLOCK_PIXELS):
            rows = block.read(x) if norm is None else norm(block.read(x))
            block.write(value, self._value(rows))
            query_key = block.owned(self._query_key(rows)).flatten(2)  # (1, 2C, pixels)
            full[block.image] += pixel_gram(query_key, query_key)[0].float()
        return value, self._split_gram(full)

    def _query_key(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> queries stacked on keys, (B, 2C, H, W), a dense tensor of its own."""
        c = x.shape[1]
        return pointwise_depthwise(x, self.qkv, self.qkv_dwconv, slice(0, 2 * c))

    def _value(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> values (B, C, H, W), a dense tensor of their own."""
        c = x.shape[1]
        return pointwise_depthwise(x, self.qkv, self.qkv_dwconv, slice(2 * c, 3 * c))

    def _query_key_sums(
        self, query_key: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 2C, L) -> per head q k^T (B, h, C/h, C/h) and squared row norms of q and k.

        One Gram matrix of the stacked ``[q; k]`` (2C, L) per sample gives all three: the
        heads' q k^T blocks lie on the diagonal of its q-k block, the squared norms on its
        diagonal. It computes cross-head products nobody needs, but reads q and k once instead
        of three products per head, which is much faster.
        """
        if query_key.dtype == torch.float16:  # sums over all pixels overflow float16
            query_key = query_key.float()
        chunk = GRAM_CHUNK if query_key.is_cuda else None
        return self._split_gram(pixel_gram(query_key, query_key, chunk))

    def _split_gram(
        self, full: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 2C, 2C) Gram matrix of ``[q; k]`` -> :meth:`_query_key_sums`' three results."""
        c = full.shape[1] // 2
        per_head = c // self.heads
        # (B, h, C/h, h, C/h) -> the heads' own blocks (B, C/h, C/h, h) -> (B, h, C/h, C/h)
        heads = (self.heads, per_head)
        cross = full[:, :c, c:].unflatten(2, heads).unflatten(1, heads)
        gram = cross.diagonal(dim1=1, dim2=3).permute(0, 3, 1, 2)
        squared = full.diagonal(dim1=1, dim2=2).unflatten(-1, (2, self.heads, per_head))
        return gram, squared[:, 0], squared[:, 1]


def pointwise_depthwise(
    x: torch.Tensor, pointwise: nn.Conv2d, depthwise: nn.Conv2d, channels: slice
) -> torch.Tensor:
    """Output ``channels`` of ``depthwise(pointwise(x))``, from those channels' weights only.

    (B, C, H, W) -> (B, len(channels), H, W). The depth-wise convolution treats every channel
    alone, so this equals slicing the whole output, but the result is a dense tensor: a
    channel slice of a channels-last tensor is strided, and element-wise kernels and matrix
    products on such views are many times slower on the CPU (GELU in bfloat16 over twenty
    times), or copy it first.
    """
    bias = pointwise.bias[channels] if pointwise.bias is not None else None
    y = F.conv2d(x, pointwise.weight[channels], bias)
    bias = depthwise.bias[channels] if depthwise.bias is not None else None
    return F.conv2d(y, depthwise.weight[channels], bias, padding=depthwise.padding,
                    dilation=depthwise.dilation, groups=y.shape[1])


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
        if blocked_inference(x):
            return in_row_blocks(self.feed_forward, x, halo=1, pixels=BLOCK_PIXELS)
        return self.feed_forward(x)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The whole-image computation of :meth:`forward`. (B, C, H, W) -> same."""
        hidden = self.project_out.in_channels
        a, g = (pointwise_depthwise(x, self.project_in, self.dwconv, slice(i, i + hidden))
                for i in (0, hidden))
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
        if blocked_sums(x):
            return self._forward_in_blocks(x)
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))

    def _forward_in_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """The block in two passes over :func:`row_blocks`: the attention's values and sums,
        then everything else per block; only x, the values and the output are whole maps."""
        value, sums = self.attn.value_and_sums_in_blocks(x, self.norm1)
        mixing = self.attn.mixing(sums, x.dtype)
        out = torch.empty_like(x)
        for block in row_blocks(x, halo=1, pixels=BLOCK_PIXELS):
            image = slice(block.image, block.image + 1)
            y = block.read(x) + self.attn.mix(mixing[image], block.read(value))
            block.write(out, y + self.ffn.feed_forward(self.norm2(y)))
        return out
