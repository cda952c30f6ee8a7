"""pomai.normalization: the per-image min-max stretch of the fused luminance."""

from __future__ import annotations

import pytest
import torch

from pomai.normalization import check_normalize, normalize_luminance


def test_minmax_stretches_each_image_by_hand() -> None:
    fused = torch.tensor([[[[0.2, 0.4], [0.6, 0.2]]], [[[0.5, 0.5], [0.25, 0.75]]]])
    out = normalize_luminance(fused, "minmax")
    assert torch.allclose(out[0, 0], torch.tensor([[0.0, 0.5], [1.0, 0.0]]))
    assert torch.allclose(out[1, 0], torch.tensor([[0.5, 0.5], [0.0, 1.0]]))


def test_a_constant_image_is_left_as_it_is() -> None:
    fused = torch.cat([torch.full((1, 1, 3, 3), 0.3), torch.rand(1, 1, 3, 3)])
    out = normalize_luminance(fused, "minmax")
    assert torch.equal(out[0], fused[0]) and float(out[1].max()) == pytest.approx(1.0)


def test_none_returns_the_input() -> None:
    fused = torch.rand(1, 1, 4, 4)
    assert normalize_luminance(fused, "none") is fused


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="normalize must be one of 'minmax', 'none', got 'x'"):
        check_normalize("x")
