"""pomai.nn.image_statistics: tiles recorded over owned regions give the image's reductions."""

from __future__ import annotations

import pytest
import torch

from pomai.nn.image_statistics import ImageStatistics, reduce_pixels
from pomai.nn.micm import ChannelAttention
from pomai.nn.restormer import MDTA
from pomai.tiling import sliding_window

SIZE, TILE, OVERLAP = 40, 24, 0.25


def _record(layer: torch.nn.Module, x: torch.Tensor, passes: int = 1) -> ImageStatistics:
    """The recording passes of tiled inference over ``x`` (B, C, SIZE, SIZE)."""
    statistics = ImageStatistics(recording_passes=passes)
    sliding_window(layer, x, TILE, overlap=OVERLAP, statistics=statistics)
    return statistics


@torch.no_grad()
def test_replayed_mdta_attention_is_the_whole_image_one() -> None:
    """The first image-wide layer: replayed totals are exact, so a window's output equals the
    whole-image output there (but for the 1 px its 3×3 depth-wise convolution pads)."""
    torch.manual_seed(0)
    mdta = MDTA(8, 2, bias=False).eval()
    x = torch.randn(2, 8, SIZE, SIZE)
    whole = mdta(x)
    window = (..., slice(8, 8 + TILE), slice(8, 8 + TILE))
    inner = (..., slice(1, -1), slice(1, -1))
    statistics = _record(mdta, x)
    with statistics.replaying():
        replayed = mdta(x[window])
    torch.testing.assert_close(replayed[inner], whole[window][inner], rtol=1e-4, atol=1e-5)
    own = mdta(x[window])  # the tile's own statistics: visibly different
    assert float((own[inner] - whole[window][inner]).abs().max()) > 1e-2


@torch.no_grad()
def test_a_second_recording_pass_makes_the_next_layer_exact() -> None:
    """Two MDTA layers: the second one's totals come from the first one's output, which the
    first recording pass computed with tile statistics (approximate) and the second with the
    image's (exact on owned pixels, 3 px from any window edge: more than the 2 px halo)."""
    torch.manual_seed(0)
    layers = torch.nn.Sequential(MDTA(8, 2, bias=False), MDTA(8, 2, bias=False)).eval()
    x = torch.randn(1, 8, SIZE, SIZE)
    whole = layers(x)
    window = (..., slice(16, 16 + TILE), slice(0, TILE))
    inner = (..., slice(2, -2), slice(2, -2))
    error = {}
    for passes in (1, 2):
        statistics = _record(layers, x, passes)
        with statistics.replaying():
            error[passes] = float((layers(x[window])[inner] - whole[window][inner]).abs().max())
    assert error[2] < 1e-6 and error[1] > 1e-5  # measured 2.2e-8 and 1.4e-4


@torch.no_grad()
def test_replayed_channel_gate_pools_the_whole_image() -> None:
    torch.manual_seed(0)
    gate = ChannelAttention(8, 2).eval()
    x = torch.randn(2, 8, SIZE, SIZE)
    x[0, 3, 35, 2] = 9.0  # a maximum outside the replayed window
    window = (..., slice(0, TILE), slice(8, 8 + TILE))
    statistics = _record(gate, x)
    with statistics.replaying():
        replayed = gate(x[window])
    torch.testing.assert_close(replayed, gate(x)[window], rtol=1e-5, atol=1e-6)


def test_reductions_are_plain_outside_tiled_inference_and_replay_needs_a_recording() -> None:
    layer = torch.nn.Identity()
    x = torch.randn(2, 3, 5, 7)
    (total,) = reduce_pixels(layer, x, lambda t: (t.sum(-1),), ("sum",))
    torch.testing.assert_close(total, x.sum(dim=(2, 3)))
    with pytest.raises(RuntimeError, match="recording pass"), ImageStatistics().replaying():
        pass
