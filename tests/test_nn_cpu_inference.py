"""CPU inference in blocks of rows (pomai.nn.cpu_inference); the layers that use it are tested
against their whole-image results in their own tests."""

from __future__ import annotations

import torch

from pomai.nn.cpu_inference import blocked_inference, in_row_blocks, row_blocks, whole_image


def test_row_blocks_own_every_row_once_and_read_their_halo() -> None:
    x = torch.zeros(2, 3, 11, 4)
    blocks = list(row_blocks(x, halo=2, pixels=12))  # 3 rows of 4 pixels each
    for image in range(2):
        owned = [(b.top, b.bottom) for b in blocks if b.image == image]
        assert owned == [(0, 3), (3, 6), (6, 9), (9, 11)]
    reads = [(b.first, b.last) for b in blocks if b.image == 0]
    assert reads == [(0, 5), (1, 8), (4, 11), (7, 11)]


def test_in_row_blocks_equals_the_layer_on_the_whole_image() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 3, 5, padding=2).double()
    x = torch.randn(2, 3, 13, 6, dtype=torch.float64)
    torch.testing.assert_close(in_row_blocks(conv, x, halo=2, pixels=4 * 6), conv(x))


def test_blocked_only_in_eager_cpu_inference() -> None:
    x = torch.zeros(1, 1, 2, 2)
    assert not blocked_inference(x)  # autograd on
    with torch.no_grad():
        assert blocked_inference(x)
        assert not blocked_inference(torch.zeros(1, 1, 2, 2, device="meta"))
        with whole_image():
            assert not blocked_inference(x)
        assert blocked_inference(x)
