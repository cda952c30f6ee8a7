"""MICM (pomai.nn.micm): CBAM-style FPM and the gated feature fusion of Eq. 6–11."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pomai.config import PoMAIConfig
from pomai.nn.micm import MICM, ChannelAttention, SpatialAttention


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_channel_attention_formula(
    device: torch.device, dtype: torch.dtype, tolerance: dict
) -> None:
    torch.manual_seed(0)
    ca = ChannelAttention(8, reduction=2).to(device, dtype)
    x = torch.randn(3, 8, 5, 6, device=device, dtype=dtype)
    avg = ca.mlp(x.mean(dim=(2, 3), keepdim=True))
    mx = ca.mlp(x.amax(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(ca(x), x * torch.sigmoid(avg + mx), **tolerance)
    # Pooling is per image: batch elements do not interact.
    torch.testing.assert_close(ca(x[1:2]), ca(x)[1:2], **tolerance)


def test_spatial_attention_formula(
    device: torch.device, dtype: torch.dtype, tolerance: dict
) -> None:
    torch.manual_seed(1)
    sa = SpatialAttention(7).to(device, dtype)
    x = torch.randn(2, 8, 9, 10, device=device, dtype=dtype)
    stats = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
    gate = torch.sigmoid(F.conv2d(stats, sa.conv.weight, sa.conv.bias, padding=3))
    torch.testing.assert_close(sa(x), x * gate, **tolerance)


@pytest.mark.parametrize("gate", ["dense", "dwsep"])
def test_micm_matches_eq_6_to_11(
    gate: str, device: torch.device, dtype: torch.dtype, tolerance: dict
) -> None:
    torch.manual_seed(2)
    config = PoMAIConfig(width=8, heads=2, ca_reduction=2, gate=gate)  # type: ignore[arg-type]
    micm = MICM(config).to(device, dtype)
    ir, vis, ngmm, camn = (torch.randn(2, 8, 7, 9, device=device, dtype=dtype)
                           for _ in range(4))
    x_sum = ir + vis
    fpm = torch.cat(
        [micm.fpm.spatial_attention(x_sum) + micm.fpm.channel_attention(x_sum), x_sum], dim=1
    )
    torch.testing.assert_close(micm.fpm(x_sum), fpm, **tolerance)
    w = torch.sigmoid(micm.gate(fpm))
    assert w.shape == (2, 8, 7, 9)  # C gate channels: per-element gating
    expected = torch.cat([(1 - w) * ir + ngmm, w * vis + camn], dim=1)  # IR half first
    torch.testing.assert_close(micm(ir, vis, ngmm, camn), expected, **tolerance)


@pytest.mark.parametrize("gate", ["dense", "dwsep"])
def test_constant_gate_weights_the_modalities(gate: str) -> None:
    """A gate that outputs logit(0.75) everywhere: W·vis gets 0.75, (1 − W)·ir gets 0.25."""
    micm = MICM(PoMAIConfig(width=4, heads=1, ca_reduction=1, gate=gate))  # type: ignore[arg-type]
    last = micm.gate if gate == "dense" else micm.gate[1]
    with torch.no_grad():
        for p in micm.gate.parameters():
            p.zero_()
        last.bias.fill_(math.log(3.0))
    ir, vis, ngmm, camn = (torch.randn(1, 4, 5, 6) for _ in range(4))
    out = micm(ir, vis, ngmm, camn)
    torch.testing.assert_close(out[:, :4], 0.25 * ir + ngmm)
    torch.testing.assert_close(out[:, 4:], 0.75 * vis + camn)


def test_paper_parameter_counts() -> None:
    """Notes §6.2: CA 2,128 + SA 99 + dense 7×7 gate 401,472 = 403,699; dwsep gate 11,456."""
    micm = MICM(PoMAIConfig())
    ca = (64 * 16 + 16) + (16 * 64 + 64)
    sa = 2 * 49 + 1
    dense_gate = 128 * 64 * 49 + 64
    assert (ca, sa, dense_gate) == (2_128, 99, 401_472)
    assert n_params(micm.fpm.channel_attention) == ca
    assert n_params(micm.fpm.spatial_attention) == sa
    assert n_params(micm.gate) == dense_gate
    assert n_params(micm) == 403_699
    dwsep = MICM(PoMAIConfig(gate="dwsep"))
    assert n_params(dwsep.gate) == (128 * 64 + 64) + (64 * 49 + 64) == 11_456
