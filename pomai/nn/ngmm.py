"""Neighbor-Group Matching Model, NGMM (paper §3.3): hashing (HFN) + group attention (GAM).

Pixels of the infrared feature map are hashed with spherical (cross-polytope) LSH, stably sorted
by hash code, cut into groups of K, and each group attends to itself and its neighbouring groups.
Time and memory are O(L·K) for L pixels: no L×L matrix is ever formed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pomai.config import PoMAIConfig
from pomai.nn.cpu_inference import blocked_inference

KEY_NORM_EPS = 5e-5
# Pixels hashed at a time on the CPU (see cross_polytope_hash).
HASH_ROWS = 2**15


def num_buckets(length: int, group_size: int, max_buckets: int) -> int:
    """Hash buckets for ``length`` pixels: about L/K, even, in ``[2, max_buckets]`` (NLSA).

    ``torch.sym_min`` / ``sym_max`` are the builtins for ints and stay symbolic for the sizes
    of ``torch.export``, so an exported graph computes the count for each input size.
    """
    n = length // group_size
    return torch.sym_max(2, torch.sym_min(n + n % 2, max_buckets))


def cross_polytope_hash(features: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Spherical LSH codes (Andoni et al., 2015).

    Each feature is rotated and assigned the nearest signed axis: ``argmax([xR, -xR])``.
    The argmax is invariant to the feature's norm, so this hashes its direction on the sphere.

    Args:
        features: (B, L, C).
        rotations: (C, R, nb/2) random rotations, one set per hashing round.
    Returns:
        (B, R, L) int64 codes in ``[0, nb)``.
    """
    length = features.shape[1]
    if length > HASH_ROWS and blocked_inference(features):
        # In pieces of rows: the rotated coordinates of a whole image are a large temporary.
        return torch.cat([cross_polytope_hash(piece, rotations)
                          for piece in features.split(HASH_ROWS, dim=1)], dim=-1)
    rotated = torch.einsum("blc,crh->brlh", features, rotations)
    # argmax([xR, -xR]) without building it: the largest coordinate, or the most negative one
    # when its magnitude is larger. Ties go to the first index, as argmax does: the positive
    # half, and within a half the lower coordinate.
    largest, positive = rotated.max(dim=-1)
    smallest, negative = rotated.min(dim=-1)
    return torch.where(-smallest > largest, negative + rotated.shape[-1], positive)


def group_windows(
    length: int, group_size: int, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start rows of the query groups and of their key windows, for ``length`` sorted rows.

    Query group m covers rows ``[q_m, q_m + K)`` with ``q_m = min(m·K, L − K)``: the last group is
    shifted back to end at row L, so every group holds K real rows and nothing is padded. Its key
    window covers the previous, own and next group, ``[k_m, k_m + 3K)`` with
    ``k_m = clamp(q_m − K, 0, L − 3K)``: at either end the window shifts inwards instead of
    wrapping round. Requires ``L >= 3K``. Returns two (M,) int64 tensors, M = ceil(L / K).
    """
    k = group_size
    groups = (length + k - 1) // k  # ceil(L / K) in integers, symbolic under torch.export
    query_start = (torch.arange(groups, device=device) * k).clamp(max=length - k)
    key_start = (query_start - k).clamp(0, length - 3 * k)
    return query_start, key_start


# Eager even inside torch.compile: inductor (torch 2.13) fails to lower this function's gathers
# of rows that NGMM has gathered already ("vr must not be None") for batches of more than one.
@torch.compiler.disable
def group_attention(
    queries: torch.Tensor, values: torch.Tensor, group_size: int, with_lse: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """GAM: each group of K consecutive rows attends to its own and its two neighbouring groups.

    Scores are ``<q_i, q_j / |q_j|>`` (raw query, L2-normalised key, no scale, as in NLSA).
    When ``L <= 3K`` every row attends to all L rows, which is dense attention. Group layout:
    :func:`group_windows`.

    Args:
        queries: (N, L, C) rows already in hash order; they serve as keys too.
        values: (N, L, C) in the same order.
        group_size: K.
        with_lse: also return the log-sum-exp of each row's scores, for merging hash rounds.
    Returns:
        (N, L, C) outputs in the input order, and (N, L) log-sum-exp or None.
    """
    length, k = queries.shape[1], group_size
    keys = F.normalize(queries, dim=-1, eps=KEY_NORM_EPS)
    if length <= 3 * k:
        q, key, v = queries[:, None], keys[:, None], values[:, None]
    else:
        # Built on the device: a host-to-device copy would synchronise every forward on CUDA.
        device = queries.device
        query_start, key_start = group_windows(length, k, device)
        query_rows = (query_start[:, None] + torch.arange(k, device=device)).flatten()
        key_rows = (key_start[:, None] + torch.arange(3 * k, device=device)).flatten()
        n, d, groups = queries.shape[0], queries.shape[-1], query_start.shape[0]
        q = queries.index_select(1, query_rows).view(n, groups, k, d)
        key = keys.index_select(1, key_rows).view(n, groups, 3 * k, d)
        v = values.index_select(1, key_rows).view(n, groups, 3 * k, values.shape[-1])
    if with_lse:
        scores = q @ key.transpose(-2, -1)
        lse = scores.logsumexp(dim=-1, keepdim=True)
        out = torch.exp(scores - lse) @ v
        return _ungroup(out, length), _ungroup(lse, length)[..., 0]
    # No mask and equal head sizes: PyTorch can use its fused (flash) CPU and GPU kernels.
    return _ungroup(F.scaled_dot_product_attention(q, key, v, scale=1.0), length), None


def _ungroup(grouped: torch.Tensor, length: int) -> torch.Tensor:
    """(N, M, K, D) per-group rows -> (N, L, D); the shifted last group supplies the tail."""
    n, groups, k, d = grouped.shape
    if groups == 1:
        return grouped[:, 0, :length]
    head = grouped[:, :-1].reshape(n, (groups - 1) * k, d)
    tail = grouped[:, -1, k - (length - (groups - 1) * k) :]
    return torch.cat([head, tail], dim=1)


class NGMM(nn.Module):
    """HFN + GAM with a residual: ``x_ngmm = x_enc + GAM(group(left), group(right))``.

    The right 1×1 branch is hashed and provides queries and keys; the left 1×1 branch provides
    the values. Both are grouped with the same index map. With several hashing rounds the round
    outputs are merged by the softmax of their log-sum-exp (attention over the union of keys).

    The random rotations are a persistent buffer drawn from ``config.rotation_seed``, so eval-mode
    outputs are deterministic and travel with the weights.

    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, config: PoMAIConfig) -> None:
        super().__init__()
        c = config.width
        self.group_size = config.group_size
        self.hash_rounds = config.hash_rounds
        self.max_buckets = config.max_buckets
        self.resample_in_train = config.resample_rotations_in_train
        self.left = nn.Conv2d(c, c, 1)
        self.right = nn.Conv2d(c, c, 1)
        generator = torch.Generator().manual_seed(config.rotation_seed)
        rotations = torch.randn(
            c, config.hash_rounds, config.max_buckets // 2, generator=generator
        )
        self.register_buffer("rotations", rotations)

    def hash_order(self, right: torch.Tensor) -> torch.Tensor:
        """(B, L, C) hashed features -> (B, R, L) permutation sorting each round by hash code."""
        half = num_buckets(right.shape[1], self.group_size, self.max_buckets) // 2
        if self.training and self.resample_in_train:
            rotations = torch.randn_like(self.rotations[..., :half])
        else:
            rotations = self.rotations[..., :half]
        # In float32 whatever the network's dtype: in half precision many rotated
        # coordinates tie, and ties all go to the lower code.
        codes = cross_polytope_hash(right.detach().float(), rotations.float())
        return torch.sort(codes, dim=-1, stable=True).indices

    def forward(self, x_enc: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x_enc.shape
        length, rounds = h * w, self.hash_rounds
        right = self.right(x_enc).flatten(2).transpose(1, 2)  # (B, L, C)
        left = self.left(x_enc).flatten(2).transpose(1, 2)
        order = self.hash_order(right)  # (B, R, L)

        # Sort: one flat index per (batch, round, sorted position) into the (B·L, C) pixel rows.
        batch_offset = torch.arange(b, device=order.device)[:, None, None] * length
        gather = (order + batch_offset).reshape(-1)
        q = right.reshape(b * length, c).index_select(0, gather).view(b * rounds, length, c)
        v = left.reshape(b * length, c).index_select(0, gather).view(b * rounds, length, c)
        out, lse = group_attention(q, v, self.group_size, with_lse=rounds > 1)

        # Un-sort: the inverse permutation of each round, built by a scatter (no second sort).
        inverse = torch.empty_like(order)
        inverse.scatter_(-1, order, torch.arange(length, device=order.device).expand_as(order))
        row_offset = torch.arange(b * rounds, device=order.device).view(b, rounds, 1) * length
        scatter_back = (inverse + row_offset).reshape(-1)
        out = out.reshape(b * rounds * length, c).index_select(0, scatter_back)
        out = out.view(b, rounds, length, c)
        if rounds == 1:
            attended = out[:, 0]
        else:
            weights = lse.reshape(-1).index_select(0, scatter_back).view(b, rounds, length)
            weights = torch.softmax(weights, dim=1)
            attended = (out * weights[..., None]).sum(dim=1)
        return x_enc + attended.transpose(1, 2).reshape(b, c, h, w)
