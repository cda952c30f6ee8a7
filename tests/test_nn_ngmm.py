"""NGMM (pomai.nn.ngmm): hashing, grouping, group attention against brute force, linear memory."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import pomai.nn.ngmm as ngmm_module
from pomai.config import PoMAIConfig
from pomai.nn.ngmm import (
    KEY_NORM_EPS,
    NGMM,
    cross_polytope_hash,
    group_attention,
    group_windows,
    num_buckets,
)


def dense_attention(q: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Brute force in float64: softmax(q · normalize(q)ᵀ) v, no scale; and the log-sum-exp."""
    q, v = q.double(), v.double()
    keys = q / q.norm(dim=-1, keepdim=True).clamp_min(KEY_NORM_EPS)
    scores = q @ keys.transpose(-2, -1)
    return scores.softmax(dim=-1) @ v, scores.logsumexp(dim=-1)


def ngmm_reference(module: NGMM, x: torch.Tensor) -> torch.Tensor:
    """NGMM when one group covers every pixel: x + dense attention(right(x), left(x))."""
    b, c, h, w = x.shape
    right = module.right(x).flatten(2).transpose(1, 2)
    left = module.left(x).flatten(2).transpose(1, 2)
    attended, _ = dense_attention(right, left)
    return x.double() + attended.transpose(1, 2).reshape(b, c, h, w)


def make_ngmm(width: int = 8, **changes: Any) -> NGMM:
    torch.manual_seed(0)
    config = PoMAIConfig(width=width, heads=1, ca_reduction=1, **changes)
    return NGMM(config).eval()


# -- hashing and buckets ---------------------------------------------------------------------


def test_num_buckets() -> None:
    assert num_buckets(128 * 128, 144, 128) == 114  # 16384 // 144 = 113, made even
    assert num_buckets(480 * 640, 144, 128) == 128  # capped
    assert num_buckets(10, 144, 128) == 2  # floor of 2
    assert num_buckets(5 * 16, 16, 128) == 6  # 5 -> 6 (even)
    for length in range(1, 3000, 37):
        n = num_buckets(length, 16, 64)
        assert n % 2 == 0 and 2 <= n <= 64


def test_cross_polytope_hash_is_nearest_signed_axis_and_scale_invariant() -> None:
    g = torch.Generator().manual_seed(1)
    features = torch.randn(2, 50, 6, generator=g)
    rotations = torch.randn(6, 3, 5, generator=g)
    codes = cross_polytope_hash(features, rotations)
    assert codes.shape == (2, 3, 50) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < 10
    # Brute force: the code is the index of the largest of [xR, -xR].
    for b in range(2):
        for r in range(3):
            for i in range(50):
                rotated = features[b, i] @ rotations[:, r]
                expected = int(torch.cat([rotated, -rotated]).argmax())
                assert int(codes[b, r, i]) == expected
    # Hashes the direction: invariant to a positive rescaling of each feature.
    scale = torch.rand(2, 50, 1, generator=g) * 10 + 0.1
    assert torch.equal(cross_polytope_hash(features * scale, rotations), codes)
    # Antipodal points land in the opposite half of the codes.
    assert torch.equal(cross_polytope_hash(-features, rotations), (codes + 5) % 10)


def test_cross_polytope_hash_breaks_ties_as_argmax_over_both_halves() -> None:
    """Exact ties (integer coordinates) go to the first index of ``[xR, -xR]``."""
    features = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [-1.0, 1.0], [1.0, -1.0], [-2.0, 2.0],
                              [-3.0, 1.0], [0.0, -1.0], [2.0, 2.0]]])
    rotations = torch.eye(2)[:, None, :]  # (C, R, nb/2): one round, the identity
    expected = torch.cat([features, -features], dim=-1).argmax(dim=-1)
    assert torch.equal(cross_polytope_hash(features, rotations)[:, 0], expected)
    assert expected.tolist() == [[0, 0, 1, 0, 1, 2, 3, 0]]


def test_cross_polytope_hash_in_pieces_of_rows_equals_one_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g = torch.Generator().manual_seed(3)
    features = torch.randn(2, 100, 6, generator=g)
    rotations = torch.randn(6, 2, 5, generator=g)
    whole = cross_polytope_hash(features, rotations)
    monkeypatch.setattr(ngmm_module, "HASH_ROWS", 7)
    torch.testing.assert_close(cross_polytope_hash(features, rotations), whole, rtol=0, atol=0)


def test_hash_order_is_a_stable_sort_by_code() -> None:
    module = make_ngmm(group_size=4)
    right = torch.randn(3, 200, 8, generator=torch.Generator().manual_seed(2))
    order = module.hash_order(right)
    half = num_buckets(200, 4, module.max_buckets) // 2
    codes = cross_polytope_hash(right, module.rotations[..., :half])
    assert order.shape == (3, 1, 200)
    for b in range(3):
        perm, code = order[b, 0], codes[b, 0]
        assert sorted(perm.tolist()) == list(range(200))
        sorted_codes = code[perm]
        assert bool((sorted_codes[1:] >= sorted_codes[:-1]).all())
        ties = sorted_codes[1:] == sorted_codes[:-1]
        assert bool((perm[1:][ties] > perm[:-1][ties]).all()), "ties must keep pixel order"


# -- group layout ----------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "k"), [(48, 16), (49, 16), (100, 8), (97, 7), (1000, 144)])
def test_group_windows_layout(length: int, k: int) -> None:
    query_start, key_start = group_windows(length, k)
    groups = math.ceil(length / k)
    assert query_start.shape == key_start.shape == (groups,)
    covered = torch.zeros(length, dtype=torch.bool)
    for m in range(groups):
        q0, k0 = int(query_start[m]), int(key_start[m])
        assert 0 <= q0 and q0 + k <= length  # every group holds K real rows: nothing padded
        assert 0 <= k0 and k0 + 3 * k <= length  # windows shift inwards, never wrap round
        assert k0 <= q0 and q0 + k <= k0 + 3 * k  # a group sees its own rows
        if m < groups - 1:
            assert q0 == m * k
        if 0 < m and q0 + 2 * k <= length and q0 - k >= 0:
            assert k0 == q0 - k  # interior: previous, own and next group
        covered[q0 : q0 + k] = True
    assert bool(covered.all())
    assert int(query_start[-1]) == length - k  # the last group ends at L


# -- group attention against brute force -----------------------------------------------------


@pytest.mark.parametrize(("length", "k"), [(30, 30), (30, 64), (40, 16), (48, 16)])
@pytest.mark.parametrize("with_lse", [False, True])
def test_one_group_equals_dense_attention(length: int, k: int, with_lse: bool) -> None:
    """L <= 3K: every row attends to all L rows (SDPA path and log-sum-exp path)."""
    g = torch.Generator().manual_seed(length + k)
    q = torch.randn(3, length, 8, generator=g)
    v = torch.randn(3, length, 8, generator=g)
    out, lse = group_attention(q, v, k, with_lse=with_lse)
    expected, expected_lse = dense_attention(q, v)
    assert out.shape == (3, length, 8)
    torch.testing.assert_close(out.double(), expected, atol=2e-5, rtol=1e-5)
    if with_lse:
        assert lse is not None
        torch.testing.assert_close(lse.double(), expected_lse, atol=2e-5, rtol=1e-5)
    else:
        assert lse is None


@pytest.mark.parametrize(("length", "k"), [(100, 8), (97, 7), (49, 16), (200, 12)])
@pytest.mark.parametrize("with_lse", [False, True])
def test_several_groups_equal_windowed_brute_force(length: int, k: int, with_lse: bool) -> None:
    """Each row's output is dense attention restricted to its group's key window."""
    g = torch.Generator().manual_seed(length * k)
    q = torch.randn(2, length, 5, generator=g)
    v = torch.randn(2, length, 5, generator=g)
    out, lse = group_attention(q, v, k, with_lse=with_lse)
    query_start, key_start = group_windows(length, k)
    groups = len(query_start)
    windows = []
    for i in range(length):
        # Rows before the last (shifted) group come from group i // K; the tail from the last.
        m = i // k if i < (groups - 1) * k else groups - 1
        assert int(query_start[m]) <= i < int(query_start[m]) + k
        windows.append(torch.arange(int(key_start[m]), int(key_start[m]) + 3 * k))
    rows = torch.stack(windows)  # (L, 3K): the key rows each query row may see
    keys = q.double()[:, rows]  # (N, L, 3K, C)
    keys = keys / keys.norm(dim=-1, keepdim=True).clamp_min(KEY_NORM_EPS)
    scores = torch.einsum("nic,nijc->nij", q.double(), keys)
    expected = torch.einsum("nij,nijc->nic", scores.softmax(-1), v.double()[:, rows])
    torch.testing.assert_close(out.double(), expected, atol=2e-5, rtol=1e-5)
    if with_lse:
        assert lse is not None
        torch.testing.assert_close(lse.double(), scores.logsumexp(-1), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("hash_rounds", [1, 2])
def test_ngmm_with_one_group_equals_dense_attention(hash_rounds: int) -> None:
    """Two identical full groups (rounds 2) merge by log-sum-exp into the same dense result."""
    module = make_ngmm(group_size=64, hash_rounds=hash_rounds)
    x = torch.randn(2, 8, 5, 9, generator=torch.Generator().manual_seed(3))  # L = 45 <= 64
    with torch.no_grad():
        out = module(x)
        expected = ngmm_reference(module, x)
    torch.testing.assert_close(out.double(), expected, atol=2e-5, rtol=1e-5)


def windowed_reference(q: torch.Tensor, v: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
    """Float64 loop over rows: attention of sorted row i over its group's key window."""
    length = q.shape[1]
    query_start, key_start = group_windows(length, k)
    groups = len(query_start)
    outs, lses = [], []
    for i in range(length):
        m = i // k if i < (groups - 1) * k else groups - 1
        window = slice(int(key_start[m]), int(key_start[m]) + 3 * k)
        keys = q[:, window].double()
        keys = keys / keys.norm(dim=-1, keepdim=True).clamp_min(KEY_NORM_EPS)
        scores = torch.einsum("nc,njc->nj", q[:, i].double(), keys)
        outs.append(torch.einsum("nj,njc->nc", scores.softmax(-1), v[:, window].double()))
        lses.append(scores.logsumexp(-1))
    return torch.stack(outs, dim=1), torch.stack(lses, dim=1)


@pytest.mark.parametrize("hash_rounds", [1, 2])
def test_ngmm_with_several_groups_end_to_end(hash_rounds: int) -> None:
    """x + un-sort(windowed attention of the hash-sorted right/left rows), rounds merged by
    the softmax of their log-sum-exp: rebuilt from the hash order alone."""
    module = make_ngmm(group_size=6, hash_rounds=hash_rounds)
    x = torch.randn(2, 8, 7, 9, generator=torch.Generator().manual_seed(13))  # L = 63 > 18
    with torch.no_grad():
        out = module(x)
        right = module.right(x).flatten(2).transpose(1, 2)
        left = module.left(x).flatten(2).transpose(1, 2)
        order = module.hash_order(right)  # (B, R, L)
        merged = torch.zeros(2, 63, 8, dtype=torch.float64)
        for b in range(2):
            round_outs, round_lses = [], []
            for r in range(hash_rounds):
                perm = order[b, r]
                o, lse = windowed_reference(right[b : b + 1, perm], left[b : b + 1, perm], 6)
                unsorted_o, unsorted_lse = torch.empty_like(o[0]), torch.empty_like(lse[0])
                unsorted_o[perm], unsorted_lse[perm] = o[0], lse[0]
                round_outs.append(unsorted_o)
                round_lses.append(unsorted_lse)
            weights = torch.stack(round_lses).softmax(dim=0)  # (R, L)
            merged[b] = (torch.stack(round_outs) * weights[..., None]).sum(dim=0)
        expected = x.double() + merged.transpose(1, 2).reshape(2, 8, 7, 9)
    torch.testing.assert_close(out.double(), expected, atol=2e-5, rtol=1e-5)


def test_flash_kernel_used_without_mask() -> None:
    """Groups need no padding or mask, so float32 SDPA dispatches to the fused CPU kernel."""
    q = torch.randn(1, 100, 8)
    with RecordOps() as ops:
        group_attention(q, q, 8)
    assert "aten._scaled_dot_product_flash_attention_for_cpu.default" in ops.names


# -- sort / un-sort --------------------------------------------------------------------------


def test_scatter_inverse_undoes_the_gather() -> None:
    g = torch.Generator().manual_seed(4)
    order = torch.stack([torch.randperm(97, generator=g) for _ in range(6)]).view(2, 3, 97)
    inverse = torch.empty_like(order)
    inverse.scatter_(-1, order, torch.arange(97).expand_as(order))
    data = torch.randn(2, 3, 97, generator=g)
    assert torch.equal(data.gather(-1, order).gather(-1, inverse), data)
    assert torch.equal(data.gather(-1, inverse).gather(-1, order), data)


@pytest.mark.parametrize("hash_rounds", [1, 2, 3])
def test_sort_then_unsort_is_exact_inverse(
    monkeypatch: pytest.MonkeyPatch, hash_rounds: int
) -> None:
    """With the attention replaced by the identity on values, NGMM(x) = x + left(x) exactly."""

    def identity_attention(
        queries: torch.Tensor, values: torch.Tensor, group_size: int, with_lse: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        assert queries.shape == values.shape
        lse = torch.zeros(values.shape[:2]) if with_lse else None
        return values.clone(), lse

    monkeypatch.setattr(ngmm_module, "group_attention", identity_attention)
    module = make_ngmm(group_size=4, hash_rounds=hash_rounds)
    x = torch.randn(3, 8, 7, 11, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        out, expected = module(x), x + module.left(x)
    if hash_rounds <= 2:  # equal merge weights 1 or 1/2: the merge itself is exact
        assert torch.equal(out, expected)
    else:  # weights 1/3: the merge rounds, the permutations still must not move anything
        torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-6)


# -- permutation (in)variance ----------------------------------------------------------------


def _permute_pixels(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """New pixel p takes old pixel perm[p] (flattened raster order), same spatial shape."""
    b, c, h, w = x.shape
    return x.flatten(2)[:, :, perm].reshape(b, c, h, w)


def test_one_group_is_permutation_equivariant() -> None:
    """Dense attention does not care how pixels are enumerated (up to summation order)."""
    module = make_ngmm(group_size=64)
    x = torch.randn(1, 8, 6, 7, generator=torch.Generator().manual_seed(6))
    perm = torch.randperm(42, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        torch.testing.assert_close(
            module(_permute_pixels(x, perm)), _permute_pixels(module(x), perm),
            atol=1e-5, rtol=1e-5,
        )


def test_several_groups_equivariant_to_bucket_order_preserving_permutations() -> None:
    """With several groups the sorted sequence, hence the result, is unchanged by any
    re-enumeration that keeps the relative order of pixels inside each hash bucket; with ties
    in hash codes a general shuffle changes the groups (NGMM is not a set function then)."""
    module = make_ngmm(group_size=8)
    h, w = 12, 13
    length = h * w
    x = torch.randn(1, 8, h, w, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        right = module.right(x).flatten(2).transpose(1, 2)
        half = num_buckets(length, 8, module.max_buckets) // 2
        codes = cross_polytope_hash(right, module.rotations[..., :half])[0, 0]
        assert len(codes.unique()) < length, "this case must have ties"

        # New positions: a random shuffle, then each bucket's pixels re-assigned to that
        # bucket's new positions in their original relative order.
        shuffled = torch.randperm(length, generator=torch.Generator().manual_seed(9))
        perm = torch.empty(length, dtype=torch.int64)
        for code in codes.unique():
            old = torch.nonzero(codes == code)[:, 0]  # ascending
            new = torch.sort(shuffled[old]).values
            perm[new] = old
        out = module(x)
        torch.testing.assert_close(
            module(_permute_pixels(x, perm)), _permute_pixels(out, perm), atol=1e-5, rtol=1e-5
        )

        # Example (not a theorem): a general shuffle regroups tied pixels and changes outputs.
        generic = torch.randperm(length, generator=torch.Generator().manual_seed(10))
        difference = (module(_permute_pixels(x, generic)) - _permute_pixels(out, generic)).abs()
        assert float(difference.max()) > 1e-3


# -- memory ----------------------------------------------------------------------------------


class RecordOps(TorchDispatchMode):
    """Records every aten op called and the largest tensor any op returns."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.max_numel = 0
        self.max_shape: tuple[int, ...] = ()

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        self.names.add(str(func))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor) and t.numel() > self.max_numel:
                self.max_numel, self.max_shape = t.numel(), tuple(t.shape)
        return out


@pytest.mark.parametrize("hash_rounds", [1, 2])
def test_ngmm_never_materialises_an_l_by_l_tensor(hash_rounds: int) -> None:
    """96×96 map (L = 9216), K = 16: the largest tensor is O(L·max(3K, buckets, C))."""
    module = make_ngmm(width=4, group_size=16, hash_rounds=hash_rounds)
    x = torch.randn(1, 4, 96, 96)
    length = 96 * 96
    with torch.no_grad(), RecordOps() as ops:
        module(x)
    linear_bound = hash_rounds * length * max(3 * 16, module.max_buckets, 4)
    assert ops.max_numel <= linear_bound, ops.max_shape
    assert ops.max_numel * 20 < length * length


@pytest.mark.parametrize("with_lse", [False, True])
def test_group_attention_memory_is_linear_in_length(with_lse: bool) -> None:
    """L = 10 000, K = 8: dense attention would need 10^8 scores; grouped needs L·3K."""
    maxima = []
    for length in (5_000, 10_000):
        q = torch.randn(1, length, 4)
        with torch.no_grad(), RecordOps() as ops:
            out, _ = group_attention(q, q, 8, with_lse=with_lse)
        assert out.shape == (1, length, 4)
        assert ops.max_numel <= length * 3 * 8 * 4, ops.max_shape
        maxima.append(ops.max_numel)
    assert maxima[1] <= 2.1 * maxima[0]  # doubling L at most doubles the largest tensor


# -- determinism and rotations ---------------------------------------------------------------


def test_rotations_are_a_seeded_persistent_buffer() -> None:
    module = make_ngmm(group_size=8, hash_rounds=2, rotation_seed=3)
    state = module.state_dict()
    assert "rotations" in state and "rotations" not in dict(module.named_parameters())
    assert state["rotations"].shape == (8, 2, module.max_buckets // 2)
    assert torch.equal(make_ngmm(group_size=8, hash_rounds=2, rotation_seed=3).rotations,
                       module.rotations)
    assert not torch.equal(make_ngmm(group_size=8, hash_rounds=2, rotation_seed=4).rotations,
                           module.rotations)
    # The rotations do not depend on the global RNG state at construction.
    torch.manual_seed(123)
    again = NGMM(PoMAIConfig(width=8, heads=1, ca_reduction=1, group_size=8, hash_rounds=2,
                             rotation_seed=3))
    assert torch.equal(again.rotations, module.rotations)


def test_eval_is_deterministic_and_train_resampling_is_not() -> None:
    x = torch.randn(2, 8, 9, 10, generator=torch.Generator().manual_seed(11))
    module = make_ngmm(group_size=6, resample_rotations_in_train=True)
    with torch.no_grad():
        first = module(x)
        assert torch.equal(module(x), first)
        module.train()
        # Fresh rotations on every training forward change the groups, hence the output.
        assert not torch.equal(module(x), module(x))
    fixed = make_ngmm(group_size=6).train()
    with torch.no_grad():
        assert torch.equal(fixed(x), fixed(x))


def test_shapes_odd_sizes_and_batch_elements_are_independent() -> None:
    module = make_ngmm(group_size=16)
    x = torch.randn(3, 8, 37, 53, generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        out = module(x)
        assert out.shape == x.shape
        # Each image is hashed and grouped on its own: batching does not mix images.
        torch.testing.assert_close(module(x[1:2]), out[1:2], atol=1e-6, rtol=1e-6)


def test_gradients_flow_to_both_branches_but_not_through_the_hash() -> None:
    module = make_ngmm(group_size=8).train()
    x = torch.randn(1, 8, 8, 9, requires_grad=True)
    module(x).square().mean().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().gt(0).any()), name
    assert x.grad is not None
